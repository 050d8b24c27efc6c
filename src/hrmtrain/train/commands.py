"""`hrmtrain train` (supervised fine-tuning of the L-Module) and `hrmtrain plan` (its memory per GPU)."""

from __future__ import annotations


def run(cfg) -> None:
    from hrmtrain.train.stage import run as train

    train(cfg)


def plan(cfg) -> None:
    from hrmtrain.train.memory_plan import run as memory_plan

    memory_plan(cfg)
