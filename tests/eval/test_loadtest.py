"""The load test against a real `transformers serve` of a trained tiny model on 127.0.0.1: the closed-loop
concurrency sweep, the open-loop rates (Poisson and constant arrivals, household and synthetic requests,
warm-up, repeats, TPOT, the knee), and servers that die mid-run or answer garbage (failed requests, not a
crash)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import compose, run_cli, small_train
from hrmtrain.agent.loop import Budget
from hrmtrain.eval.curated import curated_tasks
from hrmtrain.eval import open_loop
from hrmtrain.eval.latency import combine_repeats, percentiles, tpot_s
from hrmtrain.eval.load import run_level, sweep, MemorySampler, Slo
from hrmtrain.eval.openai_policy import RequestTiming
from hrmtrain.eval.server import ServedModel
from hrmtrain.train.stage import train


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("loadtest")
    (tmp / "data").symlink_to(sample_data, target_is_directory=True)
    result = train(compose(small_train(tmp, "served", steps=30)))
    result.close()
    return result.model_dir


def load_cfg(concurrency, episodes=None, pid=None, extra=(), **slo):
    return compose([f"eval.load.concurrency=[{','.join(map(str, concurrency))}]",
                    f"eval.load.episodes_per_level={episodes}" if episodes else "eval.load.episodes_per_level=null",
                    "eval.load.max_new_tokens=12", "eval.load.mode=closed", "eval.load.repeats=1",
                    "eval.load.warmup_requests=0", *extra, *(f"eval.load.slo.{k}={v}" for k, v in slo.items())]).eval.load


def test_sweep_against_transformers_serve_reports_every_figure(trained_model, tmp_path):
    tasks = curated_tasks()[:3]
    with ServedModel(trained_model, tmp_path / "server.log") as server:
        result = sweep(server.base_url, server.model, tasks, load_cfg([1, 2], episodes=2), Budget(), server.pid)
    assert "resident memory" in result["memory_source"] and len(result["levels"]) == 2
    for level in result["levels"]:
        assert level["failed"] == 0 and level["requests"] >= level["episodes"] == 2, level
        for key in ("e2e_ms", "episode_ms"):
            q = level[key]
            assert 0 < q["p50"] <= q["p90"] <= q["p99"], (key, q)
        # every answered request has a first-token time, or is counted as one that streamed nothing
        # (a tool call the server sends only whole, cut off by max_tokens: the 30-step model does that)
        ttft = level["ttft_ms"]
        assert (ttft["n"] if ttft else 0) + level["no_streamed_output"] == level["requests"], level
        if ttft:
            assert 0 < ttft["p50"] <= ttft["p90"] <= ttft["p99"] <= level["e2e_ms"]["p99"], ttft
        assert level["requests_per_s"] > 0 and level["output_tokens_per_s"] > 0
        assert 0 <= level["goodput_per_s"] <= level["requests_per_s"] + 1e-9
        assert level["peak_memory_mb"] > 100  # a model server is more than 100 MB resident
    assert server.proc.poll() is not None  # the server process is gone after the block


def test_loadtest_cli_starts_and_stops_its_own_server(trained_model, tmp_path, sample_data):
    res = run_cli(["loadtest", f"eval.model={trained_model}", f"data.path={sample_data}", f"run.dir={tmp_path}",
                   "eval.load.concurrency=[1]", "eval.load.episodes_per_level=1", "eval.load.max_new_tokens=8",
                   "eval.max_tasks=1", "eval.curated=false", "eval.load.slo.ttft_ms=0.001", "eval.load.mode=closed",
                   "eval.load.repeats=1", "eval.load.warmup_requests=0"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((trained_model.parent / "eval" / "load.json").read_text())
    level = result["levels"][0]
    assert level["failed"] == 0 and level["requests"] >= 1
    assert level["goodput_per_s"] == 0 and level["slo_attainment"] == 0  # a 1 us TTFT SLO nobody meets
    assert "good/s" in res.stdout and "transformers serve" in json.dumps(result["server"])


def test_server_killed_mid_sweep_gives_failed_requests(trained_model, tmp_path):
    tasks = curated_tasks()
    server = ServedModel(trained_model, tmp_path / "server.log").start()
    try:
        # One episode first, so the server has answered before the clock starts (on a busy machine its first
        # answer took over a second, and every request then failed). 200 episodes are several seconds of
        # work (about 45 ms each at concurrency 2 here): the kill at 1 s lands mid-sweep (with 40, a fast
        # machine finished all of them before a kill at 1.5 s)
        warm = run_level(server.base_url, server.model, tasks, 1, 1, Budget(max_new_tokens=12), Slo(1e9, 1e9, 1e9),
                         MemorySampler(server.pid, 0.1), timeout_s=60)
        assert warm["failed"] == 0, warm
        killer = threading.Timer(1.0, server.proc.kill)
        killer.start()
        level = run_level(server.base_url, server.model, tasks, 2, 200, Budget(max_new_tokens=12),
                          Slo(1e9, 1e9, 1e9), MemorySampler(server.pid, 0.1), timeout_s=10)
        killer.cancel()
    finally:
        server.stop()
    assert level["failed"] >= 1 and level["requests"] > level["failed"], level
    assert level["episodes"] == 200 and level["stop_reasons"].get("policy_error", 0) >= 1
    assert any("Error" in e for e in level["errors"])
    assert level["peak_memory_mb"] > 100  # sampled before the kill, kept


class Garbage(BaseHTTPRequestHandler):
    """Answers in turn: not JSON, an HTTP 500, a stream cut off mid-way, an error event, a good stream."""

    count = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        kind = Garbage.count % 5
        Garbage.count += 1
        if kind == 1:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"Internal Server Error")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {"choices": [{"delta": {"content": "Hi"}, "index": 0}]}
        if kind == 0:
            self.wfile.write(b"data: {not json\n\n")
        elif kind == 2:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: {{\"choi".encode())
        elif kind == 3:
            self.wfile.write(b'data: {"error": "max_new_tokens must be greater than 0"}\n\n')
        else:
            for _ in range(3):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.01)
            last = {"choices": [{"delta": {}, "index": 0, "finish_reason": "stop"}], "usage": {"completion_tokens": 3}}
            self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args):
        pass


def test_garbage_answers_are_failed_requests_not_a_crash():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        level = run_level(f"http://127.0.0.1:{httpd.server_address[1]}/v1", "m", curated_tasks()[:1], 2, 10,
                          Budget(), Slo(1e9, 1e9, 1e9), MemorySampler(None))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert level["requests"] == 10 and level["failed"] == 8, level  # 2 of every 5 answers stream properly
    kinds = " ".join(level["errors"])
    assert "JSONDecodeError" in kinds and "HTTPStatusError" in kinds and "server error in stream" in kinds
    assert level["ttft_ms"]["n"] == 2 and level["itl_ms"]["n"] == 4  # 3 chunks each: 2 gaps per good request
    assert level["peak_memory_mb"] is None


def test_percentiles_match_numpy():
    import numpy as np

    xs = [0.9, 0.1, 0.5, 0.3, 0.7, 1.3, 0.2]
    q = percentiles(xs)
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert q[name] == pytest.approx(np.percentile(xs, p) * 1000)


def test_arrivals_poisson_and_constant():
    constant = open_loop.arrival_times(4.0, 5, "constant", 0)
    assert constant == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    poisson = open_loop.arrival_times(4.0, 4001, "poisson", 7)
    gaps = [b - a for a, b in zip(poisson, poisson[1:])]
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, rel=0.05)  # mean gap 1/rate
    assert sum(g > 0.5 for g in gaps) / len(gaps) == pytest.approx(2.718281828 ** -2, abs=0.02)  # P(gap > 2/rate)
    assert open_loop.arrival_times(4.0, 10, "poisson", 7) == poisson[:10]  # seeded


def test_synthetic_prompts_have_exactly_the_asked_tokens(tokenizer):
    requests = open_loop.synthetic_requests(tokenizer, 3, 100, 16, "transformers", seed=1)
    for r in requests:
        assert len(tokenizer(r.body["prompt"], add_special_tokens=False)["input_ids"]) == 100
        assert json.loads(r.body["generation_config"])["min_new_tokens"] == 16 and r.path == "/completions"
    assert len({r.body["prompt"] for r in requests}) == 3
    vllm = open_loop.synthetic_requests(tokenizer, 1, 20, 8, "vllm", seed=1)[0].body
    assert vllm["min_tokens"] == 8 and vllm["ignore_eos"] is True and "generation_config" not in vllm


def test_tpot_and_repeats_reduce_to_median_and_spread():
    assert tpot_s(RequestTiming(True, 1.1, ttft_s=0.1, output_tokens=11)) == pytest.approx(0.1)
    assert tpot_s(RequestTiming(True, 1.0, ttft_s=0.1, output_tokens=1)) is None
    assert tpot_s(RequestTiming(False, 1.0, ttft_s=0.1, output_tokens=5)) is None
    runs = [{"requests": 8, "failed": f, "achieved_rate": a, "e2e_ms": percentiles([a, 2 * a, 3 * a]), "tpot_ms": None,
             "errors": [e] if e else []} for f, a, e in ((0, 1.0, ""), (1, 3.0, "ReadTimeout"), (0, 2.0, ""))]
    level = combine_repeats(runs)
    assert level["repeats"] == 3 and level["requests"] == 24 and level["failed"] == 1  # counts are summed
    assert level["achieved_rate"] == 2.0 and level["spread"]["achieved_rate"] == [1.0, 3.0]
    assert level["e2e_ms"]["p50"] == 4000.0 and level["spread"]["e2e_ms"]["p50"] == [2000.0, 6000.0]
    assert level["tpot_ms"] is None and level["errors"] == ["ReadTimeout"] and len(level["runs"]) == 3


def _level(rate, achieved, p50):
    return {"offered_rate": rate, "achieved_rate": achieved, "e2e_ms": {"p50": p50}}


def test_knee_is_the_last_rate_the_server_keeps_up_with():
    levels = [_level(0.5, 0.5, 100), _level(1.0, 0.98, 120), _level(2.0, 1.9, 190), _level(4.0, 2.1, 900)]
    assert open_loop.knee(levels)["offered_rate"] == 2.0 and open_loop.knee(levels)["beyond"] == 4.0
    latency_only = [_level(0.5, 0.5, 100), _level(1.0, 1.0, 250)]  # keeps the rate, but latency more than doubles
    assert open_loop.knee(latency_only)["offered_rate"] == 0.5
    never = [_level(1.0, 0.3, 100), _level(2.0, 0.3, 500)]  # a server that never keeps up: no knee
    assert open_loop.knee(never)["offered_rate"] is None and open_loop.knee(never)["beyond"] == 1.0


def test_open_loop_against_transformers_serve(trained_model, tmp_path, tokenizer):
    """Synthetic requests at two constant rates, two repeats, after an uncounted warm-up: every request
    answered with exactly the forced number of tokens, TPOT measured, the client sending on time."""
    cfg = load_cfg([1], extra=["eval.load.mode=open", "eval.load.workload=synthetic", "eval.load.rates=[2,4]",
                               "eval.load.arrival=constant", "eval.load.requests_per_rate=4", "eval.load.repeats=2",
                               "eval.load.warmup_requests=2", "eval.load.input_tokens=64",
                               "eval.load.output_tokens=6"])
    with ServedModel(trained_model, tmp_path / "server.log") as server:
        result = sweep(server.base_url, server.model, [], cfg, Budget(), server.pid, tokenizer=tokenizer,
                       force_output="transformers")
    assert result["levels"] == [] and result["warmup"]["requests"] == 2 and result["warmup"]["failed"] == 0
    ol = result["open_loop"]
    assert [lv["offered_rate"] for lv in ol["levels"]] == [2.0, 4.0] and ol["rates_from"] == "eval.load.rates"
    for lv in ol["levels"]:
        assert lv["requests"] == 8 and lv["failed"] == 0 and lv["repeats"] == 2, lv  # the warm-up is not counted
        assert lv["output_tokens"]["p50"] == lv["output_tokens"]["p99"] == 6.0
        assert 0 < lv["tpot_ms"]["p50"] < lv["e2e_ms"]["p50"] and lv["ttft_ms"]["p50"] < lv["e2e_ms"]["p50"]
        assert lv["send_lateness_ms"] < 200 and lv["achieved_rate"] > 0
        assert set(lv["spread"]["e2e_ms"]) >= {"p50", "p99"}
    assert "rule" in ol["knee"]


def test_loadtest_cli_open_loop_on_household_requests_plots_against_offered_load(trained_model, tmp_path,
                                                                                 sample_data):
    """Rates from the warm-up's capacity (eval.load.rate_fractions), Poisson arrivals of household first turns;
    the run's report plots latency against offered load."""
    res = run_cli(["loadtest", f"eval.model={trained_model}", f"data.path={sample_data}", f"run.dir={tmp_path}",
                   "eval.load.mode=open", "eval.load.rate_fractions=[0.5,2]", "eval.load.requests_per_rate=3",
                   "eval.load.repeats=1", "eval.load.max_new_tokens=8", "eval.load.warmup_requests=3",
                   "eval.max_tasks=3", "eval.curated=false"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((trained_model.parent / "eval" / "load.json").read_text())
    ol = result["open_loop"]
    capacity = result["warmup"]["capacity_rps"]
    assert capacity > 0 and "capacity" in ol["rates_from"] and ol["arrival"] == "poisson"
    assert [lv["offered_rate"] for lv in ol["levels"]] == pytest.approx([0.5 * capacity, 2 * capacity])
    assert "open loop" in res.stdout and "knee" in res.stdout
    from hrmtrain.eval.report_section import load_section

    page = load_section(result)
    assert "Latency against offered load" in page and page.count("data:image/png;base64,") == 1


def test_sigterm_stops_the_server_the_command_started(trained_model, tmp_path, sample_data):
    """`kill` of a running `hrmtrain loadtest` ends it as a failed run and takes its model server with it
    (an orphaned server would go on generating)."""
    import os
    import signal
    import subprocess
    import sys

    import psutil

    from helpers import TINY

    proc = subprocess.Popen([sys.executable, "-m", "hrmtrain", "loadtest", TINY, f"eval.model={trained_model}",
                             f"data.path={sample_data}", f"run.dir={tmp_path}", "eval.load.mode=closed",
                             "eval.load.concurrency=[1]", "eval.load.episodes_per_level=500", "eval.load.repeats=1",
                             "eval.load.warmup_requests=0", "eval.load.max_new_tokens=8"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server_pid = None
    try:
        for line in proc.stdout:
            if "loadtest: serving" in line:
                server_pid = int(line.rsplit("(pid ", 1)[1].split(")")[0])
                break
        assert server_pid and psutil.pid_exists(server_pid)
        time.sleep(2)  # mid-sweep
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30
    while psutil.pid_exists(server_pid) and psutil.Process(server_pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the model server outlived the command"
        time.sleep(0.2)
    events = [json.loads(line) for line in (tmp_path / "lineage" / "openlineage.jsonl").read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [("loadtest", "START"), ("loadtest", "FAIL")]
