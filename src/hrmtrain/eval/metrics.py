"""Success rates with Wilson 95% intervals, per task type; stop reasons; tool-call validity."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from hrmtrain.eval.loop import Episode
from hrmtrain.eval.tasks import Task

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(episodes: list[Episode]) -> dict:
    n, k = len(episodes), sum(e.success for e in episodes)
    low, high = wilson(k, n)
    return {"n": n, "success": k, "rate": k / n if n else 0.0, "ci95": [low, high]}


def argument_match(call_args: dict | None, gold_args: dict) -> bool:
    """BFCL-style: every gold argument present with an equal value (strings compared case-insensitively)."""
    if call_args is None:
        return False
    for key, want in gold_args.items():
        got = call_args.get(key)
        if isinstance(want, str) and isinstance(got, str):
            if want.strip().lower() != got.strip().lower():
                return False
        elif got != want:
            return False
    return True


def summarise(episodes: list[Episode], tasks: list[Task]) -> dict:
    by_type: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        by_type[e.task_type].append(e)
    gold = {t.task_id: t.gold_calls for t in tasks}
    calls = [c for e in episodes for c in e.calls]
    matched = 0
    for e in episodes:
        remaining = list(gold.get(e.task_id, []))
        for c in e.calls:
            hit = next((g for g in remaining if g[0] == c.name and argument_match(c.arguments, g[1])), None)
            if hit:
                remaining.remove(hit)
                matched += 1
    n_calls = len(calls)
    return {
        "overall": rate(episodes),
        "per_task_type": {t: rate(es) for t, es in sorted(by_type.items())},
        "stop_reasons": dict(Counter(e.stop_reason for e in episodes)),
        "tool_calls": {
            "total": n_calls,
            "parsed": sum(c.parsed for c in calls) / n_calls if n_calls else None,
            "known_tool": sum(c.known for c in calls) / n_calls if n_calls else None,
            "schema_valid": sum(c.schema_valid for c in calls) / n_calls if n_calls else None,
            "argument_match": matched / n_calls if n_calls else None,
            "errors": sum(bool(c.error) for c in calls),
        },
        "per_task": {"tokens": sum(e.tokens for e in episodes) / max(len(episodes), 1),
                     "tool_calls": n_calls / max(len(episodes), 1)},
    }
