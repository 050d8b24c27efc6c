"""Decode step time with transformers' DynamicCache vs hrmtrain's in-place KV cache (agent/kv_cache.py).

    python benchmarks/kv_cache_decode.py --model runs/default/model [--batch 32] [--prompt 800] [--repeats 3]

One process, the two caches interleaved: a batch of random prompts is prefilled, then `--steps` greedy
decode steps are timed (after `--warmup` untimed ones) with each cache; the median over repeats of each,
their ratio, and whether the greedy tokens agree. bf16 weights where the CPU computes bf16 natively
(as `hrmtrain eval` runs them), else fp32. The CPU is named; the figures hold for this machine only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_generation import cpu_name  # noqa: E402


def decode(model, ids, mask, cache, steps: int, warmup: int):
    import torch

    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True)
        nxt, tokens, started = out.logits[:, -1:].argmax(-1), [], None
        for s in range(warmup + steps):
            if s == warmup:
                started = time.perf_counter()
            mask = torch.cat([mask, torch.ones(mask.shape[0], 1, dtype=mask.dtype)], 1)
            nxt = model(input_ids=nxt, attention_mask=mask, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
            tokens.append(nxt)
    return (time.perf_counter() - started) / steps, torch.cat(tokens, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a model folder (runs/<name>/model)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=800, help="prompt tokens per row")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    from hrmtrain.agent.kv_cache import GrowingCache
    from hrmtrain.models.precision import resolve

    dtype = torch.bfloat16 if resolve("auto", "cpu")[0] == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).eval()
    ids = torch.randint(100, model.config.vocab_size - 100, (args.batch, args.prompt),
                        generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    caches = {"transformers DynamicCache": DynamicCache, "in-place (agent/kv_cache.py)": GrowingCache}
    times: dict[str, list[float]] = {name: [] for name in caches}
    tokens = {}
    for _ in range(args.repeats):
        for name, make in caches.items():
            seconds, tokens[name] = decode(model, ids, mask, make(), args.steps, args.warmup)
            times[name].append(seconds)
    base, ours = (statistics.median(times[n]) for n in caches)
    same = torch.equal(*tokens.values())
    print(f"{cpu_name()}, {str(dtype).removeprefix('torch.')}, batch {args.batch} x {args.prompt}-token prompts, "
          f"{args.steps} decode steps, median of {args.repeats}")
    for name in caches:
        print(f"{name:30} {statistics.median(times[name]) * 1000:7.1f} ms/step")
    print(f"in-place KV cache: {base / ours:.2f}x faster decode steps; greedy tokens {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
