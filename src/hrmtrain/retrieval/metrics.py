"""Ranking metrics of the retrieval stage: Recall@k, MRR@k and nDCG@k over a set of queries.

`run`: query id -> document ids in ranked order (best first); `qrels`: query id -> {document id:
relevance grade} (grade > 0 is relevant; binary labels are grade 1). Definitions as in TREC tools
(trec_eval, ir-measures, ranx): Recall@k = relevant retrieved in the top k / all relevant; MRR@k =
1 / rank of the first relevant document in the top k, else 0; nDCG@k with gain = grade and
discount 1 / log2(rank + 1), normalised by the ideal ordering of the judged documents. A query with
no relevant document has no defined recall or nDCG: it is refused, so that a broken query set is
reported rather than averaged in as zeros.
"""

from __future__ import annotations

import math

from hrmtrain.errors import HrmError


def _relevant(judged: dict[str, float]) -> dict[str, float]:
    return {doc: grade for doc, grade in judged.items() if grade > 0}


def recall_at(ranked: list[str], judged: dict[str, float], k: int) -> float:
    relevant = _relevant(judged)
    return sum(1 for doc in ranked[:k] if doc in relevant) / len(relevant)


def reciprocal_rank_at(ranked: list[str], judged: dict[str, float], k: int) -> float:
    relevant = _relevant(judged)
    return next((1.0 / rank for rank, doc in enumerate(ranked[:k], start=1) if doc in relevant), 0.0)


def ndcg_at(ranked: list[str], judged: dict[str, float], k: int) -> float:
    relevant = _relevant(judged)
    dcg = sum(relevant.get(doc, 0.0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    return dcg / idcg


def evaluate_run(run: dict[str, list[str]], qrels: dict[str, dict[str, float]],
                 ks: tuple[int, ...] = (5, 10)) -> dict[str, float]:
    """Means over the judged queries: `recall@k` for each k, `mrr@10`, `ndcg@10`, and `queries`.
    A judged query missing from `run` counts as retrieving nothing."""
    if not qrels:
        raise HrmError("no judged queries: the query set is empty")
    empty = sorted(q for q, judged in qrels.items() if not _relevant(judged))
    if empty:
        raise HrmError(f"{len(empty)} of {len(qrels)} queries have no relevant document "
                       f"(e.g. {', '.join(empty[:3])}); recall and nDCG are undefined for them")
    n = len(qrels)
    out = {f"recall@{k}": sum(recall_at(run.get(q, []), qrels[q], k) for q in qrels) / n for k in ks}
    out["mrr@10"] = sum(reciprocal_rank_at(run.get(q, []), qrels[q], 10) for q in qrels) / n
    out["ndcg@10"] = sum(ndcg_at(run.get(q, []), qrels[q], 10) for q in qrels) / n
    out["queries"] = n
    return out
