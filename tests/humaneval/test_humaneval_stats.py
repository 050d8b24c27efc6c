"""Study statistics against hand computations: Krippendorff's alpha from its coincidence-matrix definition
(and the published figures of Krippendorff's own example), bootstrap intervals, gold accuracy, win rate."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hrmtrain.humaneval import stats
from hrmtrain.humaneval.store import Item, Rating

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units
# (None: not rated). Published: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def hand_alpha(data: list[list], level: str, domain: list) -> float:
    """alpha = 1 - D_o / D_e from the coincidence matrix, written out from Krippendorff's definition."""
    units = [[row[u] for row in data if row[u] is not None] for u in range(len(data[0]))]
    units = [vals for vals in units if len(vals) >= 2]
    o = {(c, k): 0.0 for c in domain for k in domain}
    for vals in units:
        m = len(vals)
        for i, j in itertools.permutations(range(m), 2):
            o[(vals[i], vals[j])] += 1 / (m - 1)
    n_c = {c: sum(o[(c, k)] for k in domain) for c in domain}
    n = sum(n_c.values())

    def delta2(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        lo, hi = sorted((domain.index(c), domain.index(k)))
        return (sum(n_c[g] for g in domain[lo:hi + 1]) - (n_c[c] + n_c[k]) / 2) ** 2

    d_o = sum(o[(c, k)] * delta2(c, k) for c in domain for k in domain) / n
    d_e = sum(n_c[c] * n_c[k] * delta2(c, k) for c in domain for k in domain) / (n * (n - 1))
    return 1 - d_o / d_e


def study_from(data: list[list], field: str) -> tuple[list[Item], list[Rating]]:
    items = [Item(f"i{u}", u, "A", f"t{u}", "x", "overlap", {}, None) for u in range(len(data[0]))]
    ratings = []
    for r, row in enumerate(data):
        for u, value in enumerate(row):
            if value is not None:
                h, s = (value, True) if field == "helpfulness" else (3, bool(value))
                ratings.append(Rating(len(ratings) + 1, f"rater{r}", f"i{u}", h, s, "none" if s else "minor", "", ""))
    return items, ratings


def test_alpha_matches_krippendorffs_published_example_and_the_hand_computation():
    items, ratings = study_from(KRIPPENDORFF, "helpfulness")
    ordinal = stats.alpha(items, ratings, "helpfulness", "ordinal")
    assert ordinal == pytest.approx(0.815, abs=5e-4)
    assert ordinal == pytest.approx(hand_alpha(KRIPPENDORFF, "ordinal", [1, 2, 3, 4, 5]), abs=1e-12)
    assert hand_alpha(KRIPPENDORFF, "nominal", [1, 2, 3, 4, 5]) == pytest.approx(0.743, abs=5e-4)


def test_nominal_alpha_on_pass_fail_matches_the_hand_computation():
    rng = np.random.default_rng(3)
    data = [[int(v) if rng.random() > 0.15 else None for v in (rng.random(10) > 0.3)] for _ in range(3)]
    items, ratings = study_from(data, "safety")
    assert stats.alpha(items, ratings, "safety_pass", "nominal") == pytest.approx(
        hand_alpha(data, "nominal", [0, 1]), abs=1e-12)


def test_alpha_is_undefined_without_two_raters_or_without_variation():
    items, ratings = study_from([[1, 2, 3]], "helpfulness")
    assert stats.alpha(items, ratings, "helpfulness", "ordinal") is None
    items, ratings = study_from([[4, 4], [4, 4]], "helpfulness")
    assert stats.alpha(items, ratings, "helpfulness", "ordinal") is None


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_items():
    small = stats.bootstrap_mean([1, 5, 3, 4, 2])
    assert small["mean"] == 3 and small["lo"] < 3 < small["hi"] and small["n"] == 5
    big = stats.bootstrap_mean([1, 5, 3, 4, 2] * 20)
    assert big["hi"] - big["lo"] < small["hi"] - small["lo"]
    assert stats.bootstrap_mean([4])["lo"] is None and stats.bootstrap_mean([])["mean"] is None


def test_means_gold_accuracy_and_win_rate_by_hand():
    items = [Item("a1", 0, "A", "t1", "shopping", "regular", {}, None),
             Item("b1", 1, "B", "t1", "shopping", "regular", {}, None),
             Item("a2", 2, "A", "t2", "calendar", "overlap", {}, None),
             Item("b2", 3, "B", "t2", "calendar", "overlap", {}, None),
             Item("g1", 4, "gold", "t3", "timer", "gold", {}, {"helpfulness": [4, 5], "safety_pass": True}),
             Item("g2", 5, "gold", "t4", "timer", "gold", {}, {"helpfulness": [1, 2], "safety_pass": True})]

    def r(i, rater, item, h, s=True):
        return Rating(i, rater, item, h, s, "none" if s else "major", "", "")

    ratings = [r(1, "ann", "a1", 5), r(2, "ann", "b1", 2), r(3, "ann", "a2", 3), r(4, "bob", "a2", 4),
               r(5, "ann", "b2", 4, False), r(6, "bob", "b2", 4), r(7, "ann", "g1", 5), r(8, "ann", "g2", 4),
               r(9, "bob", "g1", 1), r(10, "bob", "g2", 2)]
    h = stats.helpfulness(items, ratings)
    assert h["A"]["all"]["mean"] == pytest.approx((5 + 3.5) / 2)
    assert h["A"]["calendar"]["mean"] == 3.5 and h["B"]["shopping"]["mean"] == 2
    assert "gold" not in h
    s = stats.safety(items, ratings)
    assert s["B"]["mean"] == pytest.approx((1 + 0.5) / 2) and s["B"]["fails_by_severity"] == {"major": 1}
    assert stats.gold_accuracy(items, ratings) == {"ann": {"correct": 1, "rated": 2, "accuracy": 0.5},
                                                   "bob": {"correct": 1, "rated": 2, "accuracy": 0.5}}
    ab = stats.win_rate(items, ratings, "A", "B")
    # t1: A 5 vs B 2 -> A; t2: A 3.5 vs B 4 -> B
    assert ab["wins"] == {"A": 1, "B": 1, "ties": 0} and ab["a_win_rate"] == 0.5
    assert not math.isnan(stats.summarise(items, ratings, ["A", "B"])["alpha"]["helpfulness_ordinal"] or 0)
