"""`hrmtrain plan` against the peak memory of real training runs on this CPU, counted two ways.

    python benchmarks/memory_peak.py                 # SmolLM2-135M, full fine-tuning and LoRA, 3 steps
    python benchmarks/memory_peak.py --model tiny

The plan (train/memory_plan.py) counts tensors: weights, gradients, optimizer state, the activations a step
saves, the loss, validation. On a GPU the matching measurement is `torch.cuda.max_memory_allocated`. A CPU
has no such counter, and its peak RSS adds what glibc's allocator keeps of freed memory (benchmarks/README.md:
on SmolLM2 up to 3 GB, depending on the order of allocations; the SFT benchmark compares the whole plan with
peak RSS). Here each run, in a fresh process, is measured by its **live tensors**: torch.profiler with
`profile_memory=True` records every CPU allocation and free of the run (started before the model is built,
so weights and optimizer state are counted); the peak of their running sum is the CPU's
`max_memory_allocated`, and the plan without its `runtime` term (the process itself) is compared to it.
The process's RSS is not reported: the profiler's own records of millions of allocations inflate it.

Each run is `hrmtrain train` (hrmtrain.train.stage.train) with the SFT benchmark's settings
(sft_throughput.py: the same data, steps and batches), and the plan is that of the run's step that needs most
(each step planned with its tokens and its labelled positions: with the tiny model's 151,936-token vocabulary
the step with the most labelled positions, not the longest, sets the peak).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sft_throughput as sft  # noqa: E402 - the SFT benchmark's data, base and plan check

VARIANTS = {"full": [], "lora": ["model.lora.enabled=true"]}


def live_peak(kineto_events) -> tuple[int, list[str]]:
    """Peak of the running sum of CPU allocations (+) and frees (-) the profiler recorded, in time order,
    and the operators running at that moment (outermost first: where the peak is)."""
    from torch.autograd import DeviceType

    events = list(kineto_events)
    deltas = sorted((e.start_ns(), e.nbytes()) for e in events
                    if e.name() == "[memory]" and e.device_type() == DeviceType.CPU)
    live = peak = 0
    at = None
    for t, delta in deltas:
        live += delta
        if live > peak:
            peak, at = live, t
    around = sorted((e.start_ns(), e.name()) for e in events
                    if e.name() != "[memory]" and at is not None and e.start_ns() <= at <= e.end_ns())
    return peak, [name for _, name in around][:6]


def worker(spec: dict, variant: str) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from hrmtrain.train.stage import train

    torch.set_num_threads(spec["threads"])
    out = Path(spec["workdir"]) / f"run-{variant}-{os.getpid()}"
    steps = spec["steps"]
    cfg = sft.compose_for(spec, [f"run.dir={out}", "run.name=peak", f"lineage.dir={out / 'lineage'}",
                                 f"trainer.max_steps={steps}", f"trainer.precision={spec['precision']}",
                                 f"trainer.eval_every={steps}", f"trainer.checkpoint_every={steps}",
                                 "trainer.eval_tasks_every=0", f"trainer.val_subset={sft.VAL_SUBSET}",
                                 "trainer.warmup_steps=0",
                                 "logging.wandb_mode=disabled", *sft.HRM_BASE, *VARIANTS[variant]])
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        train(cfg)
    peak, where = live_peak(prof.profiler.kineto_results.events())
    return {"live_peak_bytes": peak, "live_peak_in": where}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=list(sft.MODELS), default="smollm2")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.spec.read_text()), args.worker)))
        return

    import torch

    from hrmtrain.models.precision import resolve

    precision = resolve("auto", "cpu")[0]
    cpu = sft.cpu_info()
    print(f"CPU: {cpu['name']} ({', '.join(cpu['isa'])}); model {args.model}, precision {precision}, "
          f"{args.steps} steps", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        spec = {**sft.prepare(Path(tmp), args.model), "model": args.model, "workdir": tmp, "steps": args.steps,
                "batch": 4, "max_length": 1536, "precision": precision, "lr": 2e-5,
                "threads": torch.get_num_threads()}
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        measured = {v: sft.run_variant(v, spec_file, __file__) for v in VARIANTS}
        runtime = sft.run_variant("runtime", spec_file)["runtime_bytes"]
        table = {("hrm" if v == "full" else "hrm-lora"): {"peak_rss_mb": float("nan")} for v in measured}
        plans = sft.plan_check(spec, table, runtime)
    rows = {}
    print("| run | step planned (tokens, labelled) | plan, tensors (MB) | live tensors, peak (MB) | plan / live |\n"
          "|---|---:|---:|---:|---:|")
    for v, m in measured.items():
        p = plans["hrm" if v == "full" else "hrm-lora"]
        tensors_mb = p["plan_mb"] - p["parts_mb"]["runtime"]
        live_mb = m["live_peak_bytes"] / 2**20
        rows[v] = {"tokens": p["tokens"], "labelled": p["labelled"], "plan_tensors_mb": tensors_mb, "live_peak_mb": live_mb,
                   "ratio_live": tensors_mb / live_mb, "parts_mb": p["parts_mb"], "live_peak_in": m["live_peak_in"]}
        print(f"| {v} | {p['tokens']:,}, {p['labelled']:,} | {tensors_mb:,.0f} | {live_mb:,.0f} | "
              f"{tensors_mb / live_mb:.2f} |")
    for v, r in rows.items():
        print(f"{v}: live tensors peaked in {' > '.join(r['live_peak_in']) or '(no operator)'}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "model": args.model, "precision": precision,
                                         "steps": args.steps, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
