"""`hrmtrain retrieval`: the embedder and reranker adapted to the household's documents."""

from __future__ import annotations


def run(cfg) -> None:
    from hrmtrain.retrieval.stage import run as adapt

    adapt(cfg)
