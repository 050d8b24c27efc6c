"""`hrmtrain train` against stock TRL `SFTTrainer` on the same tiny model, data and steps.

    python benchmarks/sft_throughput.py [--steps 40] [--repeats 3] [--batch 8] [--variants ...]

One run measures, on this machine:
- the matmul peak (GFLOP/s of a 2048x2048 matmul in the benchmark's precision, median of 5);
- for each variant, `--repeats` fresh processes (variants interleaved so drift hits all alike),
  each training `--steps` steps from the same saved tiny Qwen3 on the same token sequences (the
  sample household's training split as hrmtrain encodes it, given to TRL pre-tokenized):
  real (non-padding) tokens/s as the median over steps after `--warmup`, peak resident memory of
  the process (ru_maxrss), and MFU: the model FLOPs each step needed divided by its time and by the
  matmul peak. Model FLOPs per sequence of s real tokens: 6 x body parameters x s (matmuls, forward
  and backward) + 6 x layers x attention width x s^2 (causal attention) + 6 x hidden x vocab per
  token that gets logits for the loss: every token for TRL (its default loss is on the whole
  conversation), assistant tokens for hrmtrain (its loss is on assistant turns only, and its
  chunked cross-entropy projects only those positions).

Variants: `trl` is `SFTTrainer` with `SFTConfig` defaults (bf16, gradient checkpointing, fused AdamW,
padding to the longest sequence, batch 8, max_length 1024, entropy/accuracy metrics every step),
with only `use_cpu` set on a CPU, the precision matched to hrmtrain's, and steps/batch/seed set
alike. The `hrm-*` variants are `hrmtrain train` with one option changed at a time, so the table
says what each contributed. The last line compares the best hrmtrain variant with TRL:
`speedup: X.XXx tokens/s, memory ratio Y.YY, MFU Z%`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HRM_VARIANTS = {
    "hrm-padded": ["trainer.packing=false"],
    "hrm-packed": [],
    "hrm-packed-compile": ["perf.compile=default"],
    "hrm-packed-checkpointing": ["perf.gradient_checkpointing=true"],
    "hrm-packed-unfused-adamw": ["perf.fused_adamw=false"],
    "hrm-packed-1-loader-worker": ["perf.loader_workers=1"],
}
BEST_BASE = ["trainer.packing=true"]  # every hrm-* variant starts from this; the variant then changes one thing


# ----------------------------------------------------------------------------------------------
# shared set-up: sample data, a saved tiny base model, the encoded training sequences


def prepare(workdir: Path, max_length: int, tiny: list[str]) -> dict:
    from hrmtrain.config import compose
    from hrmtrain.data.build import build
    from hrmtrain.data.synth import generate
    from hrmtrain.train import model as models

    generate(workdir / "household", seed=0)
    build(compose([f"data.raw={workdir / 'household'}", f"data.path={workdir / 'data'}",
                   f"lineage.dir={workdir / 'lineage'}"]))
    cfg = compose([f"model.tiny.{kv}" for kv in tiny])
    source = models.ModelSource("tiny", None)
    tokenizer = models.load_tokenizer(source)
    model = models.load_model(source, cfg.model, tokenizer)
    model.save_pretrained(workdir / "base")
    tokenizer.save_pretrained(workdir / "base")
    return {"data": str(workdir / "data"), "base": str(workdir / "base"), "max_length": max_length}


def encoded_examples(spec: dict):
    from hrmtrain.train import model as models
    from hrmtrain.train.chat import ChatEncoder
    from hrmtrain.train.dataset import encode_rows, load_rows

    tokenizer = models.load_tokenizer(models.resolve(spec["base"]))
    rows = load_rows(Path(spec["data"]) / "train.parquet")
    return tokenizer, encode_rows(rows, ChatEncoder(tokenizer), spec["max_length"])


def model_shape(base: str) -> dict:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(base)
    attn = c.num_attention_heads * c.head_dim
    kv = c.num_key_value_heads * c.head_dim
    per_layer = c.hidden_size * (attn + 2 * kv) + attn * c.hidden_size + 3 * c.hidden_size * c.intermediate_size
    return {"body_params": per_layer * c.num_hidden_layers, "layers": c.num_hidden_layers, "attn_width": attn,
            "hidden": c.hidden_size, "vocab": c.vocab_size}


def step_flops(lengths: list[int], logit_tokens: int, shape: dict) -> float:
    """Model FLOPs (forward + backward) one optimizer step needs (see the module docstring)."""
    body = sum(6 * shape["body_params"] * s + 6 * shape["layers"] * shape["attn_width"] * s * s for s in lengths)
    return body + 6 * shape["hidden"] * shape["vocab"] * logit_tokens


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


# ----------------------------------------------------------------------------------------------
# workers: one training per process, result as one JSON line on stdout


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker_hrm(spec: dict, overrides: list[str]) -> dict:
    from hrmtrain.config import compose
    from hrmtrain.train.chat import IGNORE
    from hrmtrain.train.dataset import StepBatches
    from hrmtrain.train.stage import train

    out = Path(spec["workdir"]) / f"run-{os.getpid()}"
    steps, batch = spec["steps"], spec["batch"]
    cfg = compose([f"data.path={spec['data']}", f"model.base={spec['base']}", f"run.dir={out}", "run.name=bench",
                   f"lineage.dir={out / 'lineage'}", f"trainer.max_steps={steps}", f"trainer.batch_size={batch}",
                   f"trainer.max_length={spec['max_length']}", f"trainer.precision={spec['precision']}",
                   f"trainer.eval_every={steps}", f"trainer.checkpoint_every={steps}", "trainer.warmup_steps=0",
                   f"trainer.lr={spec['lr']}", "logging.wandb_mode=disabled", *BEST_BASE, *overrides])
    result = train(cfg)
    rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "train/tokens_per_s" in r]
    _, examples = encoded_examples(spec)
    batches = StepBatches(examples, batch, 1, cfg.trainer.seed, pad_id=0)
    shape = model_shape(spec["base"])
    per_step = []
    for r in rows:
        chosen = batches.micro_batches(r["step"] - 1)[0]
        targets = sum(sum(1 for y in e.labels[1:] if y != IGNORE) for e in chosen)
        per_step.append({"tokens": r["train/tokens_per_s"] * r["train/step_time_s"], "time": r["train/step_time_s"],
                         "flops": step_flops([len(e.input_ids) for e in chosen], targets, shape)})
    return {"steps": per_step, "peak_rss_mb": peak_rss_mb(), "perf": result.summary.get("perf", {})}


def worker_trl(spec: dict) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    tokenizer, examples = encoded_examples(spec)
    dataset = Dataset.from_list([{"input_ids": e.input_ids} for e in examples])
    shape = model_shape(spec["base"])
    seen: list[tuple[int, list[int]]] = []  # per collated batch: (tokens that get logits, real lengths)
    ends: list[float] = []

    class Timing(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    on_cpu = not torch.cuda.is_available()
    config = SFTConfig(output_dir=str(Path(spec["workdir"]) / f"trl-{os.getpid()}"), max_steps=spec["steps"],
                       per_device_train_batch_size=spec["batch"], max_length=spec["max_length"],
                       learning_rate=spec["lr"], bf16=spec["precision"] == "bf16", seed=0, report_to=[],
                       save_strategy="no", use_cpu=on_cpu)
    model = AutoModelForCausalLM.from_pretrained(spec["base"], dtype=torch.float32)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[Timing()])
    stock = trainer.data_collator

    def recording(features):
        out = stock(features)
        lengths = out["attention_mask"].sum(1).tolist()
        seen.append((int((out["labels"][:, 1:] != -100).sum()), lengths))
        return out

    trainer.data_collator = recording
    trainer.train()
    per_step = []
    for k in range(1, len(ends)):
        logit_tokens, lengths = seen[k - 1]
        per_step.append({"tokens": sum(lengths), "time": ends[k] - ends[k - 1],
                         "flops": step_flops(lengths, logit_tokens, shape)})
    return {"steps": per_step, "peak_rss_mb": peak_rss_mb(), "perf": {}}


# ----------------------------------------------------------------------------------------------
# driver


def run_variant(name: str, spec_file: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--spec", str(spec_file)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(result: dict, warmup: int, peak_gflops: float) -> dict:
    steady = result["steps"][warmup:] or result["steps"]
    return {"tokens_per_s": statistics.median(s["tokens"] / s["time"] for s in steady),
            "mfu": statistics.median(s["flops"] / s["time"] / 1e9 / peak_gflops for s in steady),
            "peak_rss_mb": result["peak_rss_mb"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5, help="steps left out of the medians (compilation, caches)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8, help="TRL's default per-device batch size")
    ap.add_argument("--max-length", type=int, default=1024, help="TRL's default max_length")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default=None,
                    help="default: what hrmtrain's trainer.precision=auto picks on this machine")
    ap.add_argument("--tiny", default="", help="shape of the tiny model, e.g. hidden_size=512,num_hidden_layers=4 "
                    "(keys of model.tiny; default: hrmtrain's built-in tiny model)")
    ap.add_argument("--variants", default=",".join(["trl", *HRM_VARIANTS]))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        spec = json.loads(args.spec.read_text())
        torch.set_num_threads(spec["threads"])
        result = worker_trl(spec) if args.worker == "trl" else worker_hrm(spec, HRM_VARIANTS[args.worker])
        print(json.dumps(result))
        return

    from hrmtrain.train.precision import resolve

    precision = args.precision or resolve("auto", "cuda" if torch.cuda.is_available() else "cpu")[0]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v != "trl" and v not in HRM_VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: trl, {', '.join(HRM_VARIANTS)}")
    threads = torch.get_num_threads()
    peak = matmul_peak_gflops(torch.bfloat16 if precision == "bf16" else torch.float32)
    print(f"{threads} threads, precision {precision}, matmul peak {peak:.1f} GFLOP/s; "
          f"{args.steps} steps x batch {args.batch}, {args.repeats} repeats", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        spec = {**prepare(Path(tmp), args.max_length, [kv for kv in args.tiny.split(",") if kv]), "workdir": tmp, "steps": args.steps, "batch": args.batch,
                "precision": precision, "lr": 2e-5, "threads": threads}
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        perf_lines: dict[str, dict] = {}
        for r in range(args.repeats):
            for v in variants:
                raw = run_variant(v, spec_file)
                perf_lines[v] = raw["perf"]
                runs[v].append(summarise(raw, args.warmup, peak))
                s = runs[v][-1]
                print(f"  repeat {r + 1} {v:28s} {s['tokens_per_s']:9,.0f} tok/s  {s['peak_rss_mb']:7,.0f} MB  "
                      f"MFU {s['mfu']:.1%}", flush=True)

    table = {v: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for v, rs in runs.items()}
    base = table.get("trl")
    print("\n| variant | real tokens/s | vs TRL | peak RSS (MB) | MFU |\n|---|---:|---:|---:|---:|")
    for v, m in table.items():
        ratio = f"{m['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        print(f"| {v} | {m['tokens_per_s']:,.0f} | {ratio} | {m['peak_rss_mb']:,.0f} | {m['mfu']:.1%} |")
    if args.json:
        args.json.write_text(json.dumps({"precision": precision, "threads": threads, "matmul_peak_gflops": peak,
                                         "steps": args.steps, "batch": args.batch, "repeats": args.repeats,
                                         "medians": table, "runs": runs, "perf": perf_lines}, indent=2))
    hrm = {v: m for v, m in table.items() if v != "trl"}
    if base and hrm:
        best_name, best = max(hrm.items(), key=lambda kv: kv[1]["tokens_per_s"])
        print(f"best hrmtrain variant: {best_name}")
        print(f"speedup: {best['tokens_per_s'] / base['tokens_per_s']:.2f}x tokens/s, "
              f"memory ratio {best['peak_rss_mb'] / base['peak_rss_mb']:.2f}, MFU {best['mfu']:.0%}")


if __name__ == "__main__":
    main()
