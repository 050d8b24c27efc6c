"""Process-group set-up under `torchrun`, and wrapping the model for DDP or FSDP2.

`accelerate launch` is not used: on CPU it started one process for `--num_processes 2`, and with an
FSDP config two unsynchronised trainings (measured here).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    strategy: str = "none"  # none | ddp | fsdp

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from hrmtrain.errors import HrmError

        raise HrmError(f"trainer.device={name!r} but this PyTorch sees no CUDA device (use trainer.device=auto or cpu)")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def setup(trainer_cfg) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(trainer_cfg.device, local)
    if trainer_cfg.num_threads:
        torch.set_num_threads(trainer_cfg.num_threads)
    strategy = str(trainer_cfg.strategy)
    if world == 1:
        return DistInfo(device=device, strategy="none")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    check_membership(rank, world, device)
    return DistInfo(rank, world, local, device, "ddp" if strategy == "auto" else strategy)


def check_membership(rank: int, world: int, device: torch.device) -> None:
    """Every rank proves it is part of the group torchrun described: the group's size and this
    rank agree with the launcher's environment, and one all-gather returns each rank exactly once
    (a rank in another job or a stale rendezvous would hang or fail here, not mid-training)."""
    from hrmtrain.errors import HrmError

    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise HrmError(f"process group mismatch: torchrun says rank {rank} of {world}, the group says rank "
                       f"{dist.get_rank()} of {dist.get_world_size()} (check MASTER_ADDR/--rdzv-endpoint and --nnodes)")
    gathered = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(world)]
    dist.all_gather(gathered, torch.tensor([rank], dtype=torch.int64, device=device))
    seen = sorted(int(t.item()) for t in gathered)
    if seen != list(range(world)):
        raise HrmError(f"rank {rank}: the process group's ranks are {seen}, expected 0..{world - 1} "
                       "(two processes with the same RANK?)")


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    if info.strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [info.device.index] if info.device.type == "cuda" else None
        return DDP(model, device_ids=ids)
    if info.strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for module in model.modules():
            if type(module).__name__.endswith("DecoderLayer"):
                fully_shard(module)
        fully_shard(model)
    return model


def no_sync(model: torch.nn.Module, info: DistInfo, last_micro_batch: bool):
    """Skip the gradient all-reduce on all but the last micro-batch of an accumulation."""
    import contextlib

    if info.strategy == "ddp" and not last_micro_batch:
        return model.no_sync()
    if info.strategy == "fsdp":
        model.set_requires_gradient_sync(last_micro_batch)
    return contextlib.nullcontext()


def all_reduce_sum(value: float, info: DistInfo) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def teardown(info: DistInfo, hard_exit: bool = True) -> None:
    """Destroy the group. FSDP2 over gloo aborted at exit in 3 of 17 runs here ('terminate called
    without an active exception') even after destroy_process_group; exiting with os._exit after
    flushing did so in 0 of 10, so FSDP runs end that way (`hard_exit=False`: the caller has more to
    do in this process and calls `exit_after_fsdp` when done)."""
    if not info.enabled:
        return
    dist.barrier()
    dist.destroy_process_group()
    if hard_exit:
        exit_after_fsdp(info)


def exit_after_fsdp(info: DistInfo) -> None:
    if info.enabled and info.strategy == "fsdp":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
