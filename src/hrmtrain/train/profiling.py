"""`perf.profile=true`: a PyTorch profiler trace of a window of training steps, written beside the run.

torch.profiler with a schedule (skip `perf.profile_wait` steps, warm up `perf.profile_warmup`, record
`perf.profile_steps`), so the trace shows steady-state steps, not the first one's allocations and
lazy initialisation. Out: `<run>/profile/trace.json` (Chrome trace format: chrome://tracing or
Perfetto), `<run>/profile/top_ops.txt` (the operators by self time, the table `key_averages()` prints)
and `top_ops.json` (the same rows as data). On a GPU it records CUDA kernels and memory too.
Only rank 0 profiles.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

SUBDIR = "profile"
TOP_ROWS = 25


class StepProfiler:
    """Context manager around the training loop; call `step()` after every optimizer step."""

    def __init__(self, run_dir: Path, wait: int, warmup: int, active: int, device: torch.device):
        from torch.profiler import ProfilerActivity, profile, schedule

        self.out = Path(run_dir) / SUBDIR
        self.cuda = device.type == "cuda"
        self.sort_key = "self_device_time_total" if self.cuda else "self_cpu_time_total"
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
        self.done = False
        self.profiler = profile(activities=activities, record_shapes=True, profile_memory=self.cuda,
                                schedule=schedule(wait=wait, warmup=warmup, active=active, repeat=1),
                                on_trace_ready=self._write)

    def _write(self, prof) -> None:
        from hrmtrain import atomic

        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.out / "trace.json.tmp"
        prof.export_chrome_trace(str(tmp))
        tmp.replace(self.out / "trace.json")
        averages = prof.key_averages()
        atomic.write_text(self.out / "top_ops.txt", averages.table(sort_by=self.sort_key, row_limit=TOP_ROWS))
        rows = sorted(averages, key=lambda e: getattr(e, self.sort_key), reverse=True)
        atomic.write_text(self.out / "top_ops.json", json.dumps([{
            "op": e.key, "calls": e.count,
            "self_cpu_ms": e.self_cpu_time_total / 1000, "cpu_ms": e.cpu_time_total / 1000,
            **({"self_device_ms": e.self_device_time_total / 1000,
                "cuda_memory_mb": e.self_device_memory_usage / 2**20} if self.cuda else {}),
        } for e in rows[:TOP_ROWS]], indent=1))
        self.done = True

    def __enter__(self):
        self.profiler.__enter__()
        return self

    def __exit__(self, *exc):
        return self.profiler.__exit__(*exc)

    def step(self) -> None:
        self.profiler.step()


def step_profiler(perf, run_dir: Path, device: torch.device, is_main: bool):
    """A StepProfiler when `perf.profile` is on (rank 0), else a no-op context with a `step()`."""
    if not (perf.profile and is_main):
        return _NoProfiler()
    return StepProfiler(run_dir, perf.profile_wait, perf.profile_warmup, perf.profile_steps, device)


class _NoProfiler(contextlib.nullcontext):
    done = False

    def __enter__(self):
        return self

    def step(self) -> None:
        pass
