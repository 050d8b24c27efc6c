"""`hrmtrain train` against TRL's `SFTTrainer` and transformers' `Trainer`, on the pretrained SmolLM2-135M base
(and the tiny model as a second case), same data, same batches, same steps.

    python benchmarks/sft_throughput.py                        # SmolLM2-135M, 10 steps (5 timed) x batch 4, 3 repeats
    python benchmarks/sft_throughput.py --model tiny --steps 20
    python benchmarks/sft_throughput.py --variants trl,hf-trainer,hrm,hrm-lora --json out.json

What one run measures, on this machine (its CPU name and ISA are printed first):
- the **shape-matched matmul peak**: GFLOP/s that torch.mm reaches on this model's own GEMMs (every
  projection of a decoder layer and the output layer, each in its forward, input-gradient and
  weight-gradient orientation, at the step's median token count), weighted by how often a step runs each,
  in bf16 and in fp32;
- for each variant, `--repeats` fresh processes, variants interleaved so drift hits all alike, each
  training `--steps` optimizer steps from the same base on the same sequences in the same order (the
  micro-batches hrmtrain's StepBatches draws, handed to the baselines with a sequential sampler): real
  (non-padding) tokens/s as the median over the steps after `--warmup`, the process's peak RSS, and MFU:
  the model FLOPs a step needs divided by its time and by the shape-matched peak of the precision used.

Model FLOPs of a sequence of s tokens, of which l get a loss (assistant tokens): 6 x body parameters x s
(the projections, forward and backward) + 6 x layers x attention width x s^2 (causal attention) + 6 x hidden x
vocab x l (the output layer where a loss needs it). The same count for every variant: a system that projects
every position onto the vocabulary (transformers' built-in loss, TRL's CPU path) does more work, not more
useful work.

Baselines, configured as a user who cares about speed would:
- `trl`: `SFTTrainer` with the benchmark's precision (bf16 where `trainer.precision=auto` picks it),
  `padding_free=True` (the batch's sequences flattened into one row, no padding), the same max length,
  gradient checkpointing off, the labels hrmtrain trains on (assistant tokens). What cannot be turned off in
  TRL 1.16: its fused LM head always computes log-probs, entropy and top-1 for the `entropy` and
  `mean_token_accuracy` metrics, and on a CPU (no Triton) it does so for every position, masked afterwards.
- `hf-trainer`: transformers' `Trainer` on the same tokenized sequences, padded to the longest of the batch,
  with the model's built-in loss (logits for every position), same precision, no checkpointing.

`hrm*` variants are `hrmtrain train` with its defaults and one change each. The last line compares the
best hrmtrain variant that trains every weight with the best baseline:
`speedup: X.XXx tokens/s, memory ratio Y.YY, MFU Z%`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

MODELS = {"smollm2": "smollm2-135m", "tiny": "tiny"}
HRM_VARIANTS = {
    "hrm": [],
    "hrm-padded": ["trainer.packing=false"],
    "hrm-compile": ["perf.compile=default"],
    "hrm-lora": ["model.lora.enabled=true"],
    "hrm-qlora": ["model.lora.enabled=true", "model.lora.qlora=true"],
}
HRM_BASE = ["trainer.packing=true"]  # every hrm-* variant starts from this
VAL_SUBSET = 4  # validation rows of the hrm runs (trainer.val_subset)
BASELINES = ("trl", "hf-trainer")
PARTIAL = {"hrm-lora", "hrm-qlora"}  # train adapters only: reported, not compared with full fine-tuning baselines


# ----------------------------------------------------------------------------------------------
# the machine


def cpu_info() -> dict:
    """CPU model name and the ISA features that decide matmul speed."""
    name, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name in ("unknown", "x86_64", ""):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [label for flag, label in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"),
                                     ("avx512f", "AVX512"), ("avx2", "AVX2")) if flag in flags]
    return {"name": name, "isa": isa or ["unknown"], "cores": os.cpu_count()}


def model_shape(base: str):
    """The base's shape as `hrmtrain plan` reads it (train/memory_plan.Shape)."""
    from transformers import AutoConfig

    from hrmtrain.train.memory_plan import shape_from_config

    return shape_from_config(AutoConfig.from_pretrained(base))


def sequence_flops(length: int, labelled: int, shape) -> float:
    """Model FLOPs (forward + backward) of one sequence (see the module docstring)."""
    return (6 * shape.linear_params() * length + 6 * shape.layers * shape.q_width * length * length
            + 6 * shape.hidden * shape.vocab * labelled)


def model_gemms(shape, tokens: int, labelled: int) -> list[tuple[tuple[int, int, int], int]]:
    """((M, K, N), times per step) for every GEMM of a training step: each projection (M tokens x K in ->
    N out) in its forward, input-gradient (M x N -> K) and weight-gradient (K x M -> N) orientation."""
    h, i, a, kv, layers = shape.hidden, shape.intermediate, shape.q_width, shape.kv_width, shape.layers
    forward = [((tokens, h, a), layers), ((tokens, h, kv), 2 * layers), ((tokens, a, h), layers),
               ((tokens, h, i), 2 * layers), ((tokens, i, h), layers), ((labelled, h, shape.vocab), 1)]
    out = []
    for (m, k, n), times in forward:
        out += [((m, k, n), times), ((m, n, k), times), ((k, m, n), times)]
    return out


def shape_matched_peak(gemms, dtype: torch.dtype, repeats: int = 5) -> float:
    """GFLOP/s of torch.mm over this mix of GEMMs: their FLOPs over their time, each weighted by how often a
    step runs it (median of `repeats` per shape)."""
    flops = seconds = 0.0
    for (m, k, n), times in gemms:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        # into one output, touched before timing: the kernel's speed, not the first touch of a fresh output's
        # pages (on some VMs a page fault costs ~10 us; a fresh [3000, 1536] output is 4,500 of them)
        out = torch.mm(a, b)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            runs.append(time.perf_counter() - start)
        flops += 2 * m * k * n * times
        seconds += statistics.median(runs) * times
    return flops / seconds / 1e9


# ----------------------------------------------------------------------------------------------
# shared set-up: sample data, the base, the step batches


def compose_for(spec: dict, extra: list[str] = ()):
    from hrmtrain.config import compose

    return compose([f"data.path={spec['data']}", f"model.base={spec['base']}",
                    f"trainer.max_length={spec['max_length']}", f"trainer.batch_size={spec['batch']}", *extra])


def prepare(workdir: Path, model: str) -> dict:
    from hrmtrain.config import compose
    from hrmtrain.data.build import build
    from hrmtrain.sample.household import generate
    from hrmtrain.models import base as base_model
    from hrmtrain.train import model as models

    generate(workdir / "household", seed=0)
    # built from inside the work folder: a record's id hashes its file's path as given (data/sources/records.py),
    # so a relative one gives every benchmark run the same records, split and batches, wherever its temp folder is
    with contextlib.chdir(workdir):
        build(compose(["data.raw=household", f"data.path={workdir / 'data'}", f"lineage.dir={workdir / 'lineage'}"]))
    if model == "tiny":  # saved once so every process starts from the same weights
        cfg = compose(["model.base=tiny", "experiment=tiny"])
        source = base_model.ModelSource("tiny", None)
        tokenizer = base_model.load_tokenizer(source)
        models.load_model(source, cfg.model, tokenizer).save_pretrained(workdir / "base")
        tokenizer.save_pretrained(workdir / "base")
        return {"data": str(workdir / "data"), "base": str(workdir / "base")}
    return {"data": str(workdir / "data"), "base": str(base_model.resolve(MODELS[model]).path)}


def step_sequences(spec: dict) -> tuple[object, list[list[object]]]:
    """The tokenizer and, per optimizer step, the encoded examples hrmtrain trains on (its own split,
    encoding and StepBatches order)."""
    from hrmtrain.models import base as base_model
    from hrmtrain.prompt.chat import ChatEncoder
    from hrmtrain.train.dataset import StepBatches, encode_rows, load_train_val

    cfg = compose_for(spec)
    tokenizer = base_model.load_tokenizer(base_model.resolve(spec["base"]), cfg.model.chat_template)
    train_rows, _ = load_train_val(cfg.data.path, cfg.data.val_ratio, cfg.data.seed)
    examples = encode_rows(train_rows, ChatEncoder(tokenizer, enable_thinking=cfg.data.enable_thinking),
                           spec["max_length"])
    batches = StepBatches(examples, spec["batch"], 1, cfg.trainer.seed, pad_id=tokenizer.pad_token_id)
    return tokenizer, [batches.micro_batches(s)[0] for s in range(spec["steps"])]


def labelled(example) -> int:
    from hrmtrain.prompt.chat import IGNORE

    return sum(1 for y in example.labels[1:] if y != IGNORE)


def step_record(examples, seconds: float, shape: dict) -> dict:
    return {"tokens": sum(len(e.input_ids) for e in examples), "time": seconds,
            "flops": sum(sequence_flops(len(e.input_ids), labelled(e), shape) for e in examples)}


# ----------------------------------------------------------------------------------------------
# workers: one training per process, result as one JSON line on stdout


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker_hrm(spec: dict, overrides: list[str]) -> dict:
    from hrmtrain.train.stage import train

    out = Path(spec["workdir"]) / f"run-{os.getpid()}"
    steps = spec["steps"]
    cfg = compose_for(spec, [f"run.dir={out}", "run.name=bench", f"lineage.dir={out / 'lineage'}",
                             f"trainer.max_steps={steps}", f"trainer.precision={spec['precision']}",
                             f"trainer.eval_every={steps}", f"trainer.checkpoint_every={steps}",
                             "trainer.eval_tasks_every=0", f"trainer.val_subset={VAL_SUBSET}", "trainer.warmup_steps=0",
                             f"trainer.lr={spec['lr']}",
                             "logging.wandb_mode=disabled", *HRM_BASE, *overrides])
    result = train(cfg)
    rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    times = [r["train/step_time_s"] for r in rows if "train/step_time_s" in r]
    _, per_step = step_sequences(spec)
    shape = model_shape(spec["base"])
    return {"steps": [step_record(ex, t, shape) for ex, t in zip(per_step, times)],
            "peak_rss_mb": peak_rss_mb(), "perf": result.summary.get("perf", {})}


def worker_runtime(spec: dict) -> dict:
    """What a training process holds before its model: torch, transformers, hrmtrain, the tokenizer and the
    encoded data (the `runtime` term of `hrmtrain plan` on a CPU)."""
    import psutil

    import hrmtrain.train.stage  # noqa: F401 - everything `hrmtrain train` imports

    step_sequences(spec)
    return {"runtime_bytes": psutil.Process().memory_info().rss}


def validation_batch(spec: dict, val_subset: int = VAL_SUBSET) -> tuple[int, int]:
    """(padded tokens, labelled positions) of the largest validation batch an hrm run evaluates."""
    from hrmtrain.models import base as base_model
    from hrmtrain.prompt.chat import ChatEncoder
    from hrmtrain.train.dataset import ValBatches, encode_rows, evenly_spaced, load_train_val

    cfg = compose_for(spec)
    tokenizer = base_model.load_tokenizer(base_model.resolve(spec["base"]), cfg.model.chat_template)
    _, val_rows = load_train_val(cfg.data.path, cfg.data.val_ratio, cfg.data.seed)
    encoder = ChatEncoder(tokenizer, enable_thinking=cfg.data.enable_thinking)
    examples = encode_rows(evenly_spaced(val_rows, val_subset), encoder, spec["max_length"])
    batches = ValBatches(examples, cfg.trainer.batch_size, tokenizer.pad_token_id).chunks
    return max(((len(b) * max(len(e.input_ids) for e in b), sum(labelled(e) for e in b)) for b in batches),
               key=lambda tl: tl[1])


def plan_check(spec: dict, table: dict, runtime_bytes: int) -> dict:
    """`hrmtrain plan`'s estimate (train/memory_plan.py) for the hrm and hrm-lora runs at the run's step that
    needs most (each step planned with its tokens and its labelled positions) and the largest validation
    batch, against their measured peak RSS."""
    from hrmtrain.train import memory_plan

    cfg = compose_for(spec)
    shape = model_shape(spec["base"])
    _, per_step = step_sequences(spec)
    val_tokens, val_labels = validation_batch(spec)
    out = {}
    for variant, method in (("hrm", "full"), ("hrm-lora", "lora"), ("hrm-qlora", "qlora")):
        if variant not in table:
            continue

        def plan_of(step):
            return memory_plan.plan(shape, method, tokens=sum(len(e.input_ids) for e in step),
                                    bf16=spec["precision"] == "bf16", checkpointing=False,
                                    chunk=cfg.trainer.loss_chunk_size, lora_r=cfg.model.lora.r,
                                    lora_base_dtype="bf16" if spec["precision"] == "bf16" else "fp32",
                                    runtime=runtime_bytes, loss_tokens=sum(labelled(e) for e in step),
                                    val_tokens=val_tokens, val_loss_tokens=val_labels)

        # the step the plan says needs most: the most tokens, or (a large vocabulary) the most labelled positions
        largest = max(per_step, key=lambda step: plan_of(step).total)
        est = plan_of(largest)
        tokens, labels = sum(len(e.input_ids) for e in largest), sum(labelled(e) for e in largest)
        measured = table[variant]["peak_rss_mb"]
        out[variant] = {"plan_mb": est.total / 2**20, "measured_mb": measured, "ratio": est.total / 2**20 / measured,
                        "parts_mb": {k: v / 2**20 for k, v in est.parts.items()}, "tokens": tokens,
                        "labelled": labels, "validation_batch": {"tokens": val_tokens, "labelled": val_labels}}
    return out


def _baseline_dataset(spec: dict):
    from datasets import Dataset

    tokenizer, per_step = step_sequences(spec)
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for step in per_step for e in step]
    return tokenizer, per_step, Dataset.from_list(rows)


class _StepClock:
    """A TrainerCallback's worth of timestamps: train begin, then the end of every optimizer step."""

    def __init__(self):
        from transformers import TrainerCallback

        ends = self.ends = []

        class Clock(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                ends.append(time.perf_counter())

            def on_step_end(self, args, state, control, **kwargs):
                ends.append(time.perf_counter())

        self.callback = Clock()

    def records(self, per_step, shape) -> list[dict]:
        return [step_record(ex, self.ends[k + 1] - self.ends[k], shape) for k, ex in enumerate(per_step)
                if k + 1 < len(self.ends)]


def _common_args(spec: dict, name: str) -> dict:
    return dict(output_dir=str(Path(spec["workdir"]) / f"{name}-{os.getpid()}"), max_steps=spec["steps"],
                per_device_train_batch_size=spec["batch"], learning_rate=spec["lr"],
                bf16=spec["precision"] == "bf16", seed=0, report_to=[], save_strategy="no",
                use_cpu=not torch.cuda.is_available(), train_sampling_strategy="sequential",
                gradient_checkpointing=False, logging_steps=10**6, dataloader_num_workers=0, warmup_steps=0)


def worker_trl(spec: dict) -> dict:
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer, per_step, dataset = _baseline_dataset(spec)
    clock = _StepClock()
    # the sequences are hrmtrain's, already cut at max_length; TRL refuses a max_length it would not enforce
    # with padding_free and no packing
    config = SFTConfig(**_common_args(spec, "trl"), max_length=None, padding_free=True)
    model = AutoModelForCausalLM.from_pretrained(spec["base"], dtype=torch.float32)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[clock.callback])
    trainer.train()
    return {"steps": clock.records(per_step, model_shape(spec["base"])), "peak_rss_mb": peak_rss_mb(), "perf": {}}


def worker_hf_trainer(spec: dict) -> dict:
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from hrmtrain.train.dataset import collate
    from hrmtrain.prompt.chat import Example

    tokenizer, per_step, dataset = _baseline_dataset(spec)
    pad = tokenizer.pad_token_id

    def padded(features):  # right-padded to the batch's longest, labels -100 outside assistant turns
        batch = collate([Example(f["input_ids"], f["labels"]) for f in features], pad)
        return batch

    clock = _StepClock()
    model = AutoModelForCausalLM.from_pretrained(spec["base"], dtype=torch.float32)
    args = TrainingArguments(**_common_args(spec, "hf"), remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=padded, callbacks=[clock.callback])
    trainer.train()
    return {"steps": clock.records(per_step, model_shape(spec["base"])), "peak_rss_mb": peak_rss_mb(), "perf": {}}


# ----------------------------------------------------------------------------------------------
# driver


def run_variant(name: str, spec_file: Path, script: str = __file__) -> dict:
    """`script --worker name --spec spec_file` in a fresh process; its last stdout line, as JSON."""
    cmd = [sys.executable, script, "--worker", name, "--spec", str(spec_file)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(result: dict, warmup: int, peak_gflops: float) -> dict:
    steady = result["steps"][warmup:] or result["steps"]
    return {"tokens_per_s": statistics.median(s["tokens"] / s["time"] for s in steady),
            "step_time_s": statistics.median(s["time"] for s in steady),
            "mfu": statistics.median(s["flops"] / s["time"] / 1e9 / peak_gflops for s in steady),
            "peak_rss_mb": result["peak_rss_mb"],
            "step_tokens_per_s": [round(s["tokens"] / s["time"], 1) for s in result["steps"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=list(MODELS), default="smollm2")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=5,
                    help="steps left out of the medians: start-up, and the first touches of memory (benchmarks/README.md)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4, help="sequences per optimizer step (hrmtrain's default)")
    ap.add_argument("--max-length", type=int, default=1536, help="hrmtrain's default trainer.max_length")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default=None,
                    help="default: what hrmtrain's trainer.precision=auto picks on this machine")
    ap.add_argument("--variants", default=",".join([*BASELINES, "hrm", "hrm-padded", "hrm-lora"]),
                    help=f"among {', '.join([*BASELINES, *HRM_VARIANTS])}")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        spec = json.loads(args.spec.read_text())
        torch.set_num_threads(spec["threads"])
        result = (worker_trl(spec) if args.worker == "trl" else worker_hf_trainer(spec) if args.worker == "hf-trainer"
                  else worker_runtime(spec) if args.worker == "runtime" else worker_hrm(spec, HRM_VARIANTS[args.worker]))
        print(json.dumps(result))
        return

    from hrmtrain.models.precision import resolve

    precision = args.precision or resolve("auto", "cuda" if torch.cuda.is_available() else "cpu")[0]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in BASELINES and v not in HRM_VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join([*BASELINES, *HRM_VARIANTS])}")
    threads = torch.get_num_threads()
    cpu = cpu_info()
    print(f"CPU: {cpu['name']} ({', '.join(cpu['isa'])}), {threads} threads; model {args.model}, "
          f"precision {precision}; {args.steps} steps x batch {args.batch}, max_length {args.max_length}, "
          f"{args.repeats} repeats", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        spec = {**prepare(Path(tmp), args.model), "model": args.model, "workdir": tmp, "steps": args.steps, "batch": args.batch,
                "max_length": args.max_length, "precision": precision, "lr": 2e-5, "threads": threads}
        shape = model_shape(spec["base"])
        _, per_step = step_sequences(spec)
        tokens = int(statistics.median(sum(len(e.input_ids) for e in ex) for ex in per_step))
        n_lab = int(statistics.median(sum(labelled(e) for e in ex) for ex in per_step))
        gemms = model_gemms(shape, tokens, n_lab)
        native_bf16 = resolve("auto", "cpu")[0] == "bf16" or torch.cuda.is_available()
        # bf16 on a CPU without bf16 kernels runs at ~1 GFLOP/s (AVX2 EPYC): the full shapes would take ten
        # minutes to time, so there its token dimension is cut to 16 (a rough figure, for the record only)
        peaks = {"bf16": shape_matched_peak(gemms if native_bf16 else model_gemms(shape, 16, 16), torch.bfloat16,
                                            repeats=5 if native_bf16 else 1)}
        print(f"shape-matched matmul peak (median step: {tokens} tokens, {n_lab} with a loss): "
              f"bf16 {peaks['bf16']:.1f} GFLOP/s{'' if native_bf16 else ' (no bf16 kernels: measured at 16 tokens)'}",
              flush=True)
        if precision == "bf16":  # for the record: fp32 on the same shapes
            peaks["fp32"] = shape_matched_peak(gemms, torch.float32)
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        raw_runs: dict[str, list[dict]] = {v: [] for v in variants}
        perf_lines: dict[str, dict] = {}
        peak_runs: list[float] = []
        for r in range(args.repeats):
            # the peak of the run's own precision is measured again before each repeat (a shared machine's
            # speed drifts; 116 and 159 GFLOP/s were seen an hour apart), MFU divides by their median
            peak_runs.append(shape_matched_peak(gemms, torch.bfloat16 if precision == "bf16" else torch.float32))
            print(f"  repeat {r + 1}: {precision} shape-matched peak {peak_runs[-1]:.1f} GFLOP/s", flush=True)
            for v in variants:
                raw = run_variant(v, spec_file)
                perf_lines[v] = raw["perf"]
                raw_runs[v].append(raw)
                runs[v].append(summarise(raw, args.warmup, peak_runs[-1]))
                s = runs[v][-1]
                print(f"  repeat {r + 1} {v:14s} {s['tokens_per_s']:9,.0f} tok/s  {s['step_time_s']:6.2f} s/step  "
                      f"{s['peak_rss_mb']:7,.0f} MB  MFU {s['mfu']:.1%}", flush=True)

        peak = statistics.median(peak_runs)
        peaks[precision] = peak
        runs = {v: [summarise(raw, args.warmup, peak) for raw in rs] for v, rs in raw_runs.items()}
        table = {v: {k: statistics.median(x[k] for x in rs) for k in rs[0] if k != "step_tokens_per_s"}
                 for v, rs in runs.items()}
        plans = plan_check(spec, table, run_variant("runtime", spec_file)["runtime_bytes"])

    base_name = max((v for v in table if v in BASELINES), key=lambda v: table[v]["tokens_per_s"], default=None)
    base = table.get(base_name)
    print(f"\nshape-matched {precision} matmul peak, median of the repeats: {peak:.1f} GFLOP/s")
    print(f"| variant | real tokens/s | vs {base_name or '-'} | s/step | peak RSS (MB) | MFU ({precision}) |\n"
          "|---|---:|---:|---:|---:|---:|")
    for v, m in table.items():
        ratio = f"{m['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        print(f"| {v} | {m['tokens_per_s']:,.0f} | {ratio} | {m['step_time_s']:.2f} | {m['peak_rss_mb']:,.0f} "
              f"| {m['mfu']:.1%} |")
    for v, pc in plans.items():
        print(f"hrmtrain plan for {v} ({pc['tokens']} tokens, the largest step): {pc['plan_mb']:,.0f} MB estimated, "
              f"{pc['measured_mb']:,.0f} MB measured peak RSS ({pc['ratio']:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "model": args.model, "precision": precision, "threads": threads,
                                         "plan_check": plans,
                                         "shape_matched_peak_gflops": peaks, "median_step_tokens": tokens,
                                         "steps": args.steps, "batch": args.batch, "repeats": args.repeats,
                                         "medians": table, "runs": runs, "perf": perf_lines}, indent=2))
    hrm = {v: m for v, m in table.items() if v in HRM_VARIANTS and v not in PARTIAL}
    if base and hrm:
        best_name, best = max(hrm.items(), key=lambda kv: kv[1]["tokens_per_s"])
        print(f"best hrmtrain variant: {best_name}; best baseline: {base_name}")
        print(f"speedup: {best['tokens_per_s'] / base['tokens_per_s']:.2f}x tokens/s, "
              f"memory ratio {best['peak_rss_mb'] / base['peak_rss_mb']:.2f}, MFU {best['mfu']:.0%}")


if __name__ == "__main__":
    main()
