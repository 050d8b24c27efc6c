"""Latency, throughput, goodput and memory of an OpenAI-compatible server under concurrent episodes.

For each concurrency level N, N workers run whole household episodes (the flat loop over the task
set, so requests carry real multi-turn tool conversations) against the endpoint with streaming on,
until the level's episodes are done. Per request: time to first token (TTFT), the gaps between
streamed chunks (inter-token latency), end to end; per episode: its wall time; per level: request
and output-token throughput, goodput (requests per second that met every SLO of `eval.load.slo`),
and peak memory, sampled while the level runs: GPU memory in use through NVML where a GPU is
visible, else the resident memory of the server process (and its children). A request that fails
(refused, cut off, garbage) is counted as failed and its episode ends; the sweep goes on.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from hrmtrain.agent.loop import Budget, run_flat
from hrmtrain.agent.tasks import Task
from hrmtrain.eval import open_loop
from hrmtrain.eval.latency import combine_repeats, percentiles, tpot_s
from hrmtrain.eval.openai_policy import OpenAIPolicy, RequestTiming


class MemorySampler:
    """Peak memory while running: NVML GPU memory in use where a GPU is visible, else the process's RSS."""

    def __init__(self, pid: int | None, interval_s: float = 0.2):
        self.pid, self.interval_s = pid, interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.source, self._read = self._pick()

    def _pick(self):
        try:
            import pynvml

            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            if handles:
                return "GPU memory in use (NVML, all devices)", \
                    lambda: sum(pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles)
        except Exception:  # no pynvml, no driver, no device: fall back to the process's RSS
            pass
        if self.pid is None:
            return "not measured (no GPU and no server process id: set eval.load.server_pid)", None
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return f"not measured (no process {self.pid})", None

        def rss() -> int:
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            return total

        return f"server process resident memory (pid {self.pid}, with children)", rss

    def _sample(self) -> None:
        try:
            self.peak_bytes = max(self.peak_bytes, self._read())
        except Exception:  # the process died mid-run: keep the peak seen so far
            self._read = None

    def _loop(self) -> None:
        while not self._stop.is_set() and self._read:
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "MemorySampler":
        self.peak_bytes = 0
        self._stop.clear()
        if self._read:
            self._sample()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    @property
    def peak_mb(self) -> float | None:
        return self.peak_bytes / 2**20 if self.peak_bytes else None


@dataclass(frozen=True)
class Slo:
    ttft_ms: float
    itl_ms: float
    e2e_ms: float

    def met(self, t: RequestTiming) -> bool:
        if not t.ok or t.ttft_s is None:
            return False
        mean_gap = sum(t.chunk_gaps_s) / len(t.chunk_gaps_s) if t.chunk_gaps_s else 0.0
        return t.ttft_s * 1000 <= self.ttft_ms and mean_gap * 1000 <= self.itl_ms and t.e2e_s * 1000 <= self.e2e_ms


def run_level(base_url: str, model: str, tasks: list[Task], concurrency: int, episodes: int, budget: Budget,
              slo: Slo, memory: MemorySampler, timeout_s: float = 120.0, api_key_env: str = "OPENAI_API_KEY") -> dict:
    queue = itertools.islice(itertools.cycle(tasks), episodes)
    lock = threading.Lock()
    timings: list[RequestTiming] = []
    episode_s: list[float] = []
    stops: dict[str, int] = {}

    def worker() -> None:
        policy = OpenAIPolicy(base_url, model, api_key_env=api_key_env, timeout_s=timeout_s, stream=True)
        while True:
            with lock:
                task = next(queue, None)
            if task is None:
                break
            started = time.perf_counter()
            episode = run_flat(task, policy, budget)
            with lock:
                episode_s.append(time.perf_counter() - started)
                stops[episode.stop_reason] = stops.get(episode.stop_reason, 0) + 1
        with lock:
            timings.extend(policy.timings)
        policy.client.close()

    started = time.perf_counter()
    with memory, ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    ok = [t for t in timings if t.ok]
    failed = [t for t in timings if not t.ok]
    good = [t for t in timings if slo.met(t)]
    return {
        "concurrency": concurrency,
        "episodes": len(episode_s),
        "requests": len(timings),
        "failed": len(failed),
        "errors": sorted({t.error for t in failed})[:5],
        "stop_reasons": stops,
        "ttft_ms": percentiles([t.ttft_s for t in ok if t.ttft_s is not None]),
        # answered, but nothing streamed before the end: e.g. a tool call cut off by max_tokens, which
        # `transformers serve` only sends once it parses whole, so no first-token time can be seen
        "no_streamed_output": sum(1 for t in ok if t.ttft_s is None),
        "itl_ms": percentiles([g for t in ok for g in t.chunk_gaps_s]),
        "tpot_ms": percentiles([v for t in ok if (v := tpot_s(t)) is not None]),
        "e2e_ms": percentiles([t.e2e_s for t in ok]),
        "episode_ms": percentiles(episode_s),
        "requests_per_s": len(ok) / wall if wall else 0.0,
        "output_tokens_per_s": sum(t.output_tokens for t in ok) / wall if wall else 0.0,
        "goodput_per_s": len(good) / wall if wall else 0.0,
        "slo_attainment": len(good) / len(timings) if timings else 0.0,
        "peak_memory_mb": memory.peak_mb,
        "wall_s": wall,
    }


def sweep(base_url: str, model: str, tasks: list[Task], load_cfg, budget: Budget, server_pid: int | None = None,
          timeout_s: float = 120.0, api_key_env: str = "OPENAI_API_KEY", progress=None, tokenizer=None,
          force_output: str = "none") -> dict:
    """The warm-up, then the closed-loop levels (`load_cfg.concurrency`) and the open-loop rates, as
    `load_cfg.mode` says, each measured `load_cfg.repeats` times. `tokenizer`: the served model's, for the
    synthetic workload; `force_output`: how that workload asks for exactly output_tokens (open_loop.py)."""
    import os

    slo = Slo(load_cfg.slo.ttft_ms, load_cfg.slo.itl_ms, load_cfg.slo.e2e_ms)
    memory = MemorySampler(load_cfg.server_pid or server_pid, load_cfg.memory_sample_s)
    budget = replace(budget, max_new_tokens=load_cfg.max_new_tokens)
    mode = str(load_cfg.mode)
    workload = str(load_cfg.workload)
    if workload == "synthetic":
        if tokenizer is None:
            from hrmtrain.errors import HrmError

            raise HrmError("eval.load.workload=synthetic needs the served model's tokenizer (eval.model, or a run)")
        pool = open_loop.synthetic_requests(tokenizer, max(load_cfg.requests_per_rate, load_cfg.warmup_requests, 1),
                                            load_cfg.input_tokens, load_cfg.output_tokens, force_output,
                                            load_cfg.seed)
    else:
        pool = open_loop.household_requests(tasks, load_cfg.max_new_tokens)
    api_key = os.environ.get(api_key_env, "")
    warmup = open_loop.warm_up(base_url, model, pool, load_cfg.warmup_requests, timeout_s, api_key)
    result = {"endpoint": base_url, "model": model, "memory_source": memory.source, "mode": mode,
              "slo": {"ttft_ms": slo.ttft_ms, "itl_ms": slo.itl_ms, "e2e_ms": slo.e2e_ms},
              "max_new_tokens": load_cfg.max_new_tokens, "tasks": len(tasks), "repeats": load_cfg.repeats,
              "warmup": warmup, "levels": [], "open_loop": None}
    if mode in ("closed", "both"):
        for n in load_cfg.concurrency:
            episodes = load_cfg.episodes_per_level or max(4, 2 * n)
            runs = [run_level(base_url, model, tasks, n, episodes, budget, slo, memory, timeout_s, api_key_env)
                    for _ in range(load_cfg.repeats)]
            result["levels"].append(combine_repeats(runs))
            if progress:
                progress(result["levels"][-1])
    if mode in ("open", "both"):
        result["open_loop"] = open_loop.rate_sweep(base_url, model, pool, load_cfg, warmup, memory, timeout_s,
                                                   api_key, workload, progress)
    return result
