"""The throughput benchmark runs end to end and prints its verdict line (slow: stock TRL takes tens of
seconds per step on a CPU; the numbers themselves live in benchmarks/README.md, not in a test)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from helpers import ROOT


@pytest.mark.slow
def test_sft_throughput_benchmark_compares_hrmtrain_with_trl_and_the_transformers_trainer(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sft_throughput.py"), "--model", "tiny",
                           "--steps", "3", "--warmup", "1", "--repeats", "1", "--variants", "trl,hf-trainer,hrm",
                           "--json", str(out)], capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"speedup: \d+\.\d\dx tokens/s, memory ratio \d+\.\d\d, MFU \d+%", lines[-1]), lines[-1]
    assert lines[0].startswith("CPU: ") and "threads" in lines[0], lines[0]
    result = json.loads(out.read_text())
    assert set(result["medians"]) == {"trl", "hf-trainer", "hrm"}
    for m in result["medians"].values():
        assert m["tokens_per_s"] > 0 and m["peak_rss_mb"] > 0 and 0 < m["mfu"] < 1
    assert result["shape_matched_peak_gflops"]["fp32"] > 0 and result["shape_matched_peak_gflops"]["bf16"] > 0
    assert result["cpu"]["isa"]


@pytest.mark.slow
def test_mining_throughput_benchmark_compares_with_sentence_transformers(tmp_path):
    out = tmp_path / "mining.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mining_throughput.py"), "--repeats", "1",
                           "--queries", "60", "--json", str(out)], capture_output=True, text=True, timeout=1500,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"speedup: \d+\.\d\dx queries/s with re-scoring \(hrmtrain [\d.]+ q/s vs "
                        r"sentence-transformers [\d.]+ q/s\)", last), last
    result = json.loads(out.read_text())
    assert result["queries"] == 60
    assert set(result["medians"]) == {"st-defaults", "hrmtrain", "st-embedder-only", "hrmtrain-embedder-only"}
    assert all(m["queries_per_s"] > 0 and m["negatives_or_rows"] > 0 for m in result["medians"].values())
    st, ours = result["medians"]["st-defaults"]["cross_encoder"], result["medians"]["hrmtrain"]["cross_encoder"]
    assert ours["pairs"] < st["pairs"]  # each (query, chunk) pair once: positives are not scored twice
    assert st["real_tokens"] <= st["positions"] and ours["real_tokens"] <= ours["positions"] < st["positions"]
    assert result["batching_bound"] == pytest.approx(st["positions"] / ours["real_tokens"])


@pytest.mark.slow
def test_onnx_latency_benchmark_compares_onnxruntime_with_pytorch(tmp_path):
    out = tmp_path / "onnx.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "onnx_latency.py"), "--repeats", "2",
                           "--batches", "1,2", "--lengths", "8", "--json", str(out)], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"onnxruntime vs PyTorch eager: median \d+\.\d\dx \(min \d+\.\d\dx, max \d+\.\d\dx\) "
                        r"over 8 cases", last), last
    rows = json.loads(out.read_text())["rows"]
    assert {(r["model"], r["phase"]) for r in rows} == {("lmodule", "prefill"), ("lmodule", "decode"),
                                                        ("embedder", "forward"), ("reranker", "forward")}
    assert all(r["pytorch_ms"] > 0 and r["onnxruntime_ms"] > 0 for r in rows)


@pytest.mark.slow
def test_memory_peak_benchmark_checks_the_plan_against_live_tensors(tmp_path):
    out = tmp_path / "peak.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory_peak.py"), "--model", "tiny",
                           "--json", str(out)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| full |" in proc.stdout and "| lora |" in proc.stdout
    runs = json.loads(out.read_text())["runs"]
    for r in runs.values():
        assert r["live_peak_mb"] > r["parts_mb"]["weights"] and r["live_peak_in"], r
    assert 0.85 <= runs["lora"]["ratio_live"] <= 1.15, runs["lora"]  # 0.99 when measured
    assert 0.85 <= runs["full"]["ratio_live"] <= 1.15, runs["full"]  # 0.99 when measured
    assert runs["lora"]["live_peak_mb"] < runs["full"]["live_peak_mb"]  # no gradients or AdamW state for the base
