"""Open-loop load: requests arrive at a set rate whatever the server is doing, as `vllm bench serve`,
GuideLLM and AIPerf measure a server; beside the closed-loop concurrency sweep of load.py.

At offered rate r (requests/s) the n requests of a level are sent at scheduled times: gaps drawn from an
exponential distribution of mean 1/r (Poisson arrivals, seeded) or exactly 1/r (constant). Each request
is sent on its own thread at its time, so a slow server makes requests queue (latency grows) instead of
slowing the arrivals, as real users do. Per request: TTFT, inter-token gaps (ITL), TPOT (time per output
token after the first: (end to end - TTFT) / (output tokens - 1)), end to end.

Workloads: `household` (each request is a task's first turn: system prompt, request and the household
tools, over /v1/chat/completions) or `synthetic` (a prompt of exactly `input_tokens` tokens of the
model's tokenizer, random but seeded, over /v1/completions, asking for exactly `output_tokens` tokens:
transformers serve is told through its `generation_config` field, vLLM-style servers through
`min_tokens` and `ignore_eos`).

The knee: the highest offered rate the server still keeps up with, meaning it completes at least 90% of
the offered rate and its median end-to-end latency is at most twice the lowest rate's. Past it, requests
queue and latency grows without bound.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass

from hrmtrain.eval.latency import percentiles, tpot_s
from hrmtrain.eval.openai_policy import RequestTiming, stream_chat, timed_stream, to_openai_messages

KEEP_UP = 0.9  # achieved / offered rate at or above which the server keeps up
LATENCY_GROWTH = 2.0  # median e2e at most this many times the lowest rate's


@dataclass
class LoadRequest:
    """One request of a level: the endpoint path and its body (without `model` and `stream`)."""

    path: str
    body: dict


def arrival_times(rate: float, n: int, arrival: str, seed: int) -> list[float]:
    """Seconds from the level's start at which each of `n` requests is sent."""
    if arrival == "constant":
        return [i / rate for i in range(n)]
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        out.append(t)
        t += rng.expovariate(rate)
    return out


def household_requests(tasks, max_new_tokens: int, temperature: float = 0.0) -> list[LoadRequest]:
    """Each task's first turn, as the agent sends it."""
    return [LoadRequest("/chat/completions", {
        "messages": to_openai_messages([{"role": "system", "content": t.system}, {"role": "user", "content": t.request}]),
        "tools": t.tools, "max_tokens": max_new_tokens, "temperature": temperature}) for t in tasks]


def synthetic_prompt(tokenizer, length: int, rng: random.Random) -> str:
    """Text that the tokenizer encodes to exactly `length` tokens: random ordinary tokens, decoded, then
    trimmed or extended until the round trip holds."""
    special = set(tokenizer.all_special_ids)
    vocab = [i for i in range(min(len(tokenizer), 50_000)) if i not in special]
    ids = [rng.choice(vocab) for _ in range(length)]
    for _ in range(20):
        text = tokenizer.decode(ids, skip_special_tokens=True)
        got = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(got) == length:
            return text
        ids = got[:length] if len(got) > length else got + [rng.choice(vocab) for _ in range(length - len(got))]
    raise ValueError(f"could not make a prompt of exactly {length} tokens with this tokenizer")


def synthetic_requests(tokenizer, n: int, input_tokens: int, output_tokens: int, force: str,
                       seed: int) -> list[LoadRequest]:
    """`n` distinct prompts of `input_tokens` tokens, each asking for `output_tokens` tokens (`force`: how
    the server is told not to stop earlier: transformers | vllm | none)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = {"prompt": synthetic_prompt(tokenizer, input_tokens, rng), "max_tokens": output_tokens,
                "temperature": 0.0}
        if force == "transformers":
            body["generation_config"] = json.dumps({"max_new_tokens": output_tokens, "min_new_tokens": output_tokens,
                                                    "do_sample": False})
        elif force == "vllm":
            body.update(min_tokens=output_tokens, ignore_eos=True)
        out.append(LoadRequest("/completions", body))
    return out


def send(client, model: str, request: LoadRequest) -> RequestTiming:
    """One streamed request, timed: first chunk with text or a tool call, gaps between chunks, end."""
    if request.path == "/chat/completions":
        return stream_chat(client, {**request.body, "model": model})[0]
    return _stream_completion(client, {**request.body, "model": model})


def _stream_completion(client, body: dict) -> RequestTiming:
    return timed_stream(client, "/completions", body,
                        lambda data: any(choice.get("text") for choice in data.get("choices") or []))


def run_rate(base_url: str, model: str, requests: list[LoadRequest], rate: float, arrival: str, seed: int,
             memory, timeout_s: float, api_key: str = "") -> dict:
    """One open-loop level: every request sent at its scheduled time, each on its own thread."""
    import httpx

    times = arrival_times(rate, len(requests), arrival, seed)
    timings: list[RequestTiming | None] = [None] * len(requests)
    lateness: list[float] = [0.0] * len(requests)
    ends: list[float] = [0.0] * len(requests)
    limits = httpx.Limits(max_connections=len(requests) + 1, max_keepalive_connections=len(requests) + 1)
    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, limits=limits,
                          headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    start = time.perf_counter()

    def fire(i: int) -> None:
        lateness[i] = time.perf_counter() - start - times[i]
        timings[i] = send(client, model, requests[i])
        ends[i] = time.perf_counter() - start

    threads = []
    with memory:
        for i, at in enumerate(times):
            delay = at - (time.perf_counter() - start)
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=fire, args=(i,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    client.close()
    done = [t for t in timings if t is not None]
    ok = [t for t in done if t.ok]
    wall = max(ends) if ends else 0.0
    return {
        "offered_rate": rate,
        "requests": len(done),
        "failed": sum(1 for t in done if not t.ok),
        "errors": sorted({t.error for t in done if not t.ok})[:5],
        "achieved_rate": len(ok) / wall if wall else 0.0,
        "ttft_ms": percentiles([t.ttft_s for t in ok if t.ttft_s is not None]),
        "itl_ms": percentiles([g for t in ok for g in t.chunk_gaps_s]),
        "tpot_ms": percentiles([v for t in ok if (v := tpot_s(t)) is not None]),
        "e2e_ms": percentiles([t.e2e_s for t in ok]),
        "output_tokens": percentiles([float(t.output_tokens) for t in ok], scale=1.0),
        "output_tokens_per_s": sum(t.output_tokens for t in ok) / wall if wall else 0.0,
        "send_lateness_ms": max(lateness) * 1000 if lateness else 0.0,  # the client's own delay: must stay small
        "peak_memory_mb": memory.peak_mb,
        "wall_s": wall,
    }


def warm_up(base_url: str, model: str, pool: list[LoadRequest], n: int, timeout_s: float, api_key: str = "") -> dict:
    """`n` requests, one at a time, not counted: the server loads, compiles and grows its caches here. Their
    mean time gives the capacity that the open loop's rate fractions refer to."""
    import httpx

    if n <= 0 or not pool:
        return {"requests": 0, "failed": 0, "mean_e2e_s": None, "capacity_rps": None}
    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                          headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    timings = [send(client, model, pool[i % len(pool)]) for i in range(n)]
    client.close()
    ok = [t.e2e_s for t in timings if t.ok]
    # the first request pays for loading and first touches: the capacity comes from the later ones
    steady = ok[1:] or ok
    mean = sum(steady) / len(steady) if steady else None
    return {"requests": n, "failed": n - len(ok), "mean_e2e_s": mean, "capacity_rps": 1.0 / mean if mean else None,
            "errors": sorted({t.error for t in timings if not t.ok})[:5]}


def offered_rates(load_cfg, warmup: dict) -> tuple[list[float], str]:
    """eval.load.rates, else eval.load.rate_fractions of the warm-up's capacity; and where they came from."""
    from hrmtrain.errors import HrmError

    if load_cfg.rates:
        return sorted(load_cfg.rates), "eval.load.rates"
    if not warmup.get("capacity_rps"):
        raise HrmError("eval.load.rates is empty and the warm-up measured no capacity to scale "
                       "eval.load.rate_fractions by (eval.load.warmup_requests=0, or every warm-up request failed: "
                       f"{warmup.get('errors')}); set eval.load.rates=[...] in requests/s")
    cap = warmup["capacity_rps"]
    return sorted(f * cap for f in load_cfg.rate_fractions), \
        f"eval.load.rate_fractions x the warm-up's capacity ({cap:.3g} requests/s)"


def rate_sweep(base_url: str, model: str, pool: list[LoadRequest], load_cfg, warmup: dict, memory, timeout_s: float,
               api_key: str, workload: str, progress=None) -> dict:
    """Every offered rate, `load_cfg.repeats` times each (a new arrival draw per repeat); the knee."""
    from hrmtrain.eval.latency import combine_repeats

    rates, source = offered_rates(load_cfg, warmup)
    levels = []
    for rate in rates:
        runs = []
        for r in range(load_cfg.repeats):
            requests = [pool[(r * load_cfg.requests_per_rate + i) % len(pool)] for i in range(load_cfg.requests_per_rate)]
            runs.append(run_rate(base_url, model, requests, rate, str(load_cfg.arrival), load_cfg.seed + r, memory,
                                 timeout_s, api_key))
        levels.append(combine_repeats(runs))
        if progress:
            progress(levels[-1])
    return {"arrival": str(load_cfg.arrival), "workload": workload, "rates_from": source,
            "requests_per_rate": load_cfg.requests_per_rate,
            "input_tokens": load_cfg.input_tokens if workload == "synthetic" else None,
            "output_tokens": load_cfg.output_tokens if workload == "synthetic" else None,
            "levels": levels, "knee": knee(levels)}


def knee(levels: list[dict]) -> dict:
    """The highest offered rate the server keeps up with (module docstring), and the next one tried."""
    measured = sorted((lv for lv in levels if lv.get("e2e_ms")), key=lambda lv: lv["offered_rate"])
    rule = f"achieved >= {KEEP_UP:.0%} of offered and median e2e <= {LATENCY_GROWTH:g}x the lowest rate's"
    if not measured:
        return {"offered_rate": None, "beyond": None, "rule": rule}
    floor = measured[0]["e2e_ms"]["p50"]
    best = None
    for lv in measured:
        if lv["achieved_rate"] >= KEEP_UP * lv["offered_rate"] and lv["e2e_ms"]["p50"] <= LATENCY_GROWTH * floor:
            best = lv
        else:
            break
    beyond = next((lv["offered_rate"] for lv in measured if best is None or lv["offered_rate"] > best["offered_rate"]),
                  None)
    return {"offered_rate": best["offered_rate"] if best else None, "beyond": beyond, "rule": rule}
