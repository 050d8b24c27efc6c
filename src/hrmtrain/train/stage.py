"""`hrmtrain train`: set up (model, data, run folder, tracking), run the loop, save the model.

Everything that can fail on bad input (config values, model lookup, every data row) is checked
before the run folder is created, so a failed start leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from omegaconf import OmegaConf

from hrmtrain import __version__, atomic, config
from hrmtrain.errors import CheckpointError, DataError, HrmError
from hrmtrain.train import checkpoint, distributed, perf
from hrmtrain.models import base as base_model
from hrmtrain.train import model as models
from hrmtrain.prompt.chat import ChatEncoder
from hrmtrain.train.dataset import StepBatches, encode_rows, evenly_spaced, load_train_val
from hrmtrain.train.household_tokenizer import SUBDIR as TOKENIZER_SUBDIR
from hrmtrain.train.household_tokenizer import tiny_tokenizer, uses_household_tokenizer, vocabulary_digest
from hrmtrain.train.loop import LoopState, fit
from hrmtrain.lineage import content_hash  # the same hash the lineage log records for the data
from hrmtrain.train.loss import SFTLoss
from hrmtrain.models.precision import DTYPES
from hrmtrain.models.precision import resolve as resolve_precision
from hrmtrain.train.schedule import make_scheduler
from hrmtrain.train.tracking import Tracker
from hrmtrain import runs

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

# Config sections that must match between a run and its resumption (the rest may change, e.g. max_steps).
FROZEN_ON_RESUME = ("model", "data.path", "data.val_ratio", "data.seed", "trainer.batch_size",
                    "trainer.gradient_accumulation_steps", "trainer.max_length", "trainer.val_subset")


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path
    summary: dict
    dist: distributed.DistInfo

    def close(self, hard_exit: bool = True) -> None:
        """Tear the process group down (FSDP runs exit here unless `hard_exit=False`: see distributed.teardown)."""
        distributed.teardown(self.dist, hard_exit)


def _broadcast(obj, info: distributed.DistInfo):
    if not info.enabled:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def _check_same_vocabulary(tokenizer, info: distributed.DistInfo) -> None:
    """Every rank trained the household tokenizer itself: they must have learnt the same one."""
    mine = vocabulary_digest(tokenizer)
    if _broadcast(mine, info) != mine:
        raise HrmError(f"rank {info.rank} learnt a different household tokenizer than rank 0 "
                       "(tokenizers' BPE trainer not deterministic here?); use model.tiny.tokenizer=qwen3")


_ABSENT = object()


def run_folder(cfg: HrmConfig, info: distributed.DistInfo) -> tuple[Path, bool]:
    """(run folder, resuming?) without creating anything yet."""
    root = Path(cfg.run.dir)
    if cfg.trainer.resume:
        if cfg.run.name:
            run_dir = root / cfg.run.name
            if not checkpoint.latest(run_dir / "checkpoints"):
                raise CheckpointError(f"{run_dir}: trainer.resume=true but this run has no checkpoint to resume from")
            return run_dir, True
        candidates = runs.runs_with(root, "checkpoints", check=lambda run: bool(checkpoint.latest(run / "checkpoints")))
        if not candidates:
            raise CheckpointError(f"{root}: trainer.resume=true but no run under it has a checkpoint "
                                  "(name one with run.name=...)")
        return candidates[-1], True
    name = cfg.run.name or _broadcast(runs.new_run_name(cfg.model.target.lower()), info)
    run_dir = root / name
    if run_dir.exists() and any(run_dir.iterdir()):  # an empty one: a sweep job's folder Hydra made
        raise HrmError(f"{run_dir} already exists: pass trainer.resume=true to continue it, "
                       "or choose another run.name")
    return run_dir, False


def _check_same_config(run_dir: Path, cfg) -> None:
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        raise CheckpointError(f"{saved_path}: missing; cannot check the resumed run's config")
    saved = OmegaConf.load(saved_path)
    # a key the saved config lacks came in a later hrmtrain version, where its default keeps the old behaviour
    changed = [k for k in FROZEN_ON_RESUME if OmegaConf.select(saved, k, default=_ABSENT) is not _ABSENT
               and OmegaConf.to_container(OmegaConf.create({"v": config.select(saved, k)}))
               != OmegaConf.to_container(OmegaConf.create({"v": config.select(cfg, k)}))]
    if changed:
        raise CheckpointError(f"{run_dir}: cannot resume with a different {', '.join(changed)} "
                              f"than the run was started with (see {saved_path})")


@dataclass
class _Data:
    """What the data phase hands on: the base, its tokenizer, the encoded splits and the run folder."""

    source: base_model.ModelSource
    tokenizer: object
    train_rows: list
    train_ex: list
    val_ex: list
    batches: StepBatches
    run_dir: Path
    resuming: bool


@dataclass
class _Setup:
    """What the model phase hands on."""

    model: torch.nn.Module
    sft: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    perf_report: perf.PerfReport
    loader_kwargs: dict
    precision: str
    precision_why: str
    total_params: int
    trainable_params: int


def train(cfg: HrmConfig) -> TrainResult:
    """`hrmtrain train`, in phases: data (encode the splits, name the run), the run folder, the model and its
    optimizer, a checkpoint to resume from, the loop (with the validation tasks that choose the weights),
    and the saved model with its lineage entry."""
    started = time.perf_counter()
    info = distributed.setup(cfg.trainer)
    torch.manual_seed(cfg.trainer.seed)
    from hrmtrain.lineage import AuditLog

    log = AuditLog(cfg.lineage.dir)
    if info.is_main:
        log.check()  # before any work: a model must never be left without its entry
    data = _prepare_data(cfg, info)
    _open_run_folder(cfg, data, info)
    setup = _build_model(cfg, data, info)
    state = _resume_or_start(cfg, data, setup, info)
    summary = _fit_and_choose(cfg, data, setup, state, info, started)
    return _save_and_record(cfg, data, setup, summary, log, info)


def _prepare_data(cfg: HrmConfig, info: distributed.DistInfo) -> _Data:
    source = base_model.resolve(cfg.model.base, cfg.model.revision)
    tokenizer = base_model.load_tokenizer(source, cfg.model.chat_template)
    train_rows, val_rows = load_train_val(cfg.data.path, cfg.data.val_ratio, cfg.data.seed)
    val_rows = evenly_spaced(val_rows, cfg.trainer.val_subset)
    run_dir, resuming = run_folder(cfg, info)  # named, not created yet
    if info.is_main:
        atomic.ensure_writable(run_dir.parent, "run.dir folder")
    if source.is_tiny and uses_household_tokenizer(cfg.model):
        tokenizer = tiny_tokenizer(cfg.model, cfg.data, tokenizer, train_rows, run_dir, resuming)
        _check_same_vocabulary(tokenizer, info)
    encoder = ChatEncoder(tokenizer, enable_thinking=cfg.data.enable_thinking)
    train_ex = encode_rows(train_rows, encoder, cfg.trainer.max_length)
    val_ex = encode_rows(val_rows, encoder, cfg.trainer.max_length)
    t = cfg.trainer
    try:
        batches = StepBatches(train_ex, t.batch_size, t.gradient_accumulation_steps, t.seed,
                              info.rank, info.world_size, tokenizer.pad_token_id,
                              # packed: the micro-batch in one row, no padding (varlen_attention.py keeps the sequences apart)
                              pack_width=t.max_length * t.batch_size if t.packing else None,
                              group_by_length=t.group_by_length)
    except ValueError as exc:
        raise DataError(cfg.data.path, str(exc)) from None
    return _Data(source, tokenizer, train_rows, train_ex, val_ex, batches, run_dir, resuming)


def _open_run_folder(cfg: HrmConfig, data: _Data, info: distributed.DistInfo) -> None:
    """A resumed run's config must match; a new run's folder gets its config (and household tokenizer)."""
    distributed.barrier(info)  # every rank has looked before rank 0 creates the folder
    if data.resuming:
        _check_same_config(data.run_dir, cfg)
    elif info.is_main:
        data.run_dir.mkdir(parents=True, exist_ok=True)  # may exist, empty (run_folder)
        atomic.write_text(data.run_dir / "config.yaml", config.to_yaml(cfg))
        if data.source.is_tiny and uses_household_tokenizer(cfg.model):
            with atomic.staged_dir(data.run_dir / TOKENIZER_SUBDIR) as tmp:
                data.tokenizer.save_pretrained(tmp)
    distributed.barrier(info)


def _build_model(cfg: HrmConfig, data: _Data, info: distributed.DistInfo) -> _Setup:
    t = cfg.trainer
    if cfg.model.lora.qlora and info.strategy == "fsdp":
        raise HrmError("model.lora.qlora=true cannot be sharded with FSDP2 here (bitsandbytes' 4-bit weights are no "
                       "plain tensors to shard): use trainer.strategy=ddp, or plain LoRA with FSDP")
    precision, precision_why = resolve_precision(str(t.precision), info.device.type)
    frozen = DTYPES[precision] if cfg.model.lora.enabled and precision in ("bf16", "fp16") else None
    model = models.load_model(data.source, cfg.model, data.tokenizer, frozen_dtype=frozen).to(info.device)
    total_params, trainable_params = models.count_parameters(model)
    perf_report = perf.PerfReport()
    _apply_perf(cfg.perf, model, perf_report)
    sft = distributed.wrap(SFTLoss(models.causal_lm(model), t.loss_chunk_size), info)
    optimizer = perf.make_optimizer([p for p in sft.parameters() if p.requires_grad], t, cfg.perf.fused_adamw,
                                    info.device, perf_report)
    loader_kwargs = perf.describe_loader(cfg.perf, info.device, perf_report)
    scheduler = make_scheduler(optimizer, t)
    return _Setup(model, sft, optimizer, scheduler, perf_report, loader_kwargs, precision, precision_why,
                  total_params, trainable_params)


def _resume_or_start(cfg: HrmConfig, data: _Data, setup: _Setup, info: distributed.DistInfo) -> LoopState:
    """The loop's state: from the latest checkpoint when resuming (metrics past it dropped), else fresh."""
    t, run_dir = cfg.trainer, data.run_dir
    state = LoopState()
    if data.resuming:
        path = checkpoint.latest(run_dir / "checkpoints")
        saved = checkpoint.load(path, setup.sft, setup.optimizer, info)
        setup.scheduler.load_state_dict(saved["scheduler"])
        state = LoopState(step=saved["step"], val_history=saved["val_history"], tokens_seen=saved["tokens_seen"],
                          wandb_run_id=saved.get("wandb_run_id"), scaler_state=saved.get("scaler"))
        if info.is_main:
            (run_dir / "metrics.jsonl").touch()
            from hrmtrain.train.loop import MetricsLog

            MetricsLog(run_dir / "metrics.jsonl", True).truncate_after(state.step)
            print(f"hrmtrain train: resuming {run_dir} from step {state.step} ({path.name})")
    if state.step >= t.max_steps and (run_dir / "model").is_dir():
        raise HrmError(f"{run_dir}: already trained to step {state.step} (trainer.max_steps={t.max_steps}); "
                       "raise trainer.max_steps to train further")
    return state


def _fit_and_choose(cfg: HrmConfig, data: _Data, setup: _Setup, state: LoopState, info: distributed.DistInfo,
                    started: float) -> dict:
    """Train to trainer.max_steps; put back the weights the validation tasks chose; the run's summary."""
    run_dir, model = data.run_dir, setup.model
    tracker = Tracker(run_dir, cfg.logging.wandb_project, run_dir.name,
                      config.plain(cfg),
                      str(cfg.logging.wandb_mode) if info.is_main else "disabled",
                      cfg.logging.wandb_entity, state.wandb_run_id)
    if info.is_main:
        print(f"hrmtrain train: {run_dir}  model={cfg.model.base} ({setup.total_params / 1e6:.1f}M params, "
              f"{setup.trainable_params / 1e6:.2f}M trainable{', LoRA' if cfg.model.lora.enabled else ''}"
              f"{', nvfp4 fake-quant' if cfg.model.quant == 'nvfp4' else ''})  device={info.device}  "
              f"precision={setup.precision} ({setup.precision_why})  "
              f"processes={info.world_size} ({info.strategy})  train={len(data.train_ex)} sequences "
              f"from {len(data.train_rows)} rows, val={len(data.val_ex)}  W&B={tracker.mode}")
        print(f"hrmtrain train: perf: {setup.perf_report}")
    tasks = _task_validation(cfg, data.tokenizer, info)
    try:
        state = fit(cfg.trainer, cfg.perf, setup.sft, setup.optimizer, setup.scheduler, data.batches, data.val_ex,
                    run_dir, info, tracker, state, data.tokenizer.pad_token_id, setup.loader_kwargs, tasks, models.causal_lm(model))
        if state.choice is not None:
            from hrmtrain.train.task_validation import restore

            restore(state.choice, models.causal_lm(model))
            if info.is_main:
                print(f"hrmtrain train: keeping the weights of step {state.choice.step} "
                      f"({state.choice.success}/{state.choice.n} validation tasks, val loss {state.choice.val_loss:.4f})")
        summary = _summary(cfg, run_dir, state, setup.total_params, setup.trainable_params, len(data.train_ex),
                           len(data.val_ex), time.perf_counter() - started)
        summary["precision"] = setup.precision
        summary["perf"] = dict(setup.perf_report.lines)
        if state.choice is not None:
            summary["checkpoint"] = {**state.choice.to_json(), "stopped_early": state.stopped_early}
        if (run_dir / "profile" / "trace.json").is_file():
            summary["profile"] = str(run_dir / "profile")
        tracker.summary(summary["metrics"])
    finally:
        tracker.finish()
    return summary


def _save_and_record(cfg: HrmConfig, data: _Data, setup: _Setup, summary: dict, log, info: distributed.DistInfo) -> TrainResult:
    """The saved model (and NVFP4 checkpoint), then its lineage entry; outputs whose entry the audit log
    refuses are moved out of use (_unrecorded)."""
    from hrmtrain.train.save import save_final_model

    run_dir, source = data.run_dir, data.source
    model_dir = save_final_model(cfg, source, setup.model, setup.sft, data.tokenizer, run_dir, info, summary)
    outputs = [model_dir]
    if info.is_main and cfg.model.quant == "nvfp4" and cfg.model.nvfp4_export != "none":
        summary["nvfp4_checkpoint"] = _nvfp4_checkpoint(cfg, model_dir, run_dir, data.val_ex, data.tokenizer.pad_token_id)
        atomic.write_json(run_dir / "summary.json", summary)
        if summary["nvfp4_checkpoint"].get("path"):
            outputs.append(Path(summary["nvfp4_checkpoint"]["path"]))
    if info.is_main:
        try:
            log.append("train", inputs=[cfg.data.path] + ([source.path] if source.path else []), outputs=outputs,
                       config=config.plain(cfg),
                       details={"run": run_dir.name, "metrics": summary["metrics"],
                                **({"base_provenance": source.provenance} if source.provenance else {})})
        except BaseException as exc:
            raise _unrecorded(run_dir, outputs, exc) from exc
    return TrainResult(run_dir, model_dir, summary, info)


def _task_validation(cfg: HrmConfig, tokenizer, info):
    """The validation tasks that choose the saved weights (trainer.eval_tasks_every > 0), or None."""
    t = cfg.trainer
    if not t.eval_tasks_every:
        return None
    val = Path(cfg.data.path) / "val.parquet"
    why = ("it needs the validation split `hrmtrain data` writes (val.parquet with initial_state)"
           if not val.is_file() else
           "it runs in a single process (under torchrun the ranks would have to wait for it)"
           if info.world_size > 1 else "")
    if not why:
        from hrmtrain.agent.loop import Budget
        from hrmtrain.agent.tasks import load_tasks

        try:
            load_tasks(val)
        except DataError as exc:
            why = f"its validation split holds no tasks ({exc})"
    if why:
        if info.is_main:
            print(f"hrmtrain train: trainer.eval_tasks_every={t.eval_tasks_every} ignored: {why}; the last step's "
                  "weights are saved")
        return None
    from hrmtrain.train.task_validation import TaskValidation

    return TaskValidation(val, tokenizer, t.eval_tasks, cfg.data.enable_thinking,
                          Budget(**config.plain(cfg.eval.budget)), cfg.eval.batch_size)


def _unrecorded(run_dir: Path, outputs: list[Path], exc: BaseException) -> HrmError:
    """The audit log refused the entry: move the outputs where nothing downstream (eval, export) looks,
    so no model is used without its lineage, yet hours of training are not deleted."""
    hold = run_dir / ".unrecorded"
    hold.mkdir(exist_ok=True)
    moved = []
    for out in outputs:
        if out.exists():
            target = hold / out.name
            shutil.rmtree(target, ignore_errors=True)
            os.replace(out, target)
            moved.append(str(target))
    return HrmError(f"{run_dir}: the audit log took no entry for this run ({type(exc).__name__}: {exc}), so its "
                    f"outputs were moved out of use to {', '.join(moved) or hold}: fix the log, then train again")


def _nvfp4_checkpoint(cfg, model_dir: Path, run_dir: Path, val_ex, pad_id: int) -> dict:
    """Write the ModelOpt NVFP4 checkpoint beside the model, reload it and measure its validation
    loss; without ModelOpt the run still succeeds and says what is missing."""
    from hrmtrain.models import nvfp4_checkpoint as export_nvfp4
    from hrmtrain.train.dataset import ValBatches, loader
    from hrmtrain.train.loop import evaluate
    from hrmtrain.models.precision import Precision

    why = export_nvfp4.modelopt_missing()
    if why:
        print(f"hrmtrain train: NVFP4 deployment checkpoint not written: {why}")
        return {"written": False, "why": why}
    weight_only = cfg.model.nvfp4_export == "w4a16"
    calibration = [torch.tensor([e.input_ids]) for e in val_ex[:cfg.model.nvfp4_calibration_sequences]]
    out = run_dir / export_nvfp4.SUBDIR
    manifest = export_nvfp4.write_nvfp4_checkpoint(model_dir, out, calibration, weight_only)
    reloaded = export_nvfp4.load_nvfp4_checkpoint(out)
    val = evaluate(SFTLoss(reloaded, cfg.trainer.loss_chunk_size), loader(ValBatches(val_ex, cfg.trainer.batch_size,
                   pad_id), {}), Precision("fp32", "cpu"), torch.device("cpu"))
    print(f"hrmtrain train: NVFP4 checkpoint ({manifest['quant_algo']}, ModelOpt {manifest['modelopt_version']}) "
          f"in {out}; reloaded, its validation loss is {val:.4f}")
    return {"written": True, "path": str(out), "quant_algo": manifest["quant_algo"],
            "modelopt_version": manifest["modelopt_version"], "val_loss_reloaded": val}


def _apply_perf(perf_cfg, model, report: perf.PerfReport) -> None:
    """Model-side perf options, before the distributed wrapper (compile and checkpointing act per
    decoder layer, under DDP and FSDP2 alike)."""
    if perf_cfg.gradient_checkpointing:
        perf.enable_gradient_checkpointing(model, report)
    if perf_cfg.channels_last:
        perf.apply_channels_last(model, report)
    perf.compile_layers(model, str(perf_cfg.compile), report)


def _summary(cfg: HrmConfig, run_dir, state: LoopState, total_params, trainable_params, n_train, n_val, seconds) -> dict:
    from hrmtrain.train.loop import read_metrics_rows, step_statistics

    rows = read_metrics_rows(run_dir / "metrics.jsonl")
    steps = [r for r in rows if "train/loss" in r]
    first_val, last_val = state.val_history[0][1], state.val_history[-1][1]
    return {
        "run": run_dir.name,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hrmtrain_version": __version__,
        "metrics": {
            "steps": state.step,
            "train_loss_final": steps[-1]["train/loss"] if steps else None,
            "val_loss_first": first_val,
            "val_loss_final": last_val,
            "val_loss_drop": 1.0 - last_val / first_val if first_val else None,
            "tokens_seen": state.tokens_seen,
            **step_statistics(rows),
            "wall_time_s": seconds,
        },
        "model": {"base": cfg.model.base, "params": total_params, "trainable_params": trainable_params,
                  "lora": bool(cfg.model.lora.enabled), "quant": str(cfg.model.quant)},
        "data": {"path": str(cfg.data.path), "sha256": content_hash(cfg.data.path),
                 "train_sequences": n_train, "val_sequences": n_val},
    }


def print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    m = summary["metrics"]
    table = Table(title=f"hrmtrain train: {summary['run']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in [("steps", m["steps"]), ("train loss (last step)", m["train_loss_final"]),
                       ("val loss (first eval)", m["val_loss_first"]), ("val loss (final)", m["val_loss_final"]),
                       ("val loss drop", f"{m['val_loss_drop']:.1%}" if m["val_loss_drop"] is not None else "-"),
                       ("tokens/s (median)", f"{m['tokens_per_s_median']:,.0f}"),
                       ("step time (s, median)", f"{m['step_time_s_median']:.3f}" if m.get("step_time_s_median") else "-"),
                       ("peak memory (MB)", f"{m['peak_memory_mb']:,.0f}" if m["peak_memory_mb"] else "-"),
                       ("wall time (s)", f"{m['wall_time_s']:.0f}"),
                       ("precision", summary.get("precision", "-"))]:
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)


def run(cfg: HrmConfig) -> None:
    result = train(cfg)
    if result.dist.is_main:
        print_summary(result.summary)
        print(f"model: {result.model_dir}")
    result.close()
