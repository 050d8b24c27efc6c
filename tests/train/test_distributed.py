"""DDP and FSDP2 under torchrun (2 CPU processes over gloo) train like one process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import compose, read_jsonl, small_train
from hrmtrain.errors import HrmError
from hrmtrain.train.distributed import check_membership
from hrmtrain.train.stage import train

STEPS = 4


@pytest.fixture(scope="module")
def single(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("single")
    (tmp / "data").symlink_to(sample_data)
    result = train(compose(small_train(tmp, "single", steps=STEPS, extra=["trainer.batch_size=4"])))
    return [r for r in read_jsonl(result.run_dir / "metrics.jsonl") if "train/loss" in r]


def _torchrun(workdir, name, steps, extra=()):
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "hrmtrain", "train", *small_train(workdir, name, steps=steps, extra=["trainer.batch_size=2", *extra])]
    res = subprocess.run(args, cwd=workdir, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-4000:]
    return res


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one(strategy, single, workdir):
    res = _torchrun(workdir, strategy, STEPS, [f"trainer.strategy={strategy}"])
    assert f"processes=2 ({strategy})" in res.stdout
    rows = [r for r in read_jsonl(workdir / "runs" / strategy / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    for got, want in zip(rows, single):
        # Same global batch of 4, split 2 + 2, so the same token-mean loss; what differs is the order of
        # the sums (per rank, then all-reduced) and, where trainer.precision=auto picks bf16, bf16's
        # 8-bit mantissa (relative rounding 2^-8 = 0.4% per operation, far less after averaging): 0.5%.
        assert got["train/loss"] == pytest.approx(want["train/loss"], rel=5e-3)
    assert (workdir / "runs" / strategy / "model" / "model.safetensors").is_file()


# slow: two torchrun launches of two processes each (62 s on an AVX2 EPYC under the default run's two workers)
@pytest.mark.slow
def test_fsdp_checkpoint_resumes_where_it_stopped(single, workdir):
    """Sharded checkpoint (each rank writes its shard) at step 2, a new torchrun resumes it to step 4:
    steps 3 and 4 give the losses the uninterrupted run gives."""
    _torchrun(workdir, "fsdp-resume", 2, ["trainer.strategy=fsdp", "trainer.checkpoint_every=2"])
    shards = list((workdir / "runs" / "fsdp-resume" / "checkpoints" / "step_00000002").glob("*.distcp"))
    assert len(shards) == 2, shards  # one file per rank
    res = _torchrun(workdir, "fsdp-resume", STEPS, ["trainer.strategy=fsdp", "trainer.resume=true"])
    assert "resuming" in res.stdout and "from step 2" in res.stdout
    rows = [r for r in read_jsonl(workdir / "runs" / "fsdp-resume" / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    for got, want in zip(rows[2:], single[2:]):
        assert got["train/loss"] == pytest.approx(want["train/loss"], rel=5e-3)


def test_a_rank_outside_the_group_is_refused(monkeypatch):
    """The membership check itself, on a real one-process gloo group: a launcher that claims two
    processes where the group has one is refused with the rank named."""
    import torch
    import torch.distributed as dist

    store = dist.HashStore()
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        check_membership(0, 1, torch.device("cpu"))  # consistent: passes
        with pytest.raises(HrmError, match="torchrun says rank 0 of 2, the group says rank 0 of 1"):
            check_membership(0, 2, torch.device("cpu"))
    finally:
        dist.destroy_process_group()
