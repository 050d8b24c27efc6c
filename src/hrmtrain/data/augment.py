"""Slot-varied copies of the training records, so that a small model learns to copy, not to recall.

A household has few distinct titles, subjects and items: trained on them alone, the tiny model learns
each string by heart and writes the most common one into every call (measured: 0 of 34 held-out
tasks, with tool names right and arguments recalled from training). A varied copy keeps a record's
kind, consent category and placeholders and draws its copyable slots afresh: titles, subjects, items,
labels and goals become new phrases made of words from the same kind of training records, dates and
times move, quantities and durations change. The copies go through the same instruction builders (so
every gold call is executed and checked), into the train split only, and each example keeps the
`record_id` of the record it was varied from, so lineage is unchanged. Words come from training
records only: nothing of the validation or test records enters training through them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from hrmtrain.data.sources.records import Record

# kind -> the text slots whose values are redrawn (their words form that kind's pool)
TEXT_SLOTS = {
    "event": ("title",),
    "email": ("subject",),
    "todo": ("title",),
    "shopping": ("item",),
    "recipe": ("title",),
    "howto": ("task",),
    "fitness": ("goal",),
}


def word_pools(records: list[Record]) -> dict[tuple[str, str], list[str]]:
    """(kind, slot) -> the distinct words of that slot over `records` (placeholders left out)."""
    pools: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in records:
        for slot in TEXT_SLOTS.get(rec.kind, ()):
            value = rec.fields.get(slot)
            if isinstance(value, str):
                pools[(rec.kind, slot)].update(w for w in value.split() if "<" not in w and ">" not in w)
    return {k: sorted(v) for k, v in pools.items()}


def _phrase(words: list[str], like: str, rng: random.Random) -> str:
    n = max(1, min(len(words), len(like.split()) + rng.choice((-1, 0, 0, 1))))
    text = " ".join(rng.sample(words, n))
    return text[:1].upper() + text[1:] if like[:1].isupper() else text


def _moment(now: datetime, rng: random.Random) -> datetime:
    day = now.date() + timedelta(days=rng.randint(-21, 56))
    return datetime(day.year, day.month, day.day, rng.randint(7, 21), rng.choice((0, 15, 30, 45)))


def vary(rec: Record, copy: int, pools: dict, now: datetime, rng: random.Random) -> Record:
    """One slot-varied copy of `rec`; `copy` numbers it so that its record key is unique."""
    f = dict(rec.fields)
    for slot in TEXT_SLOTS.get(rec.kind, ()):
        words = pools.get((rec.kind, slot))
        if isinstance(f.get(slot), str) and words:
            f[slot] = _phrase(words, f[slot], rng)
    if rec.kind == "event" and f.get("start") and not f.get("all_day"):
        start = _moment(now, rng)
        f["start"] = start.isoformat(timespec="minutes")
        f["end"] = (start + timedelta(minutes=rng.choice((30, 45, 60, 90, 120)))).isoformat(timespec="minutes")
    elif rec.kind == "todo" and f.get("due"):
        f["due"] = (now.date() + timedelta(days=rng.randint(0, 40))).isoformat()
    elif rec.kind == "shopping":
        f["quantity"] = rng.choice((1, 1, 2, 3, 4, 5, 6, 8, 10, 12))
    elif rec.kind in ("recipe", "howto"):
        f["minutes"] = rng.choice((1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60, 75, 90, 120))
    elif rec.kind == "fitness":
        f["days_per_week"] = rng.randint(1, 7)
    return replace(rec, key=f"{rec.key}#varied-{copy}", fields=f)


def varied_records(records: list[Record], copy: int, now: str, seed: int = 0) -> tuple[list[Record], dict[str, str]]:
    """Copy number `copy` of every record, varied, and a map from each copy's record_id to its origin's."""
    rng = random.Random(f"vary:{seed}:{copy}")
    pools = word_pools(records)
    when = datetime.fromisoformat(now)
    out = [vary(rec, copy, pools, when, rng) for rec in records]
    return out, {v.record_id: rec.record_id for v, rec in zip(out, records)}
