"""The L-Module's system prompt: the same words in the training data (data/instruct.py) and wherever the
model is run (eval's tasks, the safety set), with the household's date and time."""

from __future__ import annotations

from datetime import datetime

SYSTEM = ("You are the L-Module of a household assistant. Carry out the step you are given with the "
          "household tools, then answer briefly.")


def system_prompt(now: str) -> str:
    """SYSTEM with the household's date and time, which requests such as "this Friday" need."""
    dt = datetime.fromisoformat(now)
    return f"{SYSTEM} It is {dt:%A %d %B %Y}, {dt:%H:%M}."
