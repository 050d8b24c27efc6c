"""Latency figures shared by the closed-loop sweep (load.py) and the open-loop rates (open_loop.py):
percentiles, time per output token, and a level measured several times reduced to its median and spread."""

from __future__ import annotations

import statistics

from hrmtrain.eval.openai_policy import RequestTiming

QUANTILES = ("p50", "p90", "p99", "mean")
# counted over all repeats, not their median: a failure in any repeat must show
SUMMED = ("requests", "failed", "episodes", "no_streamed_output", "wall_s")


def percentiles(values: list[float], scale: float = 1000.0) -> dict | None:
    """p50/p90/p99 and mean (numpy's linear interpolation), in ms for seconds in."""
    if not values:
        return None
    import numpy as np

    p50, p90, p99 = (float(v) * scale for v in np.percentile(values, [50, 90, 99]))
    return {"p50": p50, "p90": p90, "p99": p99, "mean": float(np.mean(values)) * scale, "n": len(values)}


def tpot_s(t: RequestTiming) -> float | None:
    """Time per output token after the first, (end to end - TTFT) / (output tokens - 1); None for a failed
    request, one with no first-token time, or one with fewer than two tokens."""
    if not t.ok or t.ttft_s is None or t.output_tokens < 2:
        return None
    return (t.e2e_s - t.ttft_s) / (t.output_tokens - 1)


def combine_repeats(runs: list[dict]) -> dict:
    """One level measured len(runs) times, in the shape of one run: every percentile figure and every number
    is the median over the repeats (counts in SUMMED: their sum); `spread` holds each one's [min, max];
    `runs` keeps every repeat."""
    if len(runs) == 1:
        return {**runs[0], "repeats": 1, "spread": {}, "runs": runs}
    out: dict = {"repeats": len(runs), "spread": {}, "runs": runs}
    for key, first in runs[0].items():
        values = [r.get(key) for r in runs]
        if isinstance(first, dict) and "p50" in first or (first is None and any(isinstance(v, dict) for v in values)):
            present = [v for v in values if v]
            if not present:
                out[key] = None
                continue
            out[key] = {q: statistics.median(v[q] for v in present) for q in QUANTILES}
            out[key]["n"] = sum(v["n"] for v in present)
            out["spread"][key] = {q: [min(v[q] for v in present), max(v[q] for v in present)] for q in QUANTILES}
        elif isinstance(first, (int, float)) and not isinstance(first, bool) and all(
                isinstance(v, (int, float)) for v in values):
            out[key] = sum(values) if key in SUMMED else statistics.median(values)
            out["spread"][key] = [min(values), max(values)]
        elif isinstance(first, list) and all(isinstance(v, list) for v in values):
            out[key] = sorted({x for v in values for x in v})[:5] if all(
                isinstance(x, str) for v in values for x in v) else first
        elif isinstance(first, dict) and all(isinstance(v, dict) for v in values):
            merged: dict = {}
            for v in values:
                for k, n in v.items():
                    merged[k] = merged.get(k, 0) + n if isinstance(n, (int, float)) else n
            out[key] = merged
        else:
            out[key] = first
    return out
