"""Train/validation/test splits: stratified by task type, grouped so nothing leaks, balanced on request.

Leakage: every example carries a `group`, the identity of what it was built from (an event's UID for
all its occurrences, a mail's Message-ID, a list row). Groups whose source text is the same after
normalisation (case, digits, placeholders, punctuation) or nearly the same (Jaccard >= 0.8 on word
3-shingles; candidates from `datasketch` MinHash LSH, confirmed exactly) are merged, so a forwarded copy of a mail or a re-entered
to-do cannot sit on both sides. Whole merged groups are then assigned to splits, per task type.

Balance (train split only; validation and test keep the natural mix so metrics stay honest):
`cap` limits every task type to the median type's count, `oversample` repeats the examples of
smaller types (seeded) up to the largest type's count, `none` keeps the split as it is.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

SPLITS = ("train", "val", "test")
NEAR_DUPLICATE_JACCARD = 0.8
_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")


def normalise(text: str) -> str:
    text = _PLACEHOLDER.sub(" ", text).lower()
    text = re.sub(r"\d+", "0", text)
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


class _UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def merge_groups(group_texts: dict[str, str], seed: int = 0) -> dict[str, str]:
    """Map each group to a representative, merging exact and near duplicates of its source text."""
    from datasketch import MinHash, MinHashLSH

    uf = _UnionFind()
    by_norm: dict[str, str] = {}
    # LSH at a lower threshold proposes candidates with high recall; exact Jaccard confirms them.
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    shingle_sets: dict[str, set[str]] = {}
    for group in sorted(group_texts):
        uf.find(group)
        norm = normalise(group_texts[group])
        if norm in by_norm:
            uf.union(group, by_norm[norm])
            continue
        by_norm[norm] = group
        words = norm.split()
        shingles = {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}
        if len(words) < 6:  # too short for shingles to mean anything: exact (normalised) match only
            continue
        mh = MinHash(num_perm=128, seed=seed)
        for s in shingles:
            mh.update(s.encode("utf-8"))
        for other in lsh.query(mh):
            theirs = shingle_sets[other]
            if len(shingles & theirs) / len(shingles | theirs) >= NEAR_DUPLICATE_JACCARD:
                uf.union(group, other)
        lsh.insert(group, mh)
        shingle_sets[group] = shingles
    return {g: uf.find(g) for g in group_texts}


@dataclass
class SplitResult:
    splits: dict[str, list[dict]]
    counts: dict[str, dict[str, int]]  # split -> task type -> examples (after balancing)
    groups: dict[str, int]  # split -> merged source groups

    def rebalance(self, how: str, seed: int = 0) -> None:
        """Balance the train split (after rows were added to it) and count again."""
        self.splits["train"] = balance_split(self.splits["train"], how, seed)
        self.counts = _counts(self.splits)

    def add_to_train(self, rows: list[dict]) -> None:
        """Rows from outside the household (data.mix): into the train split as they are, and count again."""
        if rows:
            self.splits["train"] += rows
            self.counts = _counts(self.splits)


def assign(examples: list[dict], val_ratio: float, test_ratio: float, seed: int = 0,
           balance: str = "none") -> SplitResult:
    """`examples`: dicts with `task_type`, `group` and `group_text`; returns them split and balanced."""
    rep = merge_groups({e["group"]: e.get("group_text", "") for e in examples}, seed)
    by_group: dict[str, list[dict]] = defaultdict(list)
    for e in examples:
        by_group[rep[e["group"]]].append(e)
    # Each merged group goes with its most common task type; stratify per type.
    by_type: dict[str, list[str]] = defaultdict(list)
    for g, members in sorted(by_group.items()):
        by_type[Counter(e["task_type"] for e in members).most_common(1)[0][0]].append(g)
    rng = random.Random(seed)
    split_of: dict[str, str] = {}
    for task_type in sorted(by_type):
        groups = by_type[task_type]
        rng.shuffle(groups)
        n = sum(len(by_group[g]) for g in groups)
        want = {"val": val_ratio * n, "test": test_ratio * n}
        have = {"val": 0, "test": 0}
        for g in groups:
            size = len(by_group[g])
            # fill test, then val, while that brings the split closer to its target; the rest trains
            target = next((s for s in ("test", "val") if have[s] + size / 2 <= want[s]), "train")
            if target != "train":
                have[target] += size
            split_of[g] = target
    splits = {s: [e for g in sorted(by_group) if split_of[g] == s for e in by_group[g]] for s in SPLITS}
    splits["train"] = balance_split(splits["train"], balance, seed)
    groups = {s: sum(1 for g in split_of.values() if g == s) for s in SPLITS}
    return SplitResult(splits, _counts(splits), groups)


def _counts(splits: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    return {s: dict(sorted(Counter(e["task_type"] for e in rows).items())) for s, rows in splits.items()}


def balance_split(rows: list[dict], how: str, seed: int) -> list[dict]:
    if how == "none" or not rows:
        return rows
    by_type: dict[str, list[dict]] = defaultdict(list)
    for e in rows:
        by_type[e["task_type"]].append(e)
    sizes = sorted(len(v) for v in by_type.values())
    rng = random.Random(seed)
    out = []
    if how == "cap":
        cap = sizes[len(sizes) // 2]
        for t in sorted(by_type):
            items = by_type[t]
            out += items if len(items) <= cap else rng.sample(items, cap)
    elif how == "oversample":
        top = sizes[-1]
        for t in sorted(by_type):
            items = by_type[t]
            out += items + [rng.choice(items) for _ in range(top - len(items))]
    else:
        raise ValueError(f"unknown balance {how!r}; expected cap, oversample or none")
    rng.shuffle(out)
    return out
