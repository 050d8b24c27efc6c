"""Run folders: `run.dir/<name>/`, one per training run, which later stages add to (eval/, retrieval/,
export/, humaneval/, report.html). Every stage finds its run here, the same way:

- a path the stage's own setting names (`export.run=...`), else
- `run.dir/run.name` when `run.name` is set, else
- the newest run under `run.dir` that has what the stage `needs` (a path inside the run: `metrics.jsonl`
  for a trained run, `model/config.json` for a saved model, `checkpoints` to resume), newest by when that
  was written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hrmtrain.errors import HrmError

TRAINED = "metrics.jsonl"
SAVED_MODEL = "model/config.json"


def new_run_name(prefix: str) -> str:
    """`<prefix>-YYYYmmdd-HHMMSS`: a new run's folder name."""
    return f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}"


def runs_with(root: Path, needs: str, check: Callable[[Path], bool] | None = None) -> list[Path]:
    """The run folders under `root` that have `needs` (and pass `check`, given the run folder), oldest first
    by the time `needs` was written."""
    found = []
    for run in Path(root).glob("*"):
        marker = run / needs
        if marker.exists() and (check is None or check(run)):
            found.append((marker.stat().st_mtime_ns, run))
    return [run for _, run in sorted(found)]


def find_run(run_cfg, needs: str, explicit: str | Path | None = None, setting: str = "run.name",
             check: Callable[[Path], bool] | None = None, none_found: str | None = None) -> Path:
    """The run folder a stage works on (module docstring). `run_cfg` is the config's `run` slice; `explicit`
    the stage's own setting (named `setting` in messages). The folder must exist; `needs` is required only
    of the newest-run search (a named run may be about to gain it). `none_found`: what to say when that
    search finds nothing (after `run.dir: `)."""
    if explicit:
        path = Path(explicit)
    elif run_cfg.name:
        path = Path(run_cfg.dir) / run_cfg.name
    else:
        found = runs_with(Path(run_cfg.dir), needs, check)
        if not found:
            raise HrmError(f"{run_cfg.dir}: " + (none_found or f"no run under it has {needs} (name one with {setting}=...)"))
        path = found[-1]
    if not path.is_dir():
        raise HrmError(f"{path}: no such run folder (set {setting}=PATH or run.name=NAME)")
    return path


def trained_model_config(run_dir: Path, fallback):
    """The `model` section the run was trained with (its config.yaml), typed; `fallback` (the current
    config's `model`) for a run folder without one. A later stage that needs the base (to compare with
    it) must take the run's base, not whatever `model.base` is on today's command line."""
    from omegaconf import OmegaConf

    from hrmtrain.config import ModelConfig

    saved = Path(run_dir) / "config.yaml"
    if not saved.is_file():
        return fallback
    section = OmegaConf.load(saved).get("model")
    if section is None:
        return fallback
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), section))
