"""perf.profile: a profiler trace and an operator table of a window of steps, beside the run."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import compose, run_cli, small_train
from hrmtrain.config import ConfigValueError, check_values


def test_profile_writes_trace_and_top_operators(workdir):
    opts = ["perf.profile=true", "perf.profile_wait=1", "perf.profile_warmup=1", "perf.profile_steps=2",
            "trainer.eval_every=100", "trainer.checkpoint_every=100"]
    res = run_cli(["train", *small_train(workdir, "prof", steps=6, extra=opts)], workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    out = workdir / "runs" / "prof" / "profile"
    trace = json.loads((out / "trace.json").read_text())
    names = {e.get("name") for e in trace["traceEvents"]}
    assert "ProfilerStep#2" in names and "ProfilerStep#3" in names  # the recorded window: steps 3 and 4
    assert "ProfilerStep#1" not in names and "ProfilerStep#4" not in names  # warm-up and after: not kept
    table = (out / "top_ops.txt").read_text()
    assert "Self CPU" in table and "aten::" in table
    rows = json.loads((out / "top_ops.json").read_text())
    assert rows == sorted(rows, key=lambda r: -r["self_cpu_ms"]) and len(rows) <= 25
    assert any(r["op"] in ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear") for r in rows)
    summary = json.loads((workdir / "runs" / "prof" / "summary.json").read_text())
    assert summary["profile"] == str(out)
    assert "profile of 2 steps" in res.stdout


def test_a_run_shorter_than_the_window_says_so(workdir):
    opts = ["perf.profile=true", "perf.profile_wait=5", "perf.profile_steps=5"]
    res = run_cli(["train", *small_train(workdir, "short", steps=3, extra=opts)], workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ended before the profiled window" in res.stdout
    assert not (workdir / "runs" / "short" / "profile" / "trace.json").exists()


def test_profile_window_values_are_checked():
    with pytest.raises(ConfigValueError, match="perf.profile_steps"):
        check_values(compose(["perf.profile_steps=0"]))
    with pytest.raises(ConfigValueError, match="perf.profile_wait"):
        check_values(compose(["perf.profile_wait=-1"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA kernels and memory are profiled only on a GPU")
def test_profile_records_cuda_kernels_and_memory(workdir):
    opts = ["perf.profile=true", "perf.profile_wait=1", "perf.profile_warmup=1", "perf.profile_steps=2",
            "trainer.device=cuda"]
    res = run_cli(["train", *small_train(workdir, "prof_gpu", steps=6, extra=opts)], workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads((workdir / "runs" / "prof_gpu" / "profile" / "top_ops.json").read_text())
    assert any(r["self_device_ms"] > 0 for r in rows) and any(r["cuda_memory_mb"] != 0 for r in rows)
