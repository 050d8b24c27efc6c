"""Instruction examples: every gold call runs on the household tools; replaying them reproduces the state."""

from __future__ import annotations

from collections import Counter

import pytest

from hrmtrain.data import phrasing
from hrmtrain.data.instruct import BUILDERS, GoldCallError, MULTI_STEP, build_examples
from hrmtrain.data.sources.ingest import ingest
from hrmtrain.data.sources.records import Record
from hrmtrain.household.state import Household
from hrmtrain.household.tools import execute
from hrmtrain.privacy.directory import Directory
from hrmtrain.sample.household import generate


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


def test_requests_come_in_several_phrasings_and_held_out_ones_change_only_the_wording(examples, tmp_path_factory):
    assert all(len(t) >= phrasing.HELD_OUT + 3 for t in phrasing.TEMPLATES.values()), "too few templates"
    assert set(phrasing.TEMPLATES) == set(BUILDERS)
    used = Counter(e["phrasing"] for e in examples)
    for task_type, templates in phrasing.TEMPLATES.items():
        trained = {f"{task_type}#{i}" for i in range(len(templates) - phrasing.HELD_OUT)}
        assert {p for p in used if p.startswith(task_type + "#")} <= trained  # the trained build never uses held-out ones
    assert len(used) >= 2 * len(BUILDERS)  # more than one template per type in use
    # slot formats vary: dates in words and relative, times in 12-hour form, durations instead of end times
    requests = " ".join(e["messages"][1]["content"] for e in examples)
    for form in ("tomorrow", "this ", " next week", "pm", "minutes", "o'clock"):
        assert form in requests, form
    hh = generate(tmp_path_factory.mktemp("hh2") / "household", seed=0)
    directory = Directory.load(hh.root / "household.json")
    loaded, _ = ingest(hh.root, directory)
    trained = build_examples(loaded.records, directory.now, seed=0)
    held = build_examples(loaded.records, directory.now, seed=0, held_out_phrasing=True)
    assert len(held) == len(trained) == len(examples)
    for a, b in zip(trained, held):
        assert phrasing.is_held_out(b["task_type"], int(b["phrasing"].rsplit("#", 1)[1]))
        assert a["record_id"] == b["record_id"] and a["initial_state"] == b["initial_state"]
        assert a["messages"][2:] == b["messages"][2:]  # same gold calls, tool results and answer
        assert a["messages"][0] == b["messages"][0] and "It is Monday 02 March 2026" in a["messages"][0]["content"]
