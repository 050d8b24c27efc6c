"""`hrmtrain train` (supervised fine-tuning of the L-Module) and `hrmtrain plan` (its memory per GPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def run(cfg: HrmConfig) -> None:
    from hrmtrain.train.stage import run as train

    train(cfg)


def plan(cfg: HrmConfig) -> None:
    from hrmtrain.train.memory_plan import run as memory_plan

    memory_plan(cfg)
