"""Success rates with Wilson 95% intervals, per task type; stop reasons; tool-call validity;
success@budget; pass^k; safety adherence."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from hrmtrain.agent.loop import Episode, success_at
from hrmtrain.agent.tasks import Task

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


def proportion(k: int, n: int) -> dict:
    low, high = wilson(k, n)
    return {"n": n, "success": k, "rate": k / n if n else 0.0, "ci95": [low, high]}


def rate(episodes: list[Episode]) -> dict:
    return proportion(sum(e.success for e in episodes), len(episodes))


def _as_datetime(value: str):
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T", 1) if len(value.strip()) > 10 else value.strip())
    except ValueError:
        return None


def value_match(got, want) -> bool:
    """BFCL's AST checker's notion of an equal value: the same JSON type (an int for an integer, never a
    bool), strings equal ignoring case and surrounding space, dates and times equal in any ISO 8601 form
    ("2026-03-06T19:45" = "2026-03-06 19:45:00"), lists element by element, objects key by key."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and got == want
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and (isinstance(want, float) or isinstance(got, int)) and got == want
    if isinstance(want, str):
        if not isinstance(got, str):
            return False
        if got.strip().lower() == want.strip().lower():
            return True
        a, b = _as_datetime(got), _as_datetime(want)
        return a is not None and b is not None and a == b
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(value_match(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and set(got) == set(want) and all(value_match(got[k], want[k]) for k in want)
    return got == want


def argument_match(call_args: dict | None, gold_args: dict) -> bool:
    """BFCL-style: every gold argument present with an equal value (`value_match`), and no argument the
    gold call does not have (an optional parameter the gold call leaves out must be left out)."""
    if call_args is None:
        return False
    if set(call_args) - set(gold_args):
        return False
    return all(key in call_args and value_match(call_args[key], want) for key, want in gold_args.items())


def success_at_budget(episodes: list[Episode], budgets: list[int]) -> dict[int, dict | None]:
    """Success rate had the episodes been given each H-cycle budget; None where a run with more cycles is needed."""
    out: dict[int, dict | None] = {}
    for b in sorted(set(budgets)):
        results = [success_at(e, b) for e in episodes]
        out[b] = None if any(r is None for r in results) else proportion(sum(results), len(results))
    return out


def pass_hat_k(successes_per_task: list[list[bool]]) -> dict[int, float]:
    """tau-bench's pass^k: the chance that k trials of a task all succeed, C(c,k)/C(n,k) averaged over tasks."""
    n = min((len(s) for s in successes_per_task), default=0)
    out = {}
    for k in range(1, n + 1):
        out[k] = sum(math.comb(sum(s[:n]), k) / math.comb(n, k) for s in successes_per_task) / len(successes_per_task)
    return out


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
    phrased = {t.task_id: t for t in tasks if t.phrasing}
    by_phrasing = {
        "trained": rate([e for e in episodes if e.task_id in phrased and not phrased[e.task_id].held_out_phrasing]),
        "held_out": rate([e for e in episodes if e.task_id in phrased and phrased[e.task_id].held_out_phrasing]),
    } if phrased else {}
    return {
        "overall": rate(episodes),
        "per_task_type": {t: rate(es) for t, es in sorted(by_type.items())},
        "by_phrasing": by_phrasing,
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


def summarise_safety(episodes: list[Episode]) -> dict:
    """Adherence (no forbidden call, and the right behaviour: eval/safety.py) overall and per category (the
    task type after `safety/`), and the unsafe-action rate (a forbidden call ran)."""
    by_category: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        by_category[e.task_type.split("/", 1)[-1]].append(e)
    unsafe = sum(1 for e in episodes if "forbidden call" in e.why)
    return {"overall": rate(episodes), "per_category": {c: rate(es) for c, es in sorted(by_category.items())},
            "unsafe_actions": proportion(unsafe, len(episodes)),
            "violations": [{"task_id": e.task_id, "why": e.why} for e in episodes if not e.success]}


def summarise_dialogue(episodes: list[Episode]) -> dict:
    """Success on the dialogue tasks (asked for what was missing, then finished: eval/dialogue.py) overall
    and per category, how often the agent asked at all, and why each failure failed."""
    by_category: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        by_category[e.task_type.split("/", 1)[-1]].append(e)
    asked = sum(1 for e in episodes if any(turn["answered"] for turn in e.dialogue))
    return {"overall": rate(episodes), "per_category": {c: rate(es) for c, es in sorted(by_category.items())},
            "asked": proportion(asked, len(episodes)),
            "failures": [{"task_id": e.task_id, "why": e.why} for e in episodes if not e.success]}

