"""The SFT loop: plain PyTorch, one readable function.

Why not TRL's SFTTrainer or Accelerate: `benchmarks/sft_throughput.py` (pretrained SmolLM2-135M, same
sequences and steps, fp32 on an AVX2 CPU) measured TRL 1.16 with `padding_free` at 44 real tokens/s,
transformers' Trainer at 78 and this loop (packed) at 117, at 71% of TRL's peak memory: TRL always
computes log-probs, entropy and top-1 over the whole vocabulary, on a CPU for every position, and its
flattened row is attended under a block mask; `accelerate launch` misbehaves on CPU (see
distributed.py). TRL's data format is kept.

Per optimizer step: the step's micro-batches are known up front (StepBatches), so the loss is the
sum of token losses over all of them (and all ranks) divided by the step's assistant-token count,
the exact token mean, whatever the accumulation and padding.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import torch

from hrmtrain.config import PerfConfig, TrainerConfig
from hrmtrain.errors import HrmError
from hrmtrain.train import checkpoint, distributed
from hrmtrain.prompt.chat import IGNORE, Example
from hrmtrain.train.dataset import StepBatches, StepDataset, ValBatches, loader
from hrmtrain.models.precision import Precision
from hrmtrain.train.profiling import step_profiler
from hrmtrain.train.tracking import Tracker
from hrmtrain.jsonl import append_json_line, read_json_lines, write_json_lines


class TrainingDiverged(HrmError):
    pass


@dataclass
class LoopState:
    step: int = 0
    val_history: list = field(default_factory=list)  # [(step, loss)]
    tokens_seen: int = 0
    wandb_run_id: str | None = None
    scaler_state: dict | None = None  # restored GradScaler state on resume
    choice: object = None  # task_validation.Choice when validation tasks choose the checkpoint
    stopped_early: bool = False

    def to_json(self) -> dict:
        return {"step": self.step, "val_history": self.val_history, "tokens_seen": self.tokens_seen,
                "wandb_run_id": self.wandb_run_id}


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return psutil.Process().memory_info().rss / 2**20


def to_device(batch: dict, device: torch.device, non_blocking: bool = True) -> dict:
    return {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items()}


@torch.no_grad()
def evaluate(model, val_batches, precision: Precision, device, non_blocking: bool = True) -> float:
    """Token-mean loss over the whole validation set (every rank evaluates all of it); `val_batches`
    iterates padded batches (a DataLoader over dataset.ValBatches)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in val_batches:
        with precision.autocast():
            loss_sum, n = model(**to_device(batch, device, non_blocking))
        total += float(loss_sum)
        count += n
    model.train(was_training)
    return total / max(count, 1)


class MetricsLog:
    """Append-only `metrics.jsonl`; on resume, rows past the checkpoint's step are dropped."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = path, enabled

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not self.path.exists():
            return
        write_json_lines(self.path, [r for r in read_metrics_rows(self.path) if r["step"] <= step])

    def write(self, row: dict) -> None:
        if self.enabled:
            append_json_line(self.path, row)


def read_metrics_rows(path: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl; none when it does not exist (a run that stopped early)."""
    if not path.is_file():
        return []
    return [row for _, row in read_json_lines(path)]


def step_statistics(rows: list[dict]) -> dict:
    """Median real tokens/s and step time over the steps after the first (which carries start-up
    costs; the only one in a one-step run), and the peak memory of the run, from metrics rows."""
    steps = [r for r in rows if "train/loss" in r]
    steady = steps[1:] or steps
    speeds = sorted(r["train/tokens_per_s"] for r in steady)
    return {"tokens_per_s_median": speeds[len(speeds) // 2] if speeds else None,
            "step_time_s_median": statistics.median(r["train/step_time_s"] for r in steady) if steady else None,
            "peak_memory_mb": max((r["train/peak_memory_mb"] for r in steps), default=None)}


def fit(t: TrainerConfig, perf: PerfConfig, model, optimizer, scheduler, batches: StepBatches,
        val_examples: list[Example], run_dir: Path, info: distributed.DistInfo, tracker: Tracker, state: LoopState, pad_id: int,
        loader_kwargs: dict | None = None, tasks=None, causal_lm=None) -> LoopState:
    """Train `model` (an SFTLoss, possibly DDP/FSDP-wrapped) from `state.step` to `trainer.max_steps`.
    `loader_kwargs`: DataLoader workers / pinning (perf.describe_loader); none: batches built inline.
    `tasks` (task_validation.TaskValidation): validation tasks every `trainer.eval_tasks_every` steps
    choose the weights `causal_lm` ends with, and may stop training early."""
    from tqdm.auto import tqdm

    precision = Precision.from_config(t.precision, info.device.type)
    scaler = precision.grad_scaler()
    if state.scaler_state:
        scaler.load_state_dict(state.scaler_state)
    params = [p for p in model.parameters() if p.requires_grad]
    metrics = MetricsLog(run_dir / "metrics.jsonl", info.is_main)
    ckpt_root = run_dir / "checkpoints"

    loader_kwargs = loader_kwargs or {}
    non_blocking = bool(perf.non_blocking)
    val_loader = loader(ValBatches(val_examples, t.batch_size, pad_id), loader_kwargs)
    steps = iter(loader(StepDataset(batches, state.step, t.max_steps), loader_kwargs))

    def run_eval(step: int) -> float:
        loss = evaluate(model, val_loader, precision, info.device, non_blocking)
        if not math.isfinite(loss):
            raise TrainingDiverged(f"validation loss is {loss} at step {step} (precision={precision.name}); "
                                   "stopped rather than train on garbage")
        state.val_history.append([step, loss])
        metrics.write({"step": step, "val/loss": loss})
        tracker.log({"val/loss": loss}, step=step)
        return loss

    if state.step == 0 and not state.val_history:
        run_eval(0)
    if tasks is not None:
        from hrmtrain.train.task_validation import Choice

        state.choice = state.choice or Choice()

    def run_tasks(step: int, val_loss: float) -> None:
        ok, n = tasks.successes(causal_lm, info.device, precision)
        best = tasks.update(state.choice, step, ok, n, val_loss, causal_lm)
        metrics.write({"step": step, "val/task_success": ok / max(n, 1), "val/tasks": n})
        tracker.log({"val/task_success": ok / max(n, 1)}, step=step)
        bar.write(f"step {step}: validation tasks {ok}/{n}" + ("  (best so far: kept)" if best else ""))

    bar = tqdm(total=t.max_steps, initial=state.step, disable=not info.is_main, desc="train",
               unit="step", dynamic_ncols=True, mininterval=1.0)
    model.train()
    with step_profiler(perf, run_dir, info.device, info.is_main) as profiler:
        while state.step < t.max_steps:
            started = time.perf_counter()
            micro = next(steps)
            targets = sum(int((mb["labels"][:, 1:] != IGNORE).sum()) for mb in micro)
            real_tokens = sum(int(mb.pop("real_tokens")) if "real_tokens" in mb else int(mb["attention_mask"].sum())
                              for mb in micro)
            denom = max(distributed.all_reduce_sum(targets, info), 1.0)  # never divide by 0 -> never NaN
            loss_sum = 0.0
            for i, mb in enumerate(micro):
                with distributed.no_sync(model, info, last_micro_batch=i == len(micro) - 1):
                    with precision.autocast():
                        part, _ = model(**to_device(mb, info.device, non_blocking))
                    # DDP/FSDP average gradients over ranks; scale so the result is the global token mean.
                    scaler.scale(part * info.world_size / denom).backward()
                loss_sum += float(part.detach())
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, t.max_grad_norm)
            grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            state.step += 1

            loss = distributed.all_reduce_sum(loss_sum, info) / denom
            if not math.isfinite(loss):
                raise TrainingDiverged(f"training loss is {loss} at step {state.step} (precision={precision.name}, "
                                       f"lr={lr:.3g}); stopped rather than train on garbage")
            tokens = int(distributed.all_reduce_sum(real_tokens, info))
            state.tokens_seen += tokens
            elapsed = time.perf_counter() - started
            row = {"step": state.step, "train/loss": loss, "train/lr": lr, "train/grad_norm": grad_norm,
                   "train/tokens_per_s": tokens / elapsed, "train/step_time_s": elapsed,
                   "train/epoch": batches.epoch_of(state.step), "train/peak_memory_mb": peak_memory_mb(info.device)}
            metrics.write(row)
            tracker.log({k: v for k, v in row.items() if k != "step"}, step=state.step)
            bar.update(1)
            if state.step % t.log_every == 0 or state.step == t.max_steps:
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{tokens / elapsed:,.0f}")
            task_step = tasks is not None and (state.step % t.eval_tasks_every == 0 or state.step == t.max_steps)
            if state.step % t.eval_every == 0 or state.step == t.max_steps or task_step:
                val = run_eval(state.step)
                if info.is_main:
                    bar.write(f"step {state.step}: train loss {loss:.4f}  val loss {val:.4f}")
                if task_step:
                    run_tasks(state.step, val)
                    if t.early_stopping_patience and state.choice.stale >= t.early_stopping_patience:
                        bar.write(f"step {state.step}: no better on the validation tasks for "
                                  f"{state.choice.stale} evaluations: stopping early")
                        state.stopped_early = True
            if state.step % t.checkpoint_every == 0 or state.step == t.max_steps or state.stopped_early:
                state.wandb_run_id = tracker.run_id
                checkpoint.save(ckpt_root, state.step, model, optimizer,
                                {**state.to_json(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict()},
                                info, t.keep_checkpoints)
            profiler.step()
            if state.stopped_early:
                break
    bar.close()
    if info.is_main and perf.profile:
        if profiler.done:
            print(f"hrmtrain train: profile of {perf.profile_steps} steps in {run_dir / 'profile'} "
                  "(trace.json: chrome://tracing or Perfetto; top_ops.txt: operators by self time)")
        else:
            print("hrmtrain train: perf.profile: the run ended before the profiled window "
                  f"(perf.profile_wait + profile_warmup + profile_steps = "
                  f"{perf.profile_wait + perf.profile_warmup + perf.profile_steps} steps) was complete")
    return state
