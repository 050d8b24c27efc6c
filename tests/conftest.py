from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hrmtrain.config import compose  # noqa: F401  (tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "src" / "hrmtrain" / "conf"

# Hermetic: no hub look-ups, no W&B network, no user W&B settings.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "hrmtrain", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def small_train(tmp: Path, name: str, steps: int = 8, extra: list[str] | None = None) -> list[str]:
    """Overrides for a quick tiny-model run under `tmp`."""
    return [f"data.path={tmp / 'data'}", f"run.dir={tmp / 'runs'}", f"run.name={name}", f"lineage.dir={tmp / 'lineage'}",
            f"trainer.max_steps={steps}", "trainer.batch_size=4", "trainer.eval_every=4",
            "trainer.checkpoint_every=4", "trainer.warmup_steps=2",
            "logging.wandb_mode=disabled", *(extra or [])]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    from hrmtrain.data.stage import write_sample_dataset

    path = tmp_path_factory.mktemp("sample") / "data"
    return write_sample_dataset(path, rows=96, seed=0)


@pytest.fixture(scope="session")
def tokenizer():
    from hrmtrain.train.model import ModelSource, load_tokenizer

    return load_tokenizer(ModelSource("tiny", None))


@pytest.fixture
def workdir(tmp_path, sample_data) -> Path:
    """tmp_path with the sample data at tmp_path/data."""
    (tmp_path / "data").symlink_to(sample_data, target_is_directory=True)
    return tmp_path
