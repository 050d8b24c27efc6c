"""The load sweep against a real `transformers serve` of a trained tiny model on 127.0.0.1, and against
servers that die mid-run or answer garbage (failed requests, not a crash)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import compose, run_cli, small_train
from hrmtrain.agent.loop import Budget
from hrmtrain.eval.curated import curated_tasks
from hrmtrain.eval.load import percentiles, run_level, sweep, MemorySampler, Slo
from hrmtrain.eval.server import ServedModel
from hrmtrain.train.stage import train


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("loadtest")
    (tmp / "data").symlink_to(sample_data, target_is_directory=True)
    result = train(compose(small_train(tmp, "served", steps=30)))
    result.close()
    return result.model_dir


def load_cfg(concurrency, episodes=None, pid=None, **slo):
    return compose([f"eval.load.concurrency=[{','.join(map(str, concurrency))}]",
                    f"eval.load.episodes_per_level={episodes}" if episodes else "eval.load.episodes_per_level=null",
                    "eval.load.max_new_tokens=12", *(f"eval.load.slo.{k}={v}" for k, v in slo.items())]).eval.load


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
                   "eval.max_tasks=1", "eval.curated=false", "eval.load.slo.ttft_ms=0.001"], cwd=tmp_path)
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
