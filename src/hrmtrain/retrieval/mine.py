"""Hard negatives: candidates from the embedder, optionally rescored by the reranker, filtered by a rule.

The rule (retrieval.mining in the config) is sentence-transformers' `mine_hard_negatives` rule as of
6.3 (the version in requirements.lock): the embedder's top range_max + (most positives of any query) + 1
chunks of the training documents are the candidates (the extra one makes room for a chunk equal to the
query, which 6.3 excludes); a query's own positives and a chunk whose text is the query itself are never
negatives; a candidate scoring within `relative_margin` of the query's weakest positive
(score > positive - |positive| * margin) is dropped as a likely false negative; of the rest, best
first, the first `range_min` are skipped and the next `num_negatives` kept.
6.2 fetched one candidate fewer and did not exclude the query's own text, so where a query's margin
left fewer than num_negatives candidates 6.3 can find one more; we follow 6.3 on purpose, since a chunk
identical to the question is a positive in disguise, never a hard negative.

Why not `sentence_transformers.util.mine_hard_negatives` itself: with a cross-encoder it calls
`predict` once per query (range_max pairs at a time); on this CPU that re-scoring was ~95% of the
mining time. Here every (query, candidate) pair of the whole set goes through one `predict` call,
each pair once (a query's positives are mostly among its candidates: sentence-transformers scores them
twice), so batches are full and length-sorted across queries, under bf16 autocast where the device has
native bf16 (embed.inference_autocast). `benchmarks/mining_throughput.py`
compares the two in queries/s; the test suite checks they choose the same negatives without a
cross-encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrmtrain.retrieval.corpus import Chunk
from hrmtrain.retrieval.queries import Query


@dataclass
class MiningRule:
    range_min: int = 0  # skip the best surviving candidates (often unlabelled positives)
    range_max: int = 30  # candidates: the embedder's top range_max (+ the query's positives)
    relative_margin: float = 0.05  # drop candidates within this fraction of the weakest positive's score
    num_negatives: int = 3


@dataclass
class Mined:
    query: Query
    negatives: list[str]  # chunk ids, hardest first
    scores: list[float]  # their scores (reranker's where rescored)
    positive_score: float


def mine(embedder, queries: list[Query], chunks: list[Chunk], rule: MiningRule, reranker=None,
         batch_size: int = 64, progress: bool = False) -> list[Mined]:
    """Hard negatives for each query over `chunks` (pass only training documents' chunks)."""
    from hrmtrain.retrieval.embed import build_index, encode, inference_autocast

    by_id = {c.id: i for i, c in enumerate(chunks)}
    corpus = encode(embedder, [c.text for c in chunks], batch_size=batch_size, progress=progress)
    index = build_index(corpus)
    qvec = encode(embedder, [q.text for q in queries], batch_size=batch_size)
    pos_idx = [[by_id[p] for p in q.positives if p in by_id] for q in queries]
    k = min(rule.range_max + max((len(p) for p in pos_idx), default=0) + 1, len(chunks))
    scores, ids = index.search(qvec, k)
    candidates = [[int(i) for i in row if i >= 0] for row in ids]
    cand_scores = [[float(s) for s in row[:len(c)]] for row, c in zip(scores, candidates)]
    if reranker is None:
        pos_scores = [min(float(qvec[n] @ corpus[i]) for i in pos) if pos else float("inf")
                      for n, pos in enumerate(pos_idx)]
    else:
        # each (query, chunk) pair once: a query's positives are usually among its candidates as well
        slot: dict[tuple[int, int], int] = {}
        for n, (cand, pos) in enumerate(zip(candidates, pos_idx)):
            for i in (*cand, *pos):
                slot.setdefault((n, i), len(slot))
        pairs = [(queries[n].text, chunks[i].text) for n, i in slot]
        with inference_autocast():
            flat = reranker.predict(pairs, batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True)
        flat = [float(x) for x in np.asarray(flat).reshape(-1)]
        cand_scores = [[flat[slot[n, i]] for i in cand] for n, cand in enumerate(candidates)]
        pos_scores = [min(flat[slot[n, i]] for i in pos) if pos else float("inf") for n, pos in enumerate(pos_idx)]
    out = []
    for q, cand, cs, pos, ps in zip(queries, candidates, cand_scores, pos_idx, pos_scores):
        threshold = ps - abs(ps) * rule.relative_margin
        kept = sorted(((s, i) for s, i in zip(cs, cand)
                       if i not in pos and chunks[i].text != q.text and s <= threshold), key=lambda x: -x[0])
        kept = kept[rule.range_min:rule.range_min + rule.num_negatives]
        out.append(Mined(q, [chunks[i].id for _, i in kept], [s for s, _ in kept], ps))
    return out


def tuples(mined: list[Mined], text: dict[str, str], rng) -> list[tuple[str, ...]]:
    """(query, positive, negative_1..n) rows for MNRL: only queries with the full number of negatives, so
    every row has the same width (the loss takes a fixed number of columns)."""
    width = max((len(m.negatives) for m in mined), default=0)
    return [(m.query.text, text[rng.choice(m.query.positives)], *(text[n] for n in m.negatives))
            for m in mined if width and len(m.negatives) == width]
