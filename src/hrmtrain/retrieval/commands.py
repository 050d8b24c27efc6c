"""`hrmtrain retrieval`: the embedder and reranker adapted to the household's documents."""

from __future__ import annotations

from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def run(cfg: HrmConfig) -> None:
    from hrmtrain.retrieval.stage import run as adapt

    adapt(cfg)
