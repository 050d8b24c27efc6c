"""Hydra multirun for `hrmtrain train`: a sweep such as the precision ablation

    hrmtrain train -m trainer.precision=bf16,fp16,fp32

runs one training per value, one after another, each in its own process and in
`<run.dir>/multirun-<time>/<job>/`. A job that fails does not end the sweep: a diverged run (NaN/inf, stopped by the loop) is a result of the
ablation and is reported as such; any other error is reported too and makes the command exit 2
once the sweep is done. At the end the `SweepReport` callback (registered in conf/config.yaml)
writes `<sweep>/sweep.json` and `<sweep>/report.html`: loss curves of all runs on one chart, final
validation loss, real tokens/s, peak memory and divergence per run, and prints the table.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from hrmtrain import atomic

DIVERGED = "diverged"


RECORD_ENV = "HRMTRAIN_JOB_RECORD"  # where a sweep job's child process writes its outcome


def multirun_job() -> dict | None:
    """{'num', 'sweep_dir', 'overrides'} of the current Hydra multirun job, or None outside one."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    return {"num": hc.job.num, "sweep_dir": hc.sweep.dir, "overrides": list(hc.overrides.task)}


def job_record(stage: str, status: str, run_dir: str | None = None, error: str | None = None) -> dict:
    """What a multirun job returns to the sweep callback."""
    return {"hrmtrain_stage": stage, "status": status, "run_dir": run_dir, "error": error}


def run_job_in_child(stage: str, job: dict) -> dict:
    """Run one sweep job as its own `hrmtrain <stage>` process, so that each run's peak memory is its
    own (Hydra's basic launcher runs every job in one process, whose resident memory only grows),
    torch state (threads, compile caches) does not leak from one job into the next, and a crash
    or kill of one job does not end the sweep. A training job goes to <sweep>/<n>/ (or
    <sweep>/<run.name>-<n>/). Output streams through; the outcome comes back as a small JSON file."""
    import os
    import subprocess

    sweep_dir = Path(job["sweep_dir"])
    overrides = job["overrides"]
    run_dir = None
    if stage == "train":
        name = next((o.partition("=")[2] for o in overrides if o.partition("=")[0] == "run.name"), "")
        overrides = [o for o in overrides if o.partition("=")[0] not in ("run.dir", "run.name")]
        run_name = f"{name}-{job['num']}" if name and name != "null" else str(job["num"])
        overrides += [f"run.dir={sweep_dir}", f"run.name={run_name}"]
        run_dir = str(sweep_dir / run_name)
    record_path = sweep_dir / f".job-{job['num']}.json"
    record_path.unlink(missing_ok=True)
    print(f"[sweep job {job['num']}] hrmtrain {stage} {' '.join(overrides)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "hrmtrain", stage, *overrides],
                          env={**os.environ, RECORD_ENV: str(record_path)})
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        record_path.unlink()
    else:  # killed, crashed, or stopped before it could say why
        record = job_record(stage, "failed", error=f"the job's process exited with code {proc.returncode}")
    return {**record, "run_dir": run_dir}


def record_outcome(stage: str, error: Exception | None) -> None:
    """In a sweep job's child process: write the outcome where the parent looks for it."""
    import os

    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    from hrmtrain.train.loop import TrainingDiverged

    if error is None:
        status = "ok"
    else:
        status = DIVERGED if isinstance(error, TrainingDiverged) else "failed"
    atomic.write_json(Path(path), job_record(stage, status, error=None if error is None else str(error)))


def _swept(jobs: list[dict]) -> list[str]:
    """The override keys whose values differ between jobs (what the sweep varies)."""
    values: dict[str, set] = {}
    for job in jobs:
        for item in job["overrides"]:
            key, _, value = item.partition("=")
            values.setdefault(key, set()).add(value)
    return [k for k, v in values.items() if len(v) > 1 or any(k not in _keys(j) for j in jobs)]


def _keys(job: dict) -> set:
    return {o.partition("=")[0] for o in job["overrides"]}


def _label(job: dict, swept: list[str]) -> str:
    parts = [o for o in job["overrides"] if o.partition("=")[0] in swept]
    return ", ".join(parts) or f"job {job['num']}"


def _diverged_step(error: str | None) -> int | None:
    m = re.search(r"at step (\d+)", error or "")
    return int(m.group(1)) if m else None


def summarise_job(job: dict, swept: list[str]) -> dict:
    from hrmtrain.train.loop import read_metrics_rows, step_statistics  # torch: only when reporting

    run_dir = Path(job["run_dir"]) if job.get("run_dir") else None
    rows = read_metrics_rows(run_dir / "metrics.jsonl") if run_dir else []
    steps = [r for r in rows if "train/loss" in r]
    vals = [[r["step"], r["val/loss"]] for r in rows if "val/loss" in r]
    summary_path = run_dir / "summary.json" if run_dir else None
    summary = json.loads(summary_path.read_text()) if summary_path and summary_path.is_file() else {}
    return {
        "job": job["num"], "label": _label(job, swept), "overrides": job["overrides"], "status": job["status"],
        "error": job.get("error"), "run_dir": job.get("run_dir"),
        "diverged_at_step": _diverged_step(job.get("error")) if job["status"] == DIVERGED else None,
        "precision": summary.get("precision"),
        "steps": steps[-1]["step"] if steps else 0,
        "val_loss_final": vals[-1][1] if vals and job["status"] == "ok" else None,
        **step_statistics(rows),
        "train_curve": [[r["step"], r["train/loss"]] for r in steps], "val_curve": vals,
    }


def _plots(runs: list[dict]) -> tuple[str, str]:
    from hrmtrain.report.html import finish_axes, png, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for i, r in enumerate(runs):
        color = f"C{i}"
        if r["train_curve"]:
            ax.plot(*zip(*r["train_curve"]), color=color, linewidth=1, alpha=0.6, label=f"{r['label']} (train)")
        if r["val_curve"]:
            ax.plot(*zip(*r["val_curve"]), "o--", color=color, linewidth=1.5, label=f"{r['label']} (validation)")
        if r["diverged_at_step"] is not None:
            ax.axvline(r["diverged_at_step"], color=color, linestyle=":", label=f"{r['label']} diverged")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    finish_axes(ax, "Loss per run")
    curves = png(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    labels = [r["label"] for r in runs]
    left.bar(labels, [r["tokens_per_s_median"] or 0 for r in runs], color=[f"C{i}" for i in range(len(runs))])
    left.set_title("real tokens/s (median step)")
    right.bar(labels, [r["peak_memory_mb"] or 0 for r in runs], color=[f"C{i}" for i in range(len(runs))])
    right.set_title("peak memory (MB)")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
        ax.tick_params(axis="x", labelrotation=20)
    return curves, png(fig)


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _status(r: dict) -> str:
    if r["status"] == "ok":
        return "finished"
    if r["status"] == DIVERGED:
        return f"diverged at step {r['diverged_at_step']}" if r["diverged_at_step"] is not None else "diverged"
    return "failed"


def write_report(sweep_dir: Path, runs: list[dict]) -> Path:
    curves, bars = _plots(runs)
    rows = "".join(
        f"<tr><th>{html.escape(r['label'])}</th><td>{html.escape(str(r['precision'] or '-'))}</td>"
        f"<td>{_status(r)}</td><td>{r['steps']}</td><td>{_cell(r['val_loss_final'], '.4f')}</td>"
        f"<td>{_cell(r['tokens_per_s_median'], ',.0f')}</td><td>{_cell(r['peak_memory_mb'], ',.0f')}</td></tr>"
        for r in runs)
    errors = "".join(f"<li><b>{html.escape(r['label'])}</b>: {html.escape(r['error'])}</li>" for r in runs if r["error"])
    from hrmtrain.report.html import page_head

    body = f"""{page_head(f"hrmtrain sweep: {sweep_dir.name}")}
<section id="ablation"><h2>Runs</h2>
<p>One training per job, same data, model and seed; only the swept values differ. A run whose loss
became NaN or inf was stopped there (diverged) rather than trained on.</p>
<table><tr><th>run</th><th>precision</th><th>status</th><th>steps</th><th>final validation loss</th>
<th>real tokens/s (median)</th><th>peak memory (MB)</th></tr>{rows}</table>
{f"<h3>Stopped runs</h3><ul>{errors}</ul>" if errors else ""}
<img alt="loss curves of every run" src="data:image/png;base64,{curves}">
<img alt="throughput and peak memory per run" src="data:image/png;base64,{bars}">
</section></body></html>
"""
    return atomic.write_text(sweep_dir / "report.html", body)


def print_table(runs: list[dict], sweep_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hrmtrain sweep: {sweep_dir}")
    for col in ("run", "status", "final val loss", "tokens/s", "peak MB"):
        table.add_column(col, justify="left" if col in ("run", "status") else "right")
    for r in runs:
        table.add_row(r["label"], _status(r), _cell(r["val_loss_final"], ".4f"),
                      _cell(r["tokens_per_s_median"], ",.0f"), _cell(r["peak_memory_mb"], ",.0f"))
    Console().print(table)


class SweepReport(Callback):
    """Collects each multirun job's record (what the stage returned) and reports the sweep at its end."""

    def __init__(self) -> None:
        self.jobs: list[dict] = []

    def on_job_end(self, config, job_return, **kwargs: Any) -> None:
        from hydra.types import RunMode

        if config.hydra.mode != RunMode.MULTIRUN:
            return
        record = job_return.return_value if job_return.status.name == "COMPLETED" else None
        if isinstance(record, dict) and "hrmtrain_stage" in record:
            self.jobs.append({**record, "num": config.hydra.job.num, "overrides": list(config.hydra.overrides.task)})

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        if not self.jobs:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        failed = [j for j in self.jobs if j["status"] not in ("ok", DIVERGED)]
        if any(j["hrmtrain_stage"] == "train" for j in self.jobs):
            swept = _swept(self.jobs)
            runs = [summarise_job(j, swept) for j in sorted(self.jobs, key=lambda j: j["num"])]
            atomic.write_json(sweep_dir / "sweep.json", {"swept": swept, "runs": runs})
            report = write_report(sweep_dir, runs)
            print_table(runs, sweep_dir)
            print(f"sweep report: {report}")
        if failed:
            print(f"hrmtrain: {len(failed)} of {len(self.jobs)} sweep jobs failed (see above)", file=sys.stderr)
            sys.exit(2)
