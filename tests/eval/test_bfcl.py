"""BFCL through its own CLI: the fixed subset, BFCL's score files read back, the comparison and the report
section (fast, on files in BFCL's formats), the separate environment's failure path (a real venv and pip),
and, slow, `hrmtrain eval suite=bfcl` end to end from a fresh environment against `transformers serve`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import compose, run_cli, small_train
from hrmtrain.config import BFCL_CATEGORIES
from hrmtrain.errors import HrmError
from hrmtrain.eval.bfcl import environment
from hrmtrain.eval.bfcl.capped_endpoint import CappedEndpoint
from hrmtrain.eval.bfcl.report_section import bfcl_section
from hrmtrain.eval.bfcl.runner import BfclRun, read_scores
from hrmtrain.eval.bfcl.stage import change, fixed_subset, summarise, bfcl_ids


def test_fixed_subset_is_105_distinct_ids_15_per_category():
    subset = fixed_subset()
    assert list(subset) == BFCL_CATEGORIES
    ids = [i for v in subset.values() for i in v]
    assert len(ids) == len(set(ids)) == 105
    for category, v in subset.items():
        assert len(v) == 15 and all(i.startswith(category + "_") for i in v), category


def test_suite_bfcl_selects_the_bfcl_suite():
    assert str(compose([]).eval.suite) == "household"
    cfg = compose(["suite=bfcl", "eval.bfcl.categories=[simple_python,irrelevance]"])
    assert str(cfg.eval.suite) == "bfcl" and cfg.eval.bfcl.categories == ["simple_python", "irrelevance"]


def test_a_category_outside_the_fixed_subset_is_named():
    cfg = compose(["suite=bfcl", "eval.bfcl.categories=[simple_python,multi_turn_base]"])
    with pytest.raises(HrmError, match=r"eval.bfcl.categories.*multi_turn_base"):
        bfcl_ids(cfg.eval.bfcl, Path("/nonexistent/python"))


def _score_file(root: Path, handler: str, category: str, correct: int, total: int, failed: list[str]) -> None:
    path = root / "score" / handler.replace("/", "_") / ("live" if category.startswith("live") else "non_live") \
        / f"BFCL_v4_{category}_score.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"accuracy": correct / total, "correct_count": correct, "total_count": total}]
    lines += [{"id": i, "valid": False, "error": ["wrong value"], "error_type": "value_error:others"} for i in failed]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_scores_are_read_from_bfcls_files_and_compared_per_entry(tmp_path):
    ids = {"simple_python": ["simple_python_0", "simple_python_26", "simple_python_53"],
           "irrelevance": ["irrelevance_0", "irrelevance_16"]}
    handler = "Qwen/Qwen3-8B-FC"
    _score_file(tmp_path / "t", handler, "simple_python", 2, 3, ["simple_python_53"])
    _score_file(tmp_path / "t", handler, "irrelevance", 1, 2, ["irrelevance_0"])
    _score_file(tmp_path / "b", handler, "simple_python", 0, 3, ids["simple_python"])
    _score_file(tmp_path / "b", handler, "irrelevance", 2, 2, [])
    trained = summarise(read_scores(BfclRun(Path("py"), tmp_path / "t", handler, ids, 1.0)))
    base = summarise(read_scores(BfclRun(Path("py"), tmp_path / "b", handler, ids, 1.0)))
    assert trained["per_category"]["simple_python"]["failed_ids"] == ["simple_python_53"]
    assert trained["mean_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert trained["pooled"] == {"correct": 3, "total": 5, "accuracy": 0.6, "ci95": trained["pooled"]["ci95"]}
    assert base["per_category"]["simple_python"]["accuracy"] == 0.0
    low, high = base["per_category"]["simple_python"]["ci95"]
    assert low == pytest.approx(0.0, abs=1e-12) and high > 0.3  # 0 of 3: Wilson's upper bound is wide
    diff = change(trained, base)
    assert diff["simple_python"] == {"delta": pytest.approx(2 / 3), "gained": 2, "lost": 0}
    assert diff["irrelevance"] == {"delta": pytest.approx(-0.5), "gained": 0, "lost": 1}
    assert diff["mean"]["delta"] == pytest.approx(trained["mean_accuracy"] - base["mean_accuracy"])

    results = {"bfcl_eval": "2026.3.23", "handler": handler, "subset": "fixed", "entries": 5, "ids": ids,
               "server": {"command": "transformers serve"}, "models": {"trained": trained, "base": base},
               "change": diff}
    (tmp_path / "bfcl.json").write_text(json.dumps(results))
    page = bfcl_section(tmp_path / "bfcl.json")
    assert "2/3 (67%)" in page and "+67%" in page and "-50%" in page and "data:image/png;base64," in page
    assert "dropped by 20 points or more: irrelevance" in page


def test_a_missing_score_file_names_the_category(tmp_path):
    run = BfclRun(Path("py"), tmp_path, "Qwen/Qwen3-8B-FC", {"parallel": ["parallel_0"]}, 1.0)
    with pytest.raises(HrmError, match="no score file for parallel"):
        read_scores(run)


def test_an_environment_that_cannot_be_installed_is_removed_and_named(tmp_path):
    """A real venv and pip: a lock naming a package no index has fails with the log named, and nothing
    half-made stays behind to be used next time."""
    lock = tmp_path / "requirements.lock"
    lock.write_text("hrmtrain-no-such-package-anywhere==0.0.1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    env_dir = tmp_path / "cache" / "bfcl" / environment.lock_digest(lock)
    with pytest.raises(HrmError, match=r"installing .*requirements.lock failed .*install.log"):
        environment.ensure(env_dir, lock)
    assert not env_dir.exists() and not environment.is_ready(env_dir)
    assert "hrmtrain-no-such-package-anywhere" in (env_dir.parent / f"{env_dir.name}.install.log").read_text()


class Upstream(BaseHTTPRequestHandler):
    """A model server stand-in: answers /v1/models, and a completion that says what max_tokens it was asked for,
    stopping at that length when it is under 100 (a model that never stops by itself)."""

    def do_GET(self):  # noqa: N802
        self._send({"object": "list", "data": [{"id": "m"}]})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        asked = body.get("max_tokens")
        self._send({"choices": [{"text": f"asked {asked}", "finish_reason": "length" if asked and asked < 100 else "stop"}],
                    "model": body["model"]})

    def _send(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_capped_endpoint_lowers_max_tokens_and_passes_the_rest():
    import httpx

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with CappedEndpoint(f"http://127.0.0.1:{upstream.server_address[1]}", 64) as proxy:
            base = f"http://{proxy.host}:{proxy.port}/v1"
            assert httpx.get(f"{base}/models").json()["data"][0]["id"] == "m"
            big = httpx.post(f"{base}/completions", json={"model": "/models/x", "prompt": "p", "max_tokens": 4096}).json()
            small = httpx.post(f"{base}/completions", json={"model": "/models/x", "prompt": "p", "max_tokens": 20}).json()
            unset = httpx.post(f"{base}/completions", json={"model": "/models/x", "prompt": "p"}).json()
        assert big["choices"][0]["text"] == "asked 64" and big["model"] == "/models/x"
        assert small["choices"][0]["text"] == "asked 20" and unset["choices"][0]["text"] == "asked 64"
        assert proxy.summary() == {"max_new_tokens": 64, "requests": 3, "capped": 2, "stopped_at_cap": 2}
        with CappedEndpoint(f"http://127.0.0.1:{upstream.server_address[1]}", None) as proxy:  # no cap
            out = httpx.post(f"http://{proxy.host}:{proxy.port}/v1/completions",
                             json={"model": "m", "prompt": "p", "max_tokens": 4096}).json()
        assert out["choices"][0]["text"] == "asked 4096" and proxy.capped == 0
    finally:
        upstream.shutdown()
        upstream.server_close()


@pytest.mark.slow
def test_eval_suite_bfcl_scores_a_trained_model_and_its_base_by_bfcls_checker(tmp_path, sample_data):
    """The documented command, `hrmtrain eval suite=bfcl`, on a SmolLM2 run (two LoRA steps: the command's
    plumbing, not the fine-tune, is under test; README gives the measured comparison), five ids of two
    categories: the environment is made from the lock (or reused from the cache), the trained model and its
    base are served and answered, BFCL's checker scores them, and the run's report gains the section. The
    base answers BFCL's questions in prose, with no call: 0 on simple_python, while irrelevance rewards
    exactly that."""
    (tmp_path / "data").symlink_to(sample_data, target_is_directory=True)
    # run.dir relative to the working folder, as a user types it (BFCL runs in a folder of its own)
    overrides = [o for o in small_train(tmp_path, "bfcl", steps=2)
                 if not o.startswith(("experiment=", "run.dir=", "trainer.eval_every=", "trainer.checkpoint_every="))]
    overrides += ["run.dir=runs", "model.lora.enabled=true", "trainer.eval_every=2", "trainer.checkpoint_every=2"]
    res = run_cli(["train", *overrides], cwd=tmp_path, tiny=False, timeout=1800)
    assert res.returncode == 0, res.stderr[-2000:]
    res = run_cli(["report", *overrides], cwd=tmp_path, tiny=False)
    assert res.returncode == 0, res.stderr[-2000:]
    # answers capped at 128 tokens (the base's prose would run to the default 512): a call fits, and CI's hour too
    res = run_cli(["eval", "suite=bfcl", *overrides, "eval.bfcl.categories=[simple_python,irrelevance]",
                   "eval.bfcl.limit=5", "eval.bfcl.max_new_tokens=128"], cwd=tmp_path, tiny=False, timeout=3600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    results = json.loads((tmp_path / "runs" / "bfcl" / "eval" / "bfcl.json").read_text())
    assert results["bfcl_eval"] == "2026.3.23" and set(results["models"]) == {"trained", "base"}
    assert results["ids"]["simple_python"] == fixed_subset()["simple_python"][:5] and results["max_new_tokens"] == 128
    assert all(m["answers"]["requests"] == 10 for m in results["models"].values()), results["models"]
    for name, m in results["models"].items():
        assert set(m["per_category"]) == {"simple_python", "irrelevance"}
        assert all(r["total"] == 5 for r in m["per_category"].values()), (name, m["per_category"])
    base = results["models"]["base"]["per_category"]
    assert base["simple_python"]["accuracy"] == 0.0 and base["irrelevance"]["accuracy"] >= 0.6, base
    assert set(results["change"]) == {"simple_python", "irrelevance", "mean"}
    assert "BFCL" in res.stdout and "mean over categories" in res.stdout
    assert 'id="bfcl"' in (tmp_path / "runs" / "bfcl" / "report.html").read_text()
