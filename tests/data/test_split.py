"""Splits: stratified per task type, no source group (or near-duplicate) on two sides, balancing."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hrmtrain.data.split import assign, balance_split, merge_groups, normalise

WORDS = "apple banana cherry dog egg fig grape house ice jam kite lemon mango nut orange pear".split()


def _examples(n=300, seed=1):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(12))
        for task_type in (["shopping", "calendar", "email"][i % 3], "extra" if i % 10 == 0 else None):
            if task_type:
                rows.append({"task_type": task_type, "group": f"g{i}", "group_text": text})
    return rows


def test_normalise_ignores_case_digits_placeholders_and_punctuation():
    assert normalise("Hi <PERSON_1>, meet at 10:30!") == normalise("hi <PERSON_7> meet at 9:15") == "hi meet at 0 0"


@pytest.mark.parametrize("seed", range(10))
def test_duplicates_and_near_duplicates_stay_in_one_split(seed):
    rows = _examples()
    base = rows[seed * 3]
    rows += [{"task_type": "email", "group": "copy", "group_text": base["group_text"].upper() + " 12"},
             {"task_type": "email", "group": "near", "group_text": base["group_text"] + " plus"}]
    result = assign(rows, 0.2, 0.2, seed=seed)
    where = {}
    for split, items in result.splits.items():
        for e in items:
            assert where.setdefault(e["group"], split) == split, f"group {e['group']} in two splits"
    assert where[base["group"]] == where["copy"] == where["near"]


def test_every_task_type_is_in_every_split_in_proportion():
    result = assign(_examples(), 0.1, 0.1, seed=0)
    for task_type in ("shopping", "calendar", "email"):
        total = sum(result.counts[s].get(task_type, 0) for s in ("train", "val", "test"))
        for split in ("val", "test"):
            assert 0.05 * total <= result.counts[split].get(task_type, 0) <= 0.15 * total


def test_merge_groups_is_exact_on_short_texts():
    reps = merge_groups({"a": "Milk", "b": "milk!", "c": "eggs"})
    assert reps["a"] == reps["b"] != reps["c"]


def test_balance_cap_and_oversample():
    rows = [{"task_type": t} for t, n in (("a", 10), ("b", 4), ("c", 1)) for _ in range(n)]
    assert Counter(r["task_type"] for r in balance_split(rows, "cap", 0)) == {"a": 4, "b": 4, "c": 1}
    assert Counter(r["task_type"] for r in balance_split(rows, "oversample", 0)) == {"a": 10, "b": 10, "c": 10}
    assert balance_split(rows, "none", 0) == rows
    with pytest.raises(ValueError, match="unknown balance"):
        balance_split(rows, "equal", 0)
