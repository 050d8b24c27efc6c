"""Training step time of the tiny Qwen3 per precision, on this machine's CPU (or GPU).

Why it exists: `trainer.precision=auto` picks fp32 on CPUs without native bf16 because bf16
autocast measured much slower there. Rerun to check the claim on your machine:

    python benchmarks/precision_cpu.py [--steps 5] [--batch 8] [--precisions fp32,bf16]

Prints the median step time per precision over `--steps` timed steps (after one warm-up step) on
the same batches of the bundled sample data, and each precision's ratio to fp32.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hrmtrain.config import compose
from hrmtrain.models import base as base_model
from hrmtrain.train import model as models
from hrmtrain.prompt.chat import ChatEncoder
from hrmtrain.prompt.rows import Row
from hrmtrain.train.dataset import StepBatches, encode_rows
from hrmtrain.train.loss import SFTLoss
from hrmtrain.models.precision import Precision, cpu_has_native_bf16


def household_rows(limit: int = 64) -> list[dict]:
    """Conversations from the generated sample household (unredacted: synthetic data, timing only)."""
    import tempfile

    from hrmtrain.data.instruct import build_examples
    from hrmtrain.data.sources.ingest import ingest
    from hrmtrain.privacy.directory import Directory
    from hrmtrain.sample.household import generate

    with tempfile.TemporaryDirectory() as tmp:
        household = generate(f"{tmp}/household", seed=0)
        directory = Directory.load(household.root / "household.json")
        records, _ = ingest(household.root, directory)
        return build_examples(records.records, directory.now, seed=0)[:limit]


def step_times(precision: str, batches: StepBatches, steps: int, device: torch.device) -> list[float]:
    cfg = compose()
    source = base_model.ModelSource("tiny", None)
    model = models.load_model(source, cfg.model, base_model.load_tokenizer(source)).to(device)
    sft = SFTLoss(model, cfg.trainer.loss_chunk_size)
    opt = torch.optim.AdamW(sft.parameters(), lr=1e-3)
    prec = Precision(precision, device.type)
    scaler = prec.grad_scaler()
    times = []
    for step in range(steps + 1):
        batch = {k: v.to(device) for k, v in batches(step)[0].items()}
        start = time.perf_counter()
        with prec.autocast():
            loss, n = sft(**batch)
        scaler.scale(loss / max(n, 1)).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step warms caches and allocators
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    tokenizer = base_model.load_tokenizer(base_model.ModelSource("tiny", None))
    rows = [Row(r["messages"], r["tools"], "sample", i) for i, r in enumerate(household_rows(), 1)]
    examples = encode_rows(rows, ChatEncoder(tokenizer), 1024)
    batches = StepBatches(examples, args.batch, 1, seed=0, pad_id=tokenizer.pad_token_id)
    print(f"device={device} cpu_capability={torch.backends.cpu.get_cpu_capability()} "
          f"native_bf16={cpu_has_native_bf16()} threads={torch.get_num_threads()} batch={args.batch}")
    medians = {}
    for precision in args.precisions.split(","):
        medians[precision] = statistics.median(step_times(precision, batches, args.steps, device))
    base = medians.get("fp32")
    print(f"{'precision':<10}{'median step (s)':>16}{'vs fp32':>10}")
    for precision, median in medians.items():
        ratio = f"{median / base:.2f}x" if base else "-"
        print(f"{precision:<10}{median:>16.3f}{ratio:>10}")


if __name__ == "__main__":
    main()
