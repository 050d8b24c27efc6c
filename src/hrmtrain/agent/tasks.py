"""Household tasks in the tau2-bench style: a starting household, a request, gold tool calls, a check.

Success is judged on outcomes, not on the path: the household at the end of the episode must equal
the household that replaying the gold calls on the starting state gives (state hashes compared),
and, for tasks that only look something up (the state does not change), the answer must mention
what the lookup found (an event's title, a mail's subject, a recipe), which nothing but the tools
can tell the model. The test split written by `hrmtrain data` becomes a task set automatically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hrmtrain.errors import DataError
from hrmtrain.household.state import Household
from hrmtrain.household.tools import execute

LOOKUP_KEYS = ("title", "subject")  # what a read-only task's answer must repeat from the tool results


@dataclass
class Task:
    task_id: str
    task_type: str
    request: str
    tools: list[dict]
    initial_state: dict
    gold_calls: list[tuple[str, dict]]
    gold_answer: str = ""
    system: str = ""
    multi_step: bool = False
    expected_hash: str = ""
    must_mention: list[str] = field(default_factory=list)
    phrasing: str = ""  # the request's template (data/phrasing.py), when the data builder wrote it
    held_out_phrasing: bool = False  # a template training never used

    def start(self) -> Household:
        return Household.from_dict(self.initial_state)

    def check(self, household: Household, answer: str, calls=(), dialogue=()) -> tuple[bool, str]:
        """(success, why not). `calls`: the episode's call records, `dialogue`: its user turns (outcome checks
        need neither; eval/safety.py and eval/dialogue.py do)."""
        if household.state_hash() != self.expected_hash:
            return False, "final household differs from the gold outcome"
        missing = [m for m in self.must_mention if m.lower() not in (answer or "").lower()]
        if missing:
            return False, f"answer does not mention {', '.join(repr(m) for m in missing)}"
        return True, ""


def _strings(obj, keys=LOOKUP_KEYS) -> list[str]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in keys and isinstance(v, str):
                out.append(v)
            else:
                out += _strings(v, keys)
    elif isinstance(obj, list):
        for v in obj:
            out += _strings(v, keys)
    return out


def task_from_row(row: dict, task_id: str) -> Task:
    """A task from one SFT row (TRL conversation + `initial_state`), gold calls replayed to get the outcome."""
    messages = row["messages"]
    tools = json.loads(row["tools"]) if isinstance(row["tools"], str) else row["tools"]
    state = json.loads(row["initial_state"]) if isinstance(row["initial_state"], str) else row["initial_state"]
    calls = []
    for m in messages:
        for c in m.get("tool_calls") or []:
            args = c["function"]["arguments"]
            calls.append((c["function"]["name"], json.loads(args) if isinstance(args, str) else args))
    h = Household.from_dict(state)
    before = h.state_hash()
    looked_up = []
    for name, args in calls:
        result = execute(h, name, args)
        if result.error:
            raise DataError(task_id, f"gold call {name} fails on the task's own starting state: {result.content['error']}")
        looked_up += _strings(result.content)
    answer = next((m["content"] for m in reversed(messages) if m["role"] == "assistant" and m.get("content")), "")
    read_only = h.state_hash() == before
    mention = sorted({s for s in looked_up if s.lower() in answer.lower()}) if read_only else []
    return Task(task_id=task_id, task_type=row["task_type"], request=messages[1]["content"], tools=tools,
                initial_state=state, gold_calls=calls, gold_answer=answer, system=messages[0]["content"],
                multi_step=bool(row.get("multi_step")), expected_hash=h.state_hash(), must_mention=mention,
                phrasing=row.get("phrasing") or "", held_out_phrasing=bool(row.get("held_out_phrasing")))


def load_tasks(path: str | Path) -> list[Task]:
    """Tasks from a split file (`test.parquet` of `hrmtrain data`) or a JSONL task file of the same rows."""
    path = Path(path)
    if path.is_dir():
        path = path / "test.parquet"
    if not path.is_file():
        raise DataError(path, "no task file (run `hrmtrain data` to write the test split)")
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = list(enumerate(pq.read_table(path).to_pylist(), start=1))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(path, f"not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    else:
        from hrmtrain.jsonl import read_json_lines

        rows = read_json_lines(path)
    if not rows:
        raise DataError(path, "holds no tasks: an evaluation of 0 tasks would say nothing")
    tasks = []
    for n, row in rows:
        if not isinstance(row, dict):
            raise DataError(path, f"a task is a JSON object, found {type(row).__name__}", n)
        missing = [k for k in ("messages", "tools", "initial_state", "task_type") if row.get(k) in (None, "", [])]
        if missing:
            raise DataError(path, f"missing {', '.join(repr(k) for k in missing)} (rows as `hrmtrain data` writes them)", n)
        try:
            row = {**row, "messages": [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]}
            tasks.append(task_from_row(row, f"{path.stem}-{n}"))
        except DataError as exc:
            raise DataError(path, exc.problem, n) from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(path, f"not a task row ({type(exc).__name__}: {exc})", n) from None
    return tasks
