"""The training section of the run report: the run's figures (loss, throughput, memory, precision, how
the saved weights were chosen, the NVFP4 checkpoint) and the loss curves beside validation-task success."""

from __future__ import annotations

import json
from pathlib import Path

from hrmtrain.errors import HrmError
from hrmtrain.report.html import finish_axes, fmt, png, pyplot, table
from hrmtrain.jsonl import read_json_lines


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise HrmError(f"{path}: no metrics; is {run_dir} a training run?")
    return [row for _, row in read_json_lines(path)]


def read_summary(run_dir: Path) -> dict:
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {"metrics": {}}


def loss_plot(rows: list[dict]) -> str:
    plt = pyplot()
    train = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
    val = [(r["step"], r["val/loss"]) for r in rows if "val/loss" in r]
    tasks = [(r["step"], r["val/task_success"]) for r in rows if "val/task_success" in r]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    if train:
        ax.plot(*zip(*train), label="train (per step)", linewidth=1, alpha=0.8)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", linewidth=2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    if tasks:  # the checkpoint is chosen on these (train/task_validation.py)
        right = ax.twinx()
        right.plot(*zip(*tasks), "s--", color="tab:green", label="validation task success", linewidth=2)
        right.set_ylabel("validation task success")
        right.set_ylim(-0.02, 1.02)
        right.legend(loc="center right")
    finish_axes(ax, "Loss" + (" and validation task success" if tasks else ""))
    return png(fig)


def _nvfp4_rows(info: dict | None) -> list[tuple[str, str]]:
    if not info:
        return []
    if not info.get("written"):
        return [("NVFP4 checkpoint", f"not written: {info.get('why')}")]
    return [("NVFP4 checkpoint", f"{info['path']} ({info['quant_algo']}, ModelOpt {info['modelopt_version']})"),
            ("NVFP4 checkpoint validation loss", fmt(info["val_loss_reloaded"]))]


def _checkpoint_rows(info: dict | None) -> list[tuple[str, str]]:
    """How the saved weights were chosen (train/task_validation.py), when validation tasks chose them."""
    if not info:
        return []
    history = ", ".join(f"step {s}: {k}/{n}" for s, k, n, _ in info["history"])
    return [("saved weights", f"step {info['chosen_step']}: {info['success']}/{info['n']} validation tasks, "
                              f"val loss {info['val_loss']:.4f} ({info['rule']})"
                              + ("; stopped early" if info.get("stopped_early") else "")),
            ("validation tasks per evaluation", history)]


def section(run_dir: Path) -> str:
    """The L-Module SFT section; a run folder without metrics is not a training run (HrmError)."""
    rows = read_metrics(run_dir)
    summary = read_summary(run_dir)
    m = summary.get("metrics", {})
    drop = m.get("val_loss_drop")
    return f"""<section id="training"><h2>L-Module SFT</h2>
{table([("steps", m.get("steps")), ("train loss (last step)", fmt(m.get("train_loss_final"))),
        ("validation loss, first eval", fmt(m.get("val_loss_first"))),
        ("validation loss, final", fmt(m.get("val_loss_final"))),
        ("validation loss drop", f"{drop:.1%}" if drop is not None else "-"),
        ("real tokens/s (median)", f"{m.get('tokens_per_s_median', 0):,.0f}"),
        ("step time (s, median)", f"{m['step_time_s_median']:.3f}" if m.get("step_time_s_median") else "-"),
        ("peak memory (MB)", f"{m['peak_memory_mb']:,.0f}" if m.get("peak_memory_mb") else "-"),
        ("base model", summary.get("model", {}).get("base", "-")),
        ("precision", summary.get("precision", "-")),
        *[(f"perf: {k}", v) for k, v in summary.get("perf", {}).items()],
        *_nvfp4_rows(summary.get("nvfp4_checkpoint")),
        *_checkpoint_rows(summary.get("checkpoint")),
        ("data sha256", summary.get("data", {}).get("sha256", "-")[:16])])}
<img alt="training and validation loss" src="data:image/png;base64,{loss_plot(rows)}">
</section>"""
