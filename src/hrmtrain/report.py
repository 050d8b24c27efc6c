"""`runs/<name>/report.html`: one self-contained page (plots inlined as PNG) per run.

Sections: training summary and loss curves, data, retrieval adaptation (when the pipeline ran it into
the run), evaluation (when `hrmtrain eval` wrote results into the run), config.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.errors import HrmError
from hrmtrain.eval.report_section import eval_section, finish_axes, png
from hrmtrain.export.report_section import export_section
from hrmtrain.humaneval.report_section import run_section as humaneval_section
from hrmtrain.retrieval.report_section import retrieval_section


def loss_plot(rows: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def page_head(title: str) -> str:
    """The start of a self-contained report page (styles inline) up to its <h1>."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ccc; padding: .3rem .7rem; }}
th {{ text-align: left; background: #f5f5f5; }} td {{ text-align: right; font-variant-numeric: tabular-nums; }}
pre {{ background: #f7f7f7; padding: 1rem; overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>"""


def read_metrics(run_dir: Path) -> list[dict]:
    from hrmtrain.train.loop import read_metrics_rows

    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise HrmError(f"{path}: no metrics; is {run_dir} a training run?")
    return read_metrics_rows(path)


def _table(pairs) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def _nvfp4_rows(info: dict | None) -> list[tuple[str, str]]:
    if not info:
        return []
    if not info.get("written"):
        return [("NVFP4 checkpoint", f"not written: {info.get('why')}")]
    return [("NVFP4 checkpoint", f"{info['path']} ({info['quant_algo']}, ModelOpt {info['modelopt_version']})"),
            ("NVFP4 checkpoint validation loss", _fmt(info["val_loss_reloaded"]))]


def _checkpoint_rows(info: dict | None) -> list[tuple[str, str]]:
    """How the saved weights were chosen (train/task_validation.py), when validation tasks chose them."""
    if not info:
        return []
    history = ", ".join(f"step {s}: {k}/{n}" for s, k, n, _ in info["history"])
    return [("saved weights", f"step {info['chosen_step']}: {info['success']}/{info['n']} validation tasks, "
                              f"val loss {info['val_loss']:.4f} ({info['rule']})"
                              + ("; stopped early" if info.get("stopped_early") else "")),
            ("validation tasks per evaluation", history)]


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else v


def data_section(data_path: str | None) -> str:
    """Counts per task type and split, and exclusions by reason, from the splits' manifest."""
    manifest_path = Path(data_path) / "manifest.json" if data_path else None
    if not manifest_path or not manifest_path.is_file():
        return ""
    manifest = json.loads(manifest_path.read_text())
    counts = manifest.get("counts")
    if not counts:
        return ""
    splits = list(counts)
    types = sorted({t for c in counts.values() for t in c})
    head = "".join(f"<th>{html.escape(s)}</th>" for s in splits)
    body = "".join(f"<tr><th>{html.escape(t)}</th>" + "".join(f"<td>{counts[s].get(t, 0)}</td>" for s in splits)
                   + "</tr>" for t in types)
    total = "".join(f"<td><b>{sum(counts[s].values())}</b></td>" for s in splits)
    excluded = manifest.get("excluded", {})
    ex_rows = "".join(f"<tr><th>{html.escape(r)}</th><td>{n}</td></tr>" for r, n in excluded.items()) \
        or "<tr><th>none</th><td>0</td></tr>"
    records = manifest.get("records", {})
    return f"""<section id="data"><h2>Data</h2>
<p>{records.get('used', '?')} of {records.get('read', '?')} household records used; balance: {html.escape(str(manifest.get('balance')))}.</p>
<table><tr><th>task type</th>{head}</tr>{body}<tr><th>total</th>{total}</tr></table>
<h3>Records excluded (never written)</h3><table>{ex_rows}</table>
</section>"""


def write_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {"metrics": {}}
    config = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").is_file() else ""
    m = summary.get("metrics", {})
    drop = m.get("val_loss_drop")
    body = f"""{page_head(f"hrmtrain report: {run_dir.name}")}
<section id="training"><h2>L-Module SFT</h2>
{_table([("steps", m.get("steps")), ("train loss (last step)", _fmt(m.get("train_loss_final"))),
         ("validation loss, first eval", _fmt(m.get("val_loss_first"))),
         ("validation loss, final", _fmt(m.get("val_loss_final"))),
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
</section>
{data_section(summary.get("data", {}).get("path"))}
{retrieval_section(run_dir / "retrieval" / "results.json")}
{eval_section(run_dir / "eval" / "results.json", run_dir / "eval" / "base-results.json",
              run_dir / "eval" / "load.json")}
{humaneval_section(run_dir)}
{export_section(run_dir / "export" / "results.json")}
<section id="config"><h2>Config</h2><pre>{html.escape(config)}</pre></section>
</body></html>
"""
    return atomic.write_text(run_dir / "report.html", body)


def latest_run(root: Path) -> Path:
    runs = sorted((p for p in Path(root).glob("*") if (p / "metrics.jsonl").is_file()), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise HrmError(f"{root}: no training runs found")
    return runs[-1]


def run(cfg) -> None:
    run_dir = Path(cfg.run.dir) / cfg.run.name if cfg.run.name else latest_run(Path(cfg.run.dir))
    print(f"report: {write_report(run_dir)}")
