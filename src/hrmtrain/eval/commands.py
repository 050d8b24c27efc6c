"""`hrmtrain eval` (tasks under the HRM loop and the flat baseline) and `hrmtrain loadtest` (latency and
throughput against an OpenAI-compatible server)."""

from __future__ import annotations

from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def run(cfg: HrmConfig) -> None:
    from hrmtrain.eval.stage import run as evaluate

    evaluate(cfg)


def loadtest(cfg: HrmConfig) -> None:
    from hrmtrain.eval.load_stage import run as load

    load(cfg)
