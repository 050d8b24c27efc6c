"""Statistics of a rating study: mean helpfulness per system and task type with bootstrap intervals,
safety pass rates, Krippendorff's alpha on the overlap set (ordinal for helpfulness, nominal for
safety; the `krippendorff` package), gold-item accuracy per rater, and the A/B win rate.

Means and rates are over items (an item's value is the mean of its raters' latest ratings), and the
bootstrap resamples items, since ratings of one item are not independent. Gold items count only
towards gold accuracy.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from hrmtrain.humaneval.store import Item, Rating

BOOTSTRAP = 2000


def bootstrap_mean(values: list[float], seed: int = 0, level: float = 0.95) -> dict:
    """Mean with a percentile bootstrap interval (None bounds for fewer than two values)."""
    if not values:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return {"mean": float(arr.mean()), "lo": None, "hi": None, "n": len(arr)}
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), (BOOTSTRAP, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"mean": float(arr.mean()), "lo": float(lo), "hi": float(hi), "n": len(arr)}


def _by_item(ratings: list[Rating]) -> dict[str, list[Rating]]:
    out: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        out[r.item].append(r)
    return out


def helpfulness(items: list[Item], ratings: list[Rating]) -> dict[str, dict[str, dict]]:
    """{system: {task_type | "all": bootstrap_mean of item means}}."""
    rated = _by_item(ratings)
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        if item.kind == "gold" or item.id not in rated:
            continue
        v = float(np.mean([r.helpfulness for r in rated[item.id]]))
        values[item.system][item.task_type].append(v)
        values[item.system]["all"].append(v)
    return {s: {t: bootstrap_mean(v) for t, v in sorted(types.items())} for s, types in sorted(values.items())}


def safety(items: list[Item], ratings: list[Rating]) -> dict[str, dict]:
    """{system: bootstrap_mean of each item's pass share} (the pass rate), plus fails by severity."""
    rated = _by_item(ratings)
    values: dict[str, list[float]] = defaultdict(list)
    severities: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in items:
        if item.kind == "gold" or item.id not in rated:
            continue
        values[item.system].append(float(np.mean([r.safety_pass for r in rated[item.id]])))
        for r in rated[item.id]:
            if not r.safety_pass:
                severities[item.system][r.severity] += 1
    return {s: {**bootstrap_mean(v), "fails_by_severity": dict(severities[s])} for s, v in sorted(values.items())}


def reliability_matrix(items: list[Item], ratings: list[Rating], field: str) -> tuple[np.ndarray, list[str], list[str]]:
    """raters x overlap items, NaN where a rater has not rated the item."""
    overlap = [i.id for i in items if i.kind == "overlap"]
    raters = sorted({r.rater for r in ratings})
    index = {i: k for k, i in enumerate(overlap)}
    matrix = np.full((len(raters), len(overlap)), np.nan)
    for r in ratings:
        if r.item in index:
            matrix[raters.index(r.rater), index[r.item]] = float(getattr(r, field))
    return matrix, raters, overlap


def alpha(items: list[Item], ratings: list[Rating], field: str, level: str) -> float | None:
    """Krippendorff's alpha on the overlap set; None when it is undefined (fewer than two raters on any
    item, or every value the same: no variation to agree on)."""
    import krippendorff

    matrix, raters, _ = reliability_matrix(items, ratings, field)
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).sum() if matrix.size else 0
    values = matrix[~np.isnan(matrix)]
    if pairable == 0 or len(set(values.tolist())) < 2:
        return None
    domain = [1, 2, 3, 4, 5] if field == "helpfulness" else [0, 1]
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level, value_domain=domain))


def gold_accuracy(items: list[Item], ratings: list[Rating]) -> dict[str, dict]:
    """Per rater: gold items rated inside their known range (helpfulness and safety both right)."""
    gold = {i.id: i.gold for i in items if i.kind == "gold"}
    out: dict[str, dict] = {}
    for r in ratings:
        if r.item not in gold:
            continue
        lo, hi = gold[r.item]["helpfulness"]
        right = lo <= r.helpfulness <= hi and r.safety_pass == gold[r.item]["safety_pass"]
        row = out.setdefault(r.rater, {"correct": 0, "rated": 0})
        row["correct"] += int(right)
        row["rated"] += 1
    for row in out.values():
        row["accuracy"] = row["correct"] / row["rated"]
    return dict(sorted(out.items()))


def win_rate(items: list[Item], ratings: list[Rating], a: str, b: str) -> dict:
    """A/B: per task rated on both sides, the side with the higher mean helpfulness wins."""
    rated = _by_item(ratings)
    means: dict[str, dict[str, float]] = defaultdict(dict)
    for item in items:
        if item.system in (a, b) and item.id in rated:
            means[item.task_id][item.system] = float(np.mean([r.helpfulness for r in rated[item.id]]))
    wins = {a: 0, b: 0, "ties": 0}
    for pair in means.values():
        if len(pair) == 2:
            wins[a if pair[a] > pair[b] else b if pair[b] > pair[a] else "ties"] += 1
    n = sum(wins.values())
    return {"a": a, "b": b, "wins": wins, "tasks": n,
            "a_win_rate": (wins[a] + 0.5 * wins["ties"]) / n if n else None}


def summarise(items: list[Item], ratings: list[Rating], systems: list[str]) -> dict:
    out = {"items": len(items), "ratings": len(ratings), "raters": sorted({r.rater for r in ratings}),
           "helpfulness": helpfulness(items, ratings), "safety": safety(items, ratings),
           "alpha": {"helpfulness_ordinal": alpha(items, ratings, "helpfulness", "ordinal"),
                     "safety_nominal": alpha(items, ratings, "safety_pass", "nominal"),
                     "overlap_items": sum(1 for i in items if i.kind == "overlap")},
           "gold_accuracy": gold_accuracy(items, ratings)}
    if len(systems) == 2:
        out["ab"] = win_rate(items, ratings, systems[0], systems[1])
    return out
