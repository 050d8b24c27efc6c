"""Run folders: where a stage finds the run it works on."""

from __future__ import annotations

from pathlib import Path

from hrmtrain.errors import HrmError


def latest_run(root: Path) -> Path:
    """The newest training run under `root` (a folder with `metrics.jsonl`)."""
    found = sorted((p for p in Path(root).glob("*") if (p / "metrics.jsonl").is_file()), key=lambda p: p.stat().st_mtime)
    if not found:
        raise HrmError(f"{root}: no training runs found")
    return found[-1]
