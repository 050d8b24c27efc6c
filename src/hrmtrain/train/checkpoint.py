"""Checkpoints with `torch.distributed.checkpoint` (sharded under FSDP, plain files otherwise).

Layout: `<run>/checkpoints/step_00000080/` holding the DCP files of model + optimizer,
`trainer_state.json` (step, scheduler, scaler, metrics so far) and `rng_rank<r>.pt`. A checkpoint is
written to a hidden temporary folder and renamed when complete, so a kill mid-save leaves the
previous checkpoint as the latest.
"""

from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager
import shutil
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

from hrmtrain import atomic
from hrmtrain.errors import CheckpointError
from hrmtrain.train.distributed import DistInfo, barrier

STEP_DIR = re.compile(r"^step_(\d{8})$")


@contextmanager
def _single_process_quiet():
    """DCP warns on every single-process save/load that it assumes one process: that is intended."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def step_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name))


def _options(model) -> StateDictOptions:
    """A run with frozen parameters (LoRA, QLoRA) checkpoints only what trains, plus QLoRA's small quantization
    statistics (bitsandbytes' per-block absmax): the frozen base is the base model's own weights, rebuilt from
    it on resume (for an 8B base, megabytes instead of 16 GB a checkpoint; and 4-bit weights are no plain
    tensors). A full fine-tune has none, and keeps the defaults."""
    if all(p.requires_grad for p in model.parameters()):
        return StateDictOptions()
    return StateDictOptions(ignore_frozen_params=True, strict=False)


def _storage(t: torch.Tensor) -> int:
    """Where a tensor's data lives (its local shard's, for a DTensor): the same for a weight and its tied alias."""
    return (t.to_local() if hasattr(t, "to_local") else t).data_ptr()


def _model_state(model, optimizer) -> tuple[dict, dict, StateDictOptions]:
    """(model state, optimizer state, options): `_options`, and a frozen weight that is tied to another (a tied
    output layer) dropped too, which `ignore_frozen_params` keeps under its second name."""
    options = _options(model)
    model_sd, optim_sd = get_state_dict(model, optimizer, options=options)
    if options.ignore_frozen_params:
        frozen = {_storage(p) for p in model.parameters() if not p.requires_grad}
        model_sd = {k: v for k, v in model_sd.items() if not torch.is_tensor(v) or _storage(v) not in frozen}
    return model_sd, optim_sd, options


def save(root: Path, step: int, model, optimizer, state: dict, info: DistInfo, keep: int) -> Path:
    final = root / f"step_{step:08d}"
    tmp = root / f".step_{step:08d}.tmp"
    if info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier(info)
    model_sd, optim_sd, _ = _model_state(model, optimizer)
    try:
        with _single_process_quiet():
            dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
        torch.save(torch.get_rng_state(), tmp / f"rng_rank{info.rank}.pt")
        barrier(info)
        if info.is_main:
            atomic.write_json(tmp / "trainer_state.json", state)
    except (Exception, CheckpointException) as exc:  # CheckpointException is a BaseException
        raise _write_error(final, tmp, exc) from None
    if info.is_main:
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in step_dirs(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier(info)
    return final


def _write_error(final: Path, tmp: Path, exc: BaseException) -> CheckpointError:
    """Remove the half-written folder and say why the write failed: a full disk shows up from DCP as a
    zip writer's 'unexpected pos', so the free space is measured and named rather than guessed from it."""
    written = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.is_dir() else 0
    shutil.rmtree(tmp, ignore_errors=True)
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    why = lines[-1][:300] if lines else type(exc).__name__
    free = shutil.disk_usage(final.parent).free
    hint = " (free space, or lower trainer.keep_checkpoints)" if free < max(written, 2**30) else ""
    return CheckpointError(f"{final}: cannot write checkpoint ({why}); {free / 1e9:.2f} GB free on its disk after "
                           f"{written / 1e9:.2f} GB were written{hint}. The checkpoints before it are untouched")


def latest(root: Path) -> Path | None:
    dirs = step_dirs(root)
    return dirs[-1] if dirs else None


def load(path: Path, model, optimizer, info: DistInfo) -> dict:
    """Restore model, optimizer and RNG in place; return the trainer state."""
    state_file = path / "trainer_state.json"
    if not (path / ".metadata").is_file() or not state_file.is_file():
        raise CheckpointError(f"{path}: incomplete checkpoint (missing "
                              f"{'.metadata' if not (path / '.metadata').is_file() else 'trainer_state.json'}); "
                              "delete this folder to resume from the one before it")
    try:
        state = json.loads(state_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{state_file}: corrupt trainer state ({exc})") from None
    model_sd, optim_sd, options = _model_state(model, optimizer)
    sd = {"model": model_sd, "optim": optim_sd}
    try:
        with _single_process_quiet():
            dcp.load(sd, checkpoint_id=str(path))
    except (Exception, CheckpointException) as exc:  # CheckpointException is a BaseException
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        raise CheckpointError(f"{path}: cannot load checkpoint ({lines[-1][:300] if lines else type(exc).__name__}); "
                              "is it corrupt, or from another model config? Delete it to resume from the "
                              "one before it") from None
    set_state_dict(model, optimizer, model_state_dict=sd["model"], optim_state_dict=sd["optim"], options=options)
    rng = path / f"rng_rank{info.rank}.pt"
    if rng.is_file():
        torch.set_rng_state(torch.load(rng, weights_only=True))
    return state
