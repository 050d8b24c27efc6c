"""Hard-negative mining against sentence-transformers' own `mine_hard_negatives`, the rule's parts, the
batched re-scoring with a real cross-encoder, the reranker's training lists, and reranking."""

from __future__ import annotations

import random

import pytest

from hrmtrain.retrieval.corpus import Chunk
from hrmtrain.retrieval.embed import build_index, default_embedder, encode, inference_autocast, load_embedder
from hrmtrain.retrieval.judge import Judgements
from hrmtrain.retrieval.mine import MiningRule, mine, tuples
from hrmtrain.retrieval.queries import Query
from hrmtrain.retrieval.rerank import new_reranker, rerank
from hrmtrain.retrieval.stage import rerank_lists

TOPICS = ["dishwasher", "washing machine", "tumble dryer", "oven", "boiler", "router", "fridge", "microwave"]
SECTIONS = [("Error codes", "E{n}: the {p} is blocked."), ("Cleaning", "Clean the {p} every {n} weeks."),
            ("Warranty", "The guarantee lasts {n} years."), ("Installation", "Leave {n} cm around it.")]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(default_embedder())


@pytest.fixture(scope="module")
def data():
    rng = random.Random(3)
    chunks, queries = [], []
    for t in TOPICS:
        for h, body in SECTIONS:
            n = rng.randint(2, 40)
            cid = f"{t}-{h}"
            chunks.append(Chunk(cid, f"public/{t}.md", f"{t} manual\n{h}\n" + body.format(n=n, p="filter")))
    for t in TOPICS:
        queries.append(Query(f"q-{t}-1", f"how often do I clean the {t} filter", f"public/{t}.md", [f"{t}-Cleaning"]))
        queries.append(Query(f"q-{t}-2", f"what does the error on the {t} mean", f"public/{t}.md",
                             [f"{t}-Error codes", f"{t}-Cleaning"]))  # two positives
    # a chunk that is one of the questions word for word (an FAQ page): never a negative (sentence-transformers 6.3)
    chunks.append(Chunk("faq-oven", "public/faq.md", queries[6].text))
    return chunks, queries


def _theirs(embedder, chunks, queries, rule):
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    text = {c.id: c.text for c in chunks}
    rows = [(q.text, text[p]) for q in queries for p in q.positives]
    ds = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    out = mine_hard_negatives(ds, embedder, corpus=[c.text for c in chunks], range_min=rule.range_min,
                              range_max=rule.range_max, relative_margin=rule.relative_margin,
                              num_negatives=rule.num_negatives, sampling_strategy="top", output_format="triplet",
                              verbose=False)
    chosen: dict[str, list[str]] = {}
    for row in out:
        negs = chosen.setdefault(row["anchor"], [])
        if row["negative"] not in negs:
            negs.append(row["negative"])
    return chosen


def _ours(embedder, chunks, queries, rule):
    text = {c.id: c.text for c in chunks}
    mined = {m.query.text: [text[n] for n in m.negatives] for m in mine(embedder, queries, chunks, rule)}
    return {q: n for q, n in mined.items() if n}


# "no-margin": a negative margin puts the threshold above every score, so only the exclusion of positives and
# of the question's own text keeps the FAQ chunk (cosine 1.0) out
RULES = [MiningRule(0, 10, 0.05, 3), MiningRule(2, 12, 0.0, 2), MiningRule(0, 30, 0.3, 4), MiningRule(0, 10, -1.0, 3)]


@pytest.mark.parametrize("rule", RULES, ids=["default-like", "range_min", "wide-margin", "no-margin"])
def test_same_negatives_as_sentence_transformers(embedder, data, rule):
    chunks, queries = data
    assert _ours(embedder, chunks, queries, rule) == _theirs(embedder, chunks, queries, rule)


def test_the_comparison_notices_a_different_rule(embedder, data):
    """The data are discriminating: a rule off by one in any part chooses other negatives than theirs."""
    chunks, queries = data
    theirs = _theirs(embedder, chunks, queries, MiningRule(0, 10, 0.05, 3))
    for other in [MiningRule(1, 10, 0.05, 3), MiningRule(0, 10, 0.0, 3), MiningRule(0, 10, 0.05, 2),
                  MiningRule(0, 2, 0.05, 3)]:
        assert _ours(embedder, chunks, queries, other) != theirs, other


def test_positives_are_never_negatives_and_the_margin_holds(embedder, data):
    chunks, queries = data
    mined = mine(embedder, queries, chunks, MiningRule(0, 30, 0.1, 5))
    for m in mined:
        assert not set(m.negatives) & set(m.query.positives)
        assert all(s <= m.positive_score - abs(m.positive_score) * 0.1 + 1e-6 for s in m.scores)
        assert m.scores == sorted(m.scores, reverse=True)
    # a margin of 0.99 leaves only candidates far below the positive: fewer negatives
    strict = mine(embedder, queries, chunks, MiningRule(0, 30, 0.99, 5))
    assert sum(len(m.negatives) for m in strict) < sum(len(m.negatives) for m in mined)


def test_rescoring_with_a_cross_encoder_uses_its_scores_in_one_batched_call(embedder, data):
    chunks, queries = data
    ce = new_reranker(default_embedder(), 64)
    calls = []
    predict = ce.predict

    def counting(pairs, **kw):
        calls.append(len(pairs))
        return predict(pairs, **kw)

    ce.predict = counting
    mined = mine(embedder, queries, chunks, MiningRule(0, 8, 0.0, 2), reranker=ce)
    assert len(calls) == 1  # every query's candidates and positives in one call
    depth = min(8 + max(len(q.positives) for q in queries) + 1, len(chunks))  # range_max + the most positives + 1
    # each pair once: a positive among the embedder's candidates is not scored again
    index = build_index(encode(embedder, [c.text for c in chunks]))
    _, ids = index.search(encode(embedder, [q.text for q in queries]), depth)
    expected = sum(len({chunks[int(i)].id for i in row} | set(q.positives)) for q, row in zip(queries, ids))
    assert expected < sum(depth + len(q.positives) for q in queries)  # some positive was a candidate too
    assert calls[0] == expected
    m = mined[0]
    text = {c.id: c.text for c in chunks}

    with inference_autocast():  # the miner scores under the same precision rule
        direct = [float(x) for x in predict([(m.query.text, text[n]) for n in m.negatives])]
    assert direct == pytest.approx(m.scores, abs=1e-4)


def test_tuples_have_one_width_and_the_reranker_lists_carry_labels(embedder, data):
    chunks, queries = data
    text = {c.id: c.text for c in chunks}
    mined = mine(embedder, queries, chunks, MiningRule(0, 10, 0.05, 2))
    rows = tuples(mined, text, random.Random(0))
    assert rows and all(len(r) == 4 for r in rows)
    q = mined[1].query  # two positives
    judged = Judgements(grades={(q.id, mined[1].negatives[0]): 2})
    lists = rerank_lists(mined, text, 2, judged)
    query_text, docs, labels = next(x for x in lists if x[0] == q.text)
    assert labels == [1.0, 1.0, 1.0, 0.0]  # two positives, the judged negative (grade 2) relabelled 1.0
    assert docs[:2] == [text[p] for p in q.positives]


def test_rerank_reorders_only_the_top_candidates(data):
    chunks, _ = data
    text = {c.id: c.text for c in chunks}

    class Fake:  # a scorer that prefers longer chunks: the order it gives is easy to predict
        def predict(self, pairs, **kw):
            return [len(p[1]) for p in pairs]

    run = {"q": [c.id for c in chunks[:6]]}
    out = rerank(Fake(), {"q": "anything"}, run, text, top_k=3)["q"]
    head = sorted(run["q"][:3], key=lambda c: -len(text[c]))
    assert out == head + run["q"][3:]
