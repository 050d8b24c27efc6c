"""Slot-varied training copies: what changes, what stays, and that nothing reaches val/test."""

from __future__ import annotations

import ast
import json
import re
from datetime import date
from pathlib import Path

import pytest

from helpers import compose
from hrmtrain.config import ConfigValueError, check_values
from hrmtrain.data.augment import TEXT_SLOTS, varied_records, word_pools
from hrmtrain.data.build import build
from hrmtrain.data.instruct import REPLY_NOTES, build_examples
from hrmtrain.data import phrasing
from hrmtrain.data.phrasing import NUMBER_WORDS
from hrmtrain.data.sources.ingest import ingest
from hrmtrain.privacy.directory import Directory
from hrmtrain.sample.household import generate


@pytest.fixture(scope="module")
def household(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("vary")
    generate(tmp / "household", seed=0)
    return tmp


def _records(folder: Path):
    directory = Directory.load(folder / "household.json")
    return ingest(folder, directory)[0].records, directory.now


def test_copies_redraw_slots_from_the_pool_and_keep_everything_else(household):
    records, now = _records(household / "household")
    pools = word_pools(records)
    varied, origin = varied_records(records, copy=0, now=now, seed=0)
    assert len(varied) == len(records) and set(origin.values()) == {r.record_id for r in records}
    changed = 0
    for rec, v in zip(records, varied):
        assert (v.kind, v.category, v.source, v.members) == (rec.kind, rec.category, rec.source, rec.members)
        assert v.record_id != rec.record_id and origin[v.record_id] == rec.record_id
        for slot in TEXT_SLOTS.get(rec.kind, ()):
            if isinstance(rec.fields.get(slot), str):
                pool = {w.lower() for w in pools[(rec.kind, slot)]}  # a phrase may start with a capital
                assert {w.lower() for w in v.fields[slot].split()} <= pool
                changed += v.fields[slot] != rec.fields[slot]
        if rec.kind == "event" and not rec.fields.get("all_day"):
            assert v.fields["end"] > v.fields["start"]
        for key in ("attendees", "assignee", "sender", "body", "ingredients"):
            assert v.fields.get(key) == rec.fields.get(key)  # people and contents are not redrawn
    assert changed > 0.8 * len(records)
    # every copy builds: each gold call runs on the tools without an error
    assert len(build_examples(varied, now)) >= len(records)
    again, _ = varied_records(records, copy=0, now=now, seed=0)
    other, _ = varied_records(records, copy=1, now=now, seed=0)
    assert [r.fields for r in again] == [r.fields for r in varied] != [r.fields for r in other]


def test_dates_move_within_the_household_calendar(household):
    records, now = _records(household / "household")
    varied, _ = varied_records(records, copy=3, now=now, seed=1)
    today = date.fromisoformat(now[:10])
    dues = [(date.fromisoformat(v.fields["due"]) - today).days for v in varied if v.kind == "todo" and v.fields.get("due")]
    starts = [(date.fromisoformat(v.fields["start"][:10]) - today).days for v in varied
              if v.kind == "event" and not v.fields.get("all_day")]
    assert len(dues) >= 3 and len(starts) >= 10  # the sample household has both: the checks below check something
    assert all(0 <= d <= 40 for d in dues), dues
    assert all(-21 <= d <= 56 for d in starts), starts


def _rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def test_copies_go_to_train_only_and_use_only_train_words(household):
    tmp = household
    build(compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / 'plain'}", f"lineage.dir={tmp / 'l0'}",
                   "data.vary_copies=0", "data.balance=none"]))
    build(compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / 'varied'}", f"lineage.dir={tmp / 'l1'}",
                   "data.vary_copies=2", "data.balance=none"]))
    for split in ("val", "test"):  # held-out splits are the same with or without copies
        assert _rows(tmp / "plain" / f"{split}.parquet") == _rows(tmp / "varied" / f"{split}.parquet")
    plain, varied = _rows(tmp / "plain" / "train.parquet"), _rows(tmp / "varied" / "train.parquet")
    assert len(varied) == 3 * len(plain)
    # copies carry the record_id of a training record (lineage), never one of val/test
    train_ids = {r["record_id"] for r in plain}
    held_out = {r["record_id"] for s in ("val", "test") for r in _rows(tmp / "plain" / f"{s}.parquet")}
    assert {r["record_id"] for r in varied} == train_ids and not train_ids & held_out
    # no word that only the held-out rows have reaches a copy (the pools are built from training records)
    def words(rows):  # of the requests
        return {w.lower() for r in rows for m in r["messages"] if m["role"] == "user"
                for w in re.findall(r"[A-Za-z]+", m["content"])}

    records, _ = _records(tmp / "household")
    in_train = {w.lower() for r in records if r.record_id in train_ids for w in re.findall(r"[A-Za-z]+", str(r.fields))}
    # the words phrasing.py writes dates and times with ("today", "Friday the 3rd", "half past four") come from no
    # record: which of them a copy draws depends on the set order of its pools, so they are not held-out words
    import calendar

    # nor are the fixed notes a drafted reply quotes ("we'll get back to you"), no record's words either: the
    # 'll' of a held-out row's note failed this test in one run of three
    said = {w.lower() for note in REPLY_NOTES for w in re.findall(r"[A-Za-z]+", note)} | set(NUMBER_WORDS) | {d.lower() for d in calendar.day_name} | {m.lower() for m in calendar.month_name if m} | {
        "today", "tomorrow", "this", "next", "week", "the", "st", "nd", "rd", "th", "am", "pm", "quarter", "half",
        "past", "to", "o", "clock", "in", "morning", "afternoon", "evening"}
    # nor is the wording of phrasing.py's templates ("Reply to the e-mail about ... saying ..."): which templates a
    # copy is asked in is drawn, so a template's words can reach the copies and miss the plain train rows
    source = ast.parse(Path(phrasing.__file__).read_text())
    said |= {w.lower() for node in ast.walk(source) if isinstance(node, ast.Constant) and isinstance(node.value, str)
             for w in re.findall(r"[A-Za-z]+", node.value)}
    held_out_only = (words([r for s in ("val", "test") for r in _rows(tmp / "plain" / f"{s}.parquet")])
                     - in_train - words(plain) - said)
    assert held_out_only, "the sample household should have words only its held-out records use"
    assert not words(varied) & held_out_only, sorted(words(varied) & held_out_only)
    manifest = json.loads((tmp / "varied" / "manifest.json").read_text())
    assert manifest["config"]["vary_copies"] == 2


def test_negative_copies_are_refused_with_the_key():
    with pytest.raises(ConfigValueError, match="data.vary_copies"):
        check_values(compose(["data.vary_copies=-1"]))
