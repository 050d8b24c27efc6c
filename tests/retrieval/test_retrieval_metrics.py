"""Retrieval metrics against hand computations and against ir-measures (trec_eval's definitions)."""

from __future__ import annotations

import math

import pytest

from hrmtrain.errors import HrmError
from hrmtrain.retrieval.metrics import evaluate_run, ndcg_at, recall_at, reciprocal_rank_at

RUN = {"q1": ["d3", "d1", "d7", "d2", "d9", "d4"], "q2": ["d5", "d6", "d8"], "q3": ["d1", "d2"]}
QRELS = {"q1": {"d1": 1, "d2": 1, "d4": 1, "d8": 0}, "q2": {"d5": 2, "d8": 1}, "q3": {"d9": 1}}


def test_per_query_values_by_hand():
    # q1: relevant d1 (rank 2), d2 (rank 4), d4 (rank 6); 3 relevant in all
    assert recall_at(RUN["q1"], QRELS["q1"], 5) == pytest.approx(2 / 3)
    assert recall_at(RUN["q1"], QRELS["q1"], 10) == pytest.approx(1.0)
    assert reciprocal_rank_at(RUN["q1"], QRELS["q1"], 10) == pytest.approx(1 / 2)
    assert reciprocal_rank_at(RUN["q1"], QRELS["q1"], 1) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(7)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(RUN["q1"], QRELS["q1"], 10) == pytest.approx(dcg / idcg)
    # q2: graded; d5 (grade 2) first, d8 (grade 1) third
    assert ndcg_at(RUN["q2"], QRELS["q2"], 10) == pytest.approx((2 + 1 / math.log2(4)) / (2 + 1 / math.log2(3)))
    # a judged-irrelevant document (grade 0) is not relevant
    assert recall_at(["d8"], QRELS["q1"], 5) == 0.0


def test_means_over_queries_and_a_query_missing_from_the_run():
    result = evaluate_run(RUN, QRELS)
    assert result["queries"] == 3
    assert result["recall@5"] == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)
    assert result["mrr@10"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    missing = evaluate_run({"q1": RUN["q1"]}, QRELS)
    assert missing["mrr@10"] == pytest.approx((1 / 2) / 3)  # q2 and q3 retrieved nothing


def test_an_empty_query_set_or_a_query_without_positives_is_refused():
    with pytest.raises(HrmError, match="query set is empty"):
        evaluate_run(RUN, {})
    with pytest.raises(HrmError, match="1 of 2 queries have no relevant document .*q9"):
        evaluate_run(RUN, {"q1": QRELS["q1"], "q9": {"d1": 0}})


def test_agrees_with_ir_measures_on_random_graded_runs():
    """200 seeded queries with graded labels (0-3, some judged-irrelevant), runs of varying depth with
    relevant documents missing from them: our means equal ir-measures' to 1e-9."""
    import random

    ir_measures = pytest.importorskip("ir_measures")
    from ir_measures import RR, R, nDCG

    rng = random.Random(7)
    docs = [f"d{i}" for i in range(60)]
    run, qrels = {}, {}
    for q in range(200):
        judged = rng.sample(docs, rng.randint(2, 12))
        grades = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(grades.values()):
            grades[judged[0]] = 1
        qrels[f"q{q}"] = grades
        run[f"q{q}"] = rng.sample(docs, rng.randint(0, 25))
    ours = evaluate_run(run, qrels)
    scored = {q: {d: float(len(ranked) - i) for i, d in enumerate(ranked)} for q, ranked in run.items()}
    theirs = ir_measures.calc_aggregate([R @ 5, R @ 10, RR @ 10, nDCG @ 10], qrels, scored)
    assert ours["recall@5"] == pytest.approx(theirs[R @ 5], abs=1e-9)
    assert ours["recall@10"] == pytest.approx(theirs[R @ 10], abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(theirs[RR @ 10], abs=1e-9)
    assert ours["ndcg@10"] == pytest.approx(theirs[nDCG @ 10], abs=1e-9)
