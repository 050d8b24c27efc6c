"""DDP and FSDP2 under torchrun (2 CPU processes over gloo) train like one process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import compose, read_jsonl, small_train
from hrmtrain.train.stage import train

STEPS = 4


@pytest.fixture(scope="module")
def single(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("single")
    (tmp / "data").symlink_to(sample_data)
    result = train(compose(small_train(tmp, "single", steps=STEPS, extra=["trainer.batch_size=4"])))
    return [r for r in read_jsonl(result.run_dir / "metrics.jsonl") if "train/loss" in r]


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one(strategy, single, workdir):
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "hrmtrain", "train",
            *small_train(workdir, strategy, steps=STEPS, extra=["trainer.batch_size=2", f"trainer.strategy={strategy}"])]
    res = subprocess.run(args, cwd=workdir, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-4000:]
    assert f"processes=2 ({strategy})" in res.stdout
    rows = [r for r in read_jsonl(workdir / "runs" / strategy / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    for got, want in zip(rows, single):
        # same global batch of 4, split 2 + 2: the same token-mean loss up to bf16 rounding
        assert got["train/loss"] == pytest.approx(want["train/loss"], rel=5e-3)
    assert (workdir / "runs" / strategy / "model" / "model.safetensors").is_file()
