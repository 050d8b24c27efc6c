"""Learning-rate schedule: linear warm-up, then cosine or linear decay to `min_lr_ratio * lr`."""

from __future__ import annotations

import math

import torch


def lr_factor(step: int, warmup: int, total: int, kind: str, min_ratio: float) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "linear":
        decay = 1.0 - progress
    else:
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * decay


def make_scheduler(optimizer, trainer_cfg) -> torch.optim.lr_scheduler.LambdaLR:
    t = trainer_cfg
    kind = str(t.schedule)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, t.warmup_steps, t.max_steps, kind, t.min_lr_ratio))
