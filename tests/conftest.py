"""Fixtures, and the environment every test runs in (hermetic: no hub, no W&B network; one thread per
xdist worker). Shared helpers are in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import compose

# Hermetic: no hub look-ups, no W&B network, no user W&B settings.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The default run spreads test files over two pytest-xdist workers (pyproject addopts: -n 2 --dist loadfile),
# one per core of the 2-core machines this runs on; each worker and the commands it starts then compute
# on one thread, so the two never oversubscribe the cores. The slow tests run alone (-n 0), on every core.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """The train/val/test splits `hrmtrain data` builds from the sample household."""
    from hrmtrain.data.build import build
    from hrmtrain.sample.household import generate

    tmp = tmp_path_factory.mktemp("sample")
    generate(tmp / "household", seed=0)
    build(compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / 'data'}", f"lineage.dir={tmp / 'lineage'}"]))
    return tmp / "data"


@pytest.fixture(scope="session")
def tokenizer():
    from hrmtrain.models.base import ModelSource, load_tokenizer

    return load_tokenizer(ModelSource("tiny", None))


@pytest.fixture
def workdir(tmp_path, sample_data) -> Path:
    """tmp_path with the sample data at tmp_path/data."""
    (tmp_path / "data").symlink_to(sample_data, target_is_directory=True)
    return tmp_path


@pytest.fixture(scope="session")
def eval_results(tmp_path_factory, sample_data) -> dict:
    """Evaluation results of two systems on the same tasks: the scripted oracle and the no-op policy."""
    from hrmtrain.eval.stage import evaluate

    tmp = tmp_path_factory.mktemp("eval-results")
    out = {}
    for policy in ("scripted", "noop"):
        cfg = compose([f"eval.policy={policy}", f"data.path={sample_data}", f"run.dir={tmp}", "eval.max_tasks=12"])
        out[policy] = evaluate(cfg, out=tmp / f"{policy}.json")[1]
    return out
