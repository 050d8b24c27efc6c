"""Hydra multirun sweeps of `hrmtrain train`: the precision ablation is one command whose result is a
table and plots; a diverged job is a result and the sweep goes on; a failed job is reported and
makes the command exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import read_jsonl, run_cli
from hrmtrain.models.precision import resolve


def _sweep_args(tmp, steps=3, extra=()):
    return ["-m", "experiment=tiny", f"data.path={tmp / 'data'}", f"run.dir={tmp / 'runs'}", f"lineage.dir={tmp / 'lineage'}",
            f"trainer.max_steps={steps}", "trainer.batch_size=2", "trainer.eval_every=3", "trainer.warmup_steps=0",
            "trainer.checkpoint_every=100", "logging.wandb_mode=disabled", *extra]


def _sweep_dir(tmp):
    dirs = sorted((tmp / "runs").glob("multirun-*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.mark.slow
def test_precision_ablation_is_one_command_with_a_table_and_plots(workdir):
    """Slow: bf16 and fp16 autocast are emulated on AVX2-only CPUs (10-15x slower than fp32), and this sweep was
    the default suite's longest test there (118 s); the two tests below cover the sweep's table and exit code."""
    proc = run_cli(["train", *_sweep_args(workdir, extra=["trainer.precision=bf16,fp16,fp32"])], cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = _sweep_dir(workdir)
    result = json.loads((sweep / "sweep.json").read_text())
    assert result["swept"] == ["trainer.precision"]
    runs = result["runs"]
    assert [r["label"] for r in runs] == ["trainer.precision=bf16", "trainer.precision=fp16", "trainer.precision=fp32"]
    assert [r["precision"] for r in runs] == ["bf16", "fp16", "fp32"]
    for r, job in zip(runs, ("0", "1", "2")):
        assert r["status"] == "ok" and r["steps"] == 3 and r["diverged_at_step"] is None
        assert r["run_dir"].endswith(f"{sweep.name}/{job}")
        rows = read_jsonl(sweep / job / "metrics.jsonl")
        assert r["val_loss_final"] == [x["val/loss"] for x in rows if "val/loss" in x][-1]
        assert r["tokens_per_s_median"] > 0 and r["peak_memory_mb"] > 0
        assert len(r["train_curve"]) == 3 and len(r["val_curve"]) == 2
        assert (sweep / job / "model" / "model.safetensors").is_file()
    # same data, model and seed: the precisions start from the same loss and end close to each other
    finals = [r["val_loss_final"] for r in runs]
    assert max(finals) - min(finals) < 0.05 * min(finals)
    page = (sweep / "report.html").read_text()
    assert page.count("<img") == 2 and "diverged" in page
    for label in ("trainer.precision=bf16", "trainer.precision=fp16", "trainer.precision=fp32"):
        assert label in page
    assert "hrmtrain sweep" in proc.stdout and "sweep report:" in proc.stdout


# slow: a sweep of two training jobs (49 s on an AVX2 EPYC under two workers); the failed-job test below stays
@pytest.mark.slow
def test_a_diverged_job_is_reported_and_the_sweep_goes_on(workdir):
    proc = run_cli(["train", *_sweep_args(workdir, extra=["trainer.precision=fp32", "trainer.lr=1e9,3e-3"])],
                   cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stopped rather than train on garbage" in proc.stderr
    runs = json.loads((_sweep_dir(workdir) / "sweep.json").read_text())["runs"]
    diverged, fine = runs
    assert diverged["status"] == "diverged" and diverged["label"] == "trainer.lr=1000000000.0"  # as Hydra renders the swept value
    assert diverged["diverged_at_step"] >= 1 and diverged["val_loss_final"] is None
    assert re.search(r"loss is (nan|inf)", diverged["error"])
    assert fine["status"] == "ok" and fine["val_loss_final"] is not None
    page = (_sweep_dir(workdir) / "report.html").read_text()
    assert f"diverged at step {diverged['diverged_at_step']}" in page


def test_a_failed_job_is_named_and_the_command_exits_2(workdir):
    proc = run_cli(["train", *_sweep_args(workdir, extra=["trainer.max_length=1024,16"])], cwd=workdir)
    assert proc.returncode == 2
    assert "1 of 2 sweep jobs failed" in proc.stderr
    assert "trainer.max_length" in proc.stderr or "max_length" in proc.stderr
    runs = json.loads((_sweep_dir(workdir) / "sweep.json").read_text())["runs"]
    assert [r["status"] for r in runs] == ["ok", "failed"]
    assert "max_length" in runs[1]["error"]


@pytest.mark.slow
def test_nvfp4_qat_validation_loss_is_within_10_percent_of_the_unquantized_run(workdir):
    """The issue's criterion, as the user would check it: one sweep over model.quant, the pipeline's default
    240 steps; the ModelOpt checkpoint of the nvfp4 run is written and reloads. Both runs compute in the
    precision `trainer.precision=auto` picks: bf16 where the CPU has bf16 kernels (the issue's reference), fp32
    on AVX2-only CPUs, where emulated bf16 is about 15x slower (models/precision.py) and the sweep would not
    fit CI's time."""

    precision, _ = resolve("auto", "cpu")
    proc = run_cli(["train", *_sweep_args(workdir, steps=240, extra=[
        "trainer.batch_size=4", "trainer.eval_every=40", "trainer.precision=auto", "model.quant=none,nvfp4"])],
        cwd=workdir, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref, fp4 = json.loads((_sweep_dir(workdir) / "sweep.json").read_text())["runs"]
    assert (ref["label"], fp4["label"]) == ("model.quant=none", "model.quant=nvfp4")
    assert ref["precision"] == fp4["precision"] == precision
    assert fp4["val_loss_final"] <= 1.10 * ref["val_loss_final"], (fp4["val_loss_final"], ref["val_loss_final"])
    summary = json.loads((Path(fp4["run_dir"]) / "summary.json").read_text())
    assert summary["nvfp4_checkpoint"]["written"]
    assert summary["nvfp4_checkpoint"]["val_loss_reloaded"] <= 1.10 * ref["val_loss_final"]
