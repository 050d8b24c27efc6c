"""Instruction examples: every gold call runs on the household tools; replaying them reproduces the state."""

from __future__ import annotations

from collections import Counter

import pytest

from hrmtrain.data.instruct import BUILDERS, GoldCallError, MULTI_STEP, build_examples
from hrmtrain.data.sources.ingest import ingest
from hrmtrain.data.sources.records import Directory, Record
from hrmtrain.data.synth import generate
from hrmtrain.household.state import Household
from hrmtrain.household.tools import execute


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    hh = generate(tmp_path_factory.mktemp("hh") / "household", seed=0)
    directory = Directory.load(hh.root / "household.json")
    loaded, _ = ingest(hh.root, directory)
    return build_examples(loaded.records, directory.now, seed=0)


def test_every_task_type_is_built(examples):
    counts = Counter(e["task_type"] for e in examples)
    assert set(counts) == set(BUILDERS)
    assert all(e["multi_step"] == (e["task_type"] in MULTI_STEP) for e in examples)


def test_rows_are_trl_conversations_with_tools(examples):
    for e in examples:
        roles = [m["role"] for m in e["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        called = {c["function"]["name"] for m in e["messages"] for c in m.get("tool_calls", [])}
        offered = {t["function"]["name"] for t in e["tools"]}
        assert called and called <= offered


def test_multi_step_tasks_need_several_calls(examples):
    for e in examples:
        calls = sum(len(m.get("tool_calls", [])) for m in e["messages"])
        assert calls >= (2 if e["multi_step"] else 1)


def test_tool_turns_are_what_the_tools_return(examples):
    """Replaying the gold calls on a fresh household gives the recorded tool outputs (for state-free starts)."""
    for e in (x for x in examples if x["task_type"] in ("schedule", "shopping", "add_todo", "fitness_plan")):
        h = Household(now="2026-03-02T09:00", seed=0)
        msgs = e["messages"]
        for i, m in enumerate(msgs):
            for c in m.get("tool_calls", []):
                result = execute(h, c["function"]["name"], c["function"]["arguments"])
                assert not result.error and result.text() == msgs[i + 1]["content"]


def test_a_record_the_tools_reject_is_named():
    bad = Record("event", "calendar", "cal.ics", "u#1", {"title": "x", "start": "2026-03-05T10:00",
                                                        "end": "2026-03-05T09:00", "attendees": [], "uid": "u"})
    with pytest.raises(GoldCallError, match=r"cal.ics \(u#1\): cannot build a schedule example.*end must be after start"):
        build_examples([bad], "2026-03-02T09:00")
