"""`hrmtrain pipeline`: sample data -> SFT -> retrieval adaptation -> eval (trained vs base) -> load sweep ->
export into the model repository -> report, through the real CLI in a fresh folder."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from helpers import run_cli, val_losses
from hrmtrain.export.repository import Repository

SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"


def _has_amx() -> bool:
    return Path("/proc/cpuinfo").is_file() and "amx_bf16" in Path("/proc/cpuinfo").read_text()


def _check_run(run_dir, base: str = "tiny"):
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert (run_dir / "model" / "chat_template.jinja").is_file()
    manifest = json.loads((run_dir / "model" / "manifest.json").read_text())
    assert manifest["base_model"]["base"] == base
    html = (run_dir / "report.html").read_text()
    # the loss plot is embedded (the report is one self-contained file)
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)) >= 1
    assert "validation loss" in html.lower()
    # the data section: counts per task type and split, and the consent exclusions
    assert 'id="data"' in html and "draft_reply" in html
    assert "no email consent from every member concerned" in html
    # evaluation of the trained model and the untrained base, the load sweep, their plots
    eval_dir = run_dir / "eval"
    trained = json.loads((eval_dir / "results.json").read_text())
    base = json.loads((eval_dir / "base-results.json").read_text())
    assert trained["model"].endswith(f"{run_dir.name}/model")
    assert base["model"] == manifest["base_model"]["path"] or base["model"].endswith("eval/base-model")
    for results in (trained, base):
        assert set(results["loops"]) == {"hrm", "flat"} and set(results["safety"]) == {"hrm", "flat"}
        assert "success_at_budget" in results["loops"]["hrm"]
    load = json.loads((eval_dir / "load.json").read_text())
    assert load["levels"] and all(level["requests"] > 0 for level in load["levels"])
    assert 'id="eval"' in html and "untrained base" in html and "safety adherence" in html
    assert 'alt="success at H-cycle budget"' in html and 'alt="latency against concurrency"' in html
    # retrieval: before/after for the embedder alone and with the reranker, and whether the reranker helps
    retrieval = json.loads((run_dir / "retrieval" / "results.json").read_text())
    assert {"off-the-shelf embedder", "adapted embedder", "adapted embedder + reranker"} <= set(retrieval["systems"])
    assert 'id="retrieval"' in html and "MRR@10 gain of the adapted embedder" in html
    rr = retrieval["reranker"]
    verdict = "The reranker helps" if rr["helps"] else "The reranker does not help"
    assert rr["helps"] == (rr["mrr@10_with"] is not None and rr["mrr@10_with"] > rr["mrr@10_without"])
    assert verdict in html and f"{rr['mrr@10_without']:.3f}" in html
    _check_repository(run_dir, html)
    return val_losses(run_dir), retrieval


def _check_repository(run_dir, html):
    """The model repository beside the runs: the three models, manifests traced to the lineage log, and
    the report's export section listing versions, parity figures and file hashes."""

    repo = Repository(run_dir.parent.parent / "model-repository")
    assert set(repo.models()) == {"lmodule", "embedder", "reranker"}
    assert not repo.verify()
    exported = json.loads((run_dir / "export" / "results.json").read_text())
    for name, row in exported["models"].items():
        manifest = repo.manifest(name, row["version"])
        assert manifest["lineage"]["entries"] and manifest["lineage"]["consent"], name
        assert row["parity"]["passed"], row["parity"]
        assert f"{name}</th><td>{row['version']}</td>" in html
        some_file, sha = next(iter(row["files"].items()))
        assert sha in html and some_file in html
    lm = repo.manifest("lmodule", exported["models"]["lmodule"]["version"])
    assert {"data", "train"} <= {e["stage"] for e in lm["lineage"]["entries"]}
    assert lm["evaluation"]["eval_results"]["loops"]["hrm"]
    assert 'id="export"' in html and 'alt="ONNX parity with PyTorch"' in html


@pytest.mark.slow
def test_pipeline_short_run_learns_and_reports(tmp_path):
    """Every stage with small settings (about 2 minutes; slow since the default suite neared 14 minutes:
    the README test below runs the same checks on the default run)."""
    res = run_cli(["pipeline", "trainer.max_steps=40", "trainer.eval_every=10", "run.name=short",
                   "logging.wandb_mode=disabled", "eval.max_tasks=6", "eval.load.concurrency=[1,2]",
                   "eval.load.episodes_per_level=2", "eval.budget.max_new_tokens=48",
                   "retrieval.epochs=0.5", "retrieval.generated_per_chunk=0", "retrieval.mining.epochs=0.25",
                   "retrieval.reranker.epochs=0.25"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[1/7] data" in res.stdout and "[3/7] retrieval" in res.stdout and "[6/7] export" in res.stdout
    assert "[7/7] report" in res.stdout and "model repository" in res.stdout
    assert "safety adherence" in res.stdout
    assert "val loss drop" in res.stdout  # the summary table
    assert (tmp_path / "data" / "sft" / "train.parquet").is_file()
    assert (tmp_path / "lineage" / "audit.jsonl").is_file()
    # OpenLineage: the pipeline's run, and each step as a run of its own with the pipeline as its parent
    events = [json.loads(line) for line in (tmp_path / "lineage" / "openlineage.jsonl").read_text().splitlines()]
    runs = [(e["job"]["name"], e["eventType"]) for e in events]
    assert runs[0] == ("pipeline", "START") and runs[-1] == ("pipeline", "COMPLETE")
    steps = ["data", "train", "retrieval", "eval", "loadtest", "export", "report"]
    assert [name for name, state in runs if state == "COMPLETE"][:-1] == steps, runs
    assert all(e["run"]["facets"]["parent"]["run"]["runId"] == events[0]["run"]["runId"]
               for e in events[1:-1]), "every step names the pipeline's run as its parent"
    assert "examples per task type and split" in res.stdout
    val, _ = _check_run(tmp_path / "runs" / "short")
    assert len(val) == 5  # step 0, 10, 20, 30, 40
    assert val[-1] < 0.7 * val[0], val


@pytest.mark.slow
@pytest.mark.timeout(4200)
def test_readme_pipeline_default_trains_a_model_that_beats_its_base(tmp_path):
    """The README's first command, unchanged: the whole default run on the pretrained SmolLM2 base, timed.
    On >= 120 held-out tasks the trained model beats the untrained base by >= 30 points in both loops with
    Wilson intervals apart; held-out phrasings keep >= 60% of that success; the saved weights are the ones
    the validation tasks chose; the retrieval stage is within budget."""
    if not _has_amx() and os.environ.get("HRMTRAIN_README_PIPELINE_ANY_CPU") != "1":
        pytest.skip("the README pipeline fits CI's hour on CPUs with AMX-BF16 (21 min there, the README's figures); "
                    "this CPU has none: on an AVX2-only EPYC its training stage alone took 29 min in fp32 (31 s a "
                    "step), so the run would not finish within CI's time. HRMTRAIN_README_PIPELINE_ANY_CPU=1 runs it")
    start = time.monotonic()
    res = run_cli(["pipeline", "run.name=default"], cwd=tmp_path, timeout=4100, tiny=False)
    elapsed = time.monotonic() - start
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = tmp_path / "runs" / "default"
    val, retrieval = _check_run(run_dir, base="smollm2-135m")
    assert val[-1] < 0.7 * val[0], val
    assert retrieval["mrr@10_gain"] >= 0.10, retrieval["systems"]
    manifest = json.loads((run_dir / "model" / "manifest.json").read_text())
    assert manifest["base_model"]["provenance"]["wheel_sha256"] == SMOLLM2_WHEEL_SHA256
    trained = json.loads((run_dir / "eval" / "results.json").read_text())
    base = json.loads((run_dir / "eval" / "base-results.json").read_text())
    assert trained["tasks"] >= 120
    for loop in ("hrm", "flat"):
        t, b = trained["loops"][loop]["summary"], base["loops"][loop]["summary"]
        assert t["overall"]["rate"] >= b["overall"]["rate"] + 0.30, (loop, t["overall"], b["overall"])
        assert t["overall"]["ci95"][0] > b["overall"]["ci95"][1], (loop, t["overall"], b["overall"])
        held_out, overall = t["by_phrasing"]["held_out"], t["overall"]
        assert held_out["n"] >= 30 and held_out["rate"] >= 0.6 * overall["rate"], (loop, held_out, overall)
    # the checkpoint the validation tasks chose is the one saved, and the report says so
    summary = json.loads((run_dir / "summary.json").read_text())
    choice = summary["checkpoint"]
    assert choice["history"] and choice["chosen_step"] in [h[0] for h in choice["history"]]
    best = max((h[1], -h[3]) for h in choice["history"])
    assert (choice["success"], -choice["val_loss"]) == best
    html = (run_dir / "report.html").read_text()
    assert f"step {choice['chosen_step']}: {choice['success']}/{choice['n']} validation tasks" in html
    assert "held-out phrasings" in html and "unsafe actions" in html
    print(f"README pipeline: {elapsed:.0f} s")
    if _has_amx():
        # The machine the README's figures come from (Intel Xeon, AMX-BF16, 2 cores): a fresh clone took 22 min 52 s
        # from the first pip install to the report, 21 min 18 s of it this command. The target is 25 minutes with the
        # install (about 1.5 min), so this command has 23; the bound adds 4 minutes for a busier machine. Elsewhere
        # (AVX512-BF16 or AVX2-only CPUs, where bf16 is no faster or slower than fp32) the run is longer and only
        # reported.
        assert elapsed < 27 * 60, f"{elapsed:.0f} s"
