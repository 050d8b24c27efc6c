"""`hrmtrain eval` (tasks under the HRM loop and the flat baseline; `suite=bfcl`: BFCL's own suite) and `hrmtrain loadtest` (latency and
throughput against an OpenAI-compatible server)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def run(cfg: HrmConfig) -> Path | None:
    """The evaluation eval.suite names; returns the run folder whose report gains a section, if any."""
    if str(cfg.eval.suite) == "bfcl":
        from hrmtrain.eval.bfcl.stage import run as bfcl

        run_dir = bfcl(cfg)["run_dir"]
        return Path(run_dir) if run_dir else None
    from hrmtrain.eval.stage import run as evaluate

    evaluate(cfg)
    return None


def loadtest(cfg: HrmConfig) -> None:
    from hrmtrain.eval.load_stage import run as load

    load(cfg)
