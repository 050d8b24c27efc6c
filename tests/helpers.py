"""What tests share besides fixtures: the repository's paths, the tiny-model config, the CLI in a subprocess,
quick training overrides and small readers. On the import path through pyproject's `pythonpath = ["tests"]`
(`from helpers import ...`); the fixtures live in conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hrmtrain.config import compose as _compose

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "src" / "hrmtrain" / "conf"
ASSETS = ROOT / "tests" / "assets"  # the seed procedure, and real files from other projects (assets/real)

# Tests run the built-in tiny model (conf/experiment/tiny.yaml) unless they name an experiment: the
# default base is the pretrained SmolLM2, whose runs are the slow tests' business.
TINY = "experiment=tiny"
HYDRA_COMMANDS = {"train", "eval", "pipeline", "retrieval", "loadtest", "export", "data", "report"}


def with_tiny(overrides: list[str]) -> list[str]:
    return overrides if any(o.startswith("experiment=") for o in overrides) else [TINY, *overrides]


def compose(overrides: list[str] | None = None):
    """The config a command runs with (hrmtrain.config.compose), on the tiny model unless an experiment is named."""
    return _compose(with_tiny(list(overrides or [])))


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 600,
            tiny: bool = True) -> subprocess.CompletedProcess:
    """`python -m hrmtrain ARGS`; a stage given Hydra overrides (or none) runs the tiny model unless `tiny=False`."""
    full_env = {**os.environ, **(env or {})}
    if tiny and args and args[0] in HYDRA_COMMANDS and (len(args) == 1 or "=" in args[1] or args[1] == "-m"):
        args = [args[0], *with_tiny(args[1:])]
    return subprocess.run([sys.executable, "-m", "hrmtrain", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def small_train(tmp: Path, name: str, steps: int = 8, extra: list[str] | None = None) -> list[str]:
    """Overrides for a quick tiny-model run under `tmp`."""
    return [TINY, f"data.path={tmp / 'data'}", f"run.dir={tmp / 'runs'}", f"run.name={name}", f"lineage.dir={tmp / 'lineage'}",
            f"trainer.max_steps={steps}", "trainer.batch_size=4", "trainer.eval_every=4",
            "trainer.checkpoint_every=4", "trainer.warmup_steps=2",
            "logging.wandb_mode=disabled", *(extra or [])]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def val_losses(run_dir: Path) -> list[float]:
    """A run's validation losses, in step order, from its metrics.jsonl."""
    return [r["val/loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "val/loss" in r]


def conversation_rows(n: int = 3) -> list[dict]:
    """Single-step household conversations (system, user, tool call, tool result, reply), TRL format."""
    from hrmtrain.data.instruct import build_examples
    from hrmtrain.data.sources.records import Record

    items = ["oat milk", "eggs", "coffee", "bin bags", "apples"]
    records = [Record("shopping", "shopping", "shopping.csv", f"row {i + 1}",
                      {"item": items[i % len(items)], "quantity": i % 3 + 1}) for i in range(n)]
    return build_examples(records, "2026-03-02T09:00")
