"""Pick the checkpoint on the task, not the loss.

Validation loss keeps falling long after a small model stops getting better at the household's
tasks (and a model can reach a low loss while its tool calls still miss an argument), so every
`trainer.eval_tasks_every` steps the model being trained runs a fixed set of validation tasks (the
first `trainer.eval_tasks` rows of the validation split, which shares no record with training or
test) in the flat loop, greedily, exactly as `hrmtrain eval` runs them. The weights with the highest
task success are kept (ties: lower validation loss) and become the saved model; with
`trainer.early_stopping_patience` = P, training stops after P such evaluations without improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class Choice:
    """The best weights seen so far and how they were chosen."""

    step: int = -1
    success: int = -1
    n: int = 0
    val_loss: float = math.inf
    state: dict | None = field(default=None, repr=False)
    stale: int = 0  # evaluations since the last improvement
    history: list = field(default_factory=list)  # [step, successes, n, val loss]

    def to_json(self) -> dict:
        return {"chosen_step": self.step, "success": self.success, "n": self.n, "val_loss": self.val_loss,
                "rule": "highest validation-task success, ties broken by lower validation loss",
                "history": self.history}


class TaskValidation:
    def __init__(self, val_path: Path, tokenizer, max_tasks: int, enable_thinking: bool, budget, batch_size: int):
        from hrmtrain.agent.tasks import load_tasks

        self.tasks = load_tasks(val_path)[:max_tasks]
        self.tokenizer, self.enable_thinking = tokenizer, enable_thinking
        self.budget, self.batch_size = budget, batch_size

    def successes(self, causal_lm, device, precision) -> tuple[int, int]:
        from hrmtrain.agent.loop import flat_episode, run_episodes
        from hrmtrain.agent.policies import LocalPolicy

        was_training = causal_lm.training
        causal_lm.eval()
        try:
            policy = LocalPolicy.in_memory(causal_lm, self.tokenizer, device, self.enable_thinking,
                                           precision.autocast if precision.name != "fp32" else None)
            policy.batch_size = self.batch_size
            episodes = run_episodes([flat_episode(t, policy, self.budget) for t in self.tasks])
        finally:
            causal_lm.train(was_training)
        return sum(e.success for e in episodes), len(episodes)

    def update(self, choice: Choice, step: int, successes: int, n: int, val_loss: float, causal_lm) -> bool:
        """Record an evaluation; keep the weights if they are the best so far. True if they were."""
        choice.history.append([step, successes, n, val_loss])
        if (successes, -val_loss) > (choice.success, -choice.val_loss):
            choice.step, choice.success, choice.n, choice.val_loss, choice.stale = step, successes, n, val_loss, 0
            choice.state = {k: v.detach().to("cpu", copy=True) for k, v in causal_lm.state_dict().items()}
            return True
        choice.stale += 1
        return False


def restore(choice: Choice, causal_lm) -> None:
    """Put the chosen weights back into the model (before it is saved)."""
    if choice.state is not None:
        with torch.no_grad():
            causal_lm.load_state_dict(choice.state)
