"""What the evaluation's generation options buy: batching, bf16 weights, the shared-prefix KV cache, the
in-place KV cache.

    python benchmarks/eval_generation.py --model runs/default/model [--data data/sft] [--repeats 3]

Generates the first assistant turn of every test task (the turn every episode starts with; its
prompt is the system prompt, the tool block and the request) with `LocalPolicy` in several settings,
in one process, interleaved, and reports the median wall time over repeats of each, the ratio to the
baseline (one prompt at a time, fp32, no prefix cache, transformers' DynamicCache), and how many turns differ from the baseline
(bf16 and a shared prefix change the order of floating-point sums, so a greedy near-tie can flip).
The CPU is named; the figures hold for this machine only.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

SETTINGS = [  # name, dtype, batch size, prefix cache, in-place KV cache
    ("baseline: one at a time, fp32", "float32", 1, False, False),
    ("batch 32, fp32", "float32", 32, False, False),
    ("batch 32, bf16", "bfloat16", 32, False, False),
    ("batch 32, bf16, shared-prefix cache", "bfloat16", 32, True, False),
    ("... + in-place KV cache (the default)", "bfloat16", 32, True, True),
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a trained model folder (runs/<name>/model)")
    ap.add_argument("--data", default="data/sft", help="splits written by `hrmtrain data`")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=64, help="the first N test tasks")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    args = ap.parse_args()

    from hrmtrain.agent.policies import LocalPolicy
    from hrmtrain.agent.tasks import load_tasks

    tasks = load_tasks(args.data)[: args.tasks]
    policies = {}
    for name, dtype, *_ in SETTINGS:
        if dtype not in policies:
            policies[dtype] = LocalPolicy(args.model, dtype=dtype)
    first = {}
    times: dict[str, list[float]] = {name: [] for name, *_ in SETTINGS}
    outputs: dict[str, list] = {}
    for _ in range(args.repeats):
        for name, dtype, batch, prefix, in_place in SETTINGS:
            policy = policies[dtype]
            policy.batch_size, policy.prefix_cache, policy.inplace_kv_cache = batch, prefix, in_place
            if not first.get(dtype):
                first[dtype] = [policy.prompt([{"role": "system", "content": t.system},
                                               {"role": "user", "content": t.request}], t.tools) for t in tasks]
            started = time.perf_counter()
            outputs[name] = policy._generate_all(first[dtype], [args.max_new_tokens] * len(tasks))
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times[SETTINGS[0][0]])
    print(f"{cpu_name()}, {len(tasks)} first turns, up to {args.max_new_tokens} new tokens, median of {args.repeats}")
    print(f"{'setting':40} {'seconds':>8} {'speedup':>8} {'turns differing':>16}")
    for name, *_ in SETTINGS:
        median = statistics.median(times[name])
        differ = sum(a != b for a, b in zip(outputs[name], outputs[SETTINGS[0][0]]))
        print(f"{name:40} {median:8.1f} {base / median:7.2f}x {differ:16d}")


if __name__ == "__main__":
    main()
