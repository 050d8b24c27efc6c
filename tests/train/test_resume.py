"""Kill a training run with SIGKILL mid-way, resume it, and it continues as if never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import compose, read_jsonl, run_cli, small_train
from hrmtrain.errors import CheckpointError
from hrmtrain.train import checkpoint
from hrmtrain.train.distributed import DistInfo
from hrmtrain.train.stage import train

STEPS = 8  # a checkpoint every 4 steps (small_train): killed after the first, resumed to the end


def _kill_after_checkpoint(tmp, name: str, step: int) -> None:
    args = [sys.executable, "-m", "hrmtrain", "train", *small_train(tmp, name, steps=STEPS)]
    proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = tmp / "runs" / name / "checkpoints" / f"step_{step:08d}"
    deadline = time.time() + 300
    while not ckpt.is_dir():
        if proc.poll() is not None:
            pytest.fail(f"training ended before the checkpoint appeared: {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("no checkpoint within 300 s")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


# slow: a killed run, its resumption and an uninterrupted reference run (62 s on an AVX2 EPYC under two workers)
@pytest.mark.slow
def test_resume_after_sigkill_continues_steps_schedule_and_loss(workdir):
    reference = train(compose(small_train(workdir, "reference", steps=STEPS)))
    ref_rows = read_jsonl(reference.run_dir / "metrics.jsonl")

    _kill_after_checkpoint(workdir, "killed", step=4)
    run = workdir / "runs" / "killed"
    assert not (run / "model").exists()
    res = run_cli(["train", *small_train(workdir, "killed", steps=STEPS), "trainer.resume=true"], cwd=workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming" in res.stdout and "from step 4" in res.stdout

    rows = read_jsonl(run / "metrics.jsonl")
    train_rows = [r for r in rows if "train/loss" in r]
    ref_train = [r for r in ref_rows if "train/loss" in r]
    assert [r["step"] for r in train_rows] == list(range(1, STEPS + 1))  # no gap, no repeat
    for got, want in zip(train_rows, ref_train):
        assert got["train/lr"] == pytest.approx(want["train/lr"], rel=1e-9)
        assert got["train/loss"] == pytest.approx(want["train/loss"], rel=1e-4, abs=1e-5)
    val = [(r["step"], r["val/loss"]) for r in rows if "val/loss" in r]
    ref_val = [(r["step"], r["val/loss"]) for r in ref_rows if "val/loss" in r]
    assert [s for s, _ in val] == [s for s, _ in ref_val]
    assert [v for _, v in val] == pytest.approx([v for _, v in ref_val], rel=1e-4)
    assert (run / "model" / "model.safetensors").is_file()


def test_resume_refuses_a_changed_model_config(workdir):
    train(compose(small_train(workdir, "a", steps=4)))
    with pytest.raises(CheckpointError, match="model"):
        train(compose(small_train(workdir, "a", steps=8, extra=["trainer.resume=true", "model.tiny.hidden_size=32"])))


def test_corrupt_checkpoint_is_named(workdir):
    train(compose(small_train(workdir, "c", steps=4)))
    ckpt = workdir / "runs" / "c" / "checkpoints" / "step_00000004"
    for f in ckpt.glob("*.distcp"):
        f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as exc:
        train(compose(small_train(workdir, "c", steps=8, extra=["trainer.resume=true"])))
    assert str(ckpt) in str(exc.value)


def test_resume_without_checkpoint_says_so(workdir):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(compose(small_train(workdir, "never", steps=4, extra=["trainer.resume=true"])))


def test_a_checkpoint_that_cannot_be_written_is_named_and_leaves_the_earlier_ones(tmp_path):
    """A real write failure (the file-size limit makes the kernel refuse the write, as a full disk would): the
    error names the step folder and the free space, no half-written folder stays, the earlier checkpoint loads."""
    import resource

    import torch

    torch.manual_seed(0)
    model = torch.nn.Linear(256, 256)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 256)).sum().backward()
    opt.step()
    info = DistInfo()
    first = checkpoint.save(tmp_path, 1, model, opt, {"step": 1}, info, keep=2)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))  # the weights alone are 257 KB
    try:
        with pytest.raises(CheckpointError) as exc:
            checkpoint.save(tmp_path, 2, model, opt, {"step": 2}, info, keep=2)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    msg = str(exc.value)
    assert str(tmp_path / "step_00000002") in msg and "GB free on its disk" in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]
    fresh = torch.nn.Linear(256, 256)
    fresh_opt = torch.optim.AdamW(fresh.parameters())
    assert checkpoint.load(first, fresh, fresh_opt, info) == {"step": 1}
    assert torch.equal(fresh.weight, model.weight)
