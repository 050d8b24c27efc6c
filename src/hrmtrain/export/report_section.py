"""The export section of the HTML report: each model's repository version, where it is, its parity with
PyTorch (figure and plot against the tolerance), every file's sha256, and what was not built and why."""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain.report.html import png, pyplot


def parity_plot(models: dict[str, dict]) -> str:
    plt = pyplot()
    rows = [(name, row["parity"]) for name, row in models.items() if row.get("parity")]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [n for n, _ in rows]
    ax.bar(names, [max(p["max_abs_diff"], 1e-12) for _, p in rows], color="tab:blue", label="max |onnxruntime - PyTorch|")
    ax.scatter(names, [p["tolerance"] for _, p in rows], color="tab:red", marker="_", s=900, label="tolerance (export.atol*)")
    ax.set_yscale("log")
    ax.set_ylabel("absolute difference")
    ax.set_title("ONNX export parity with PyTorch")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return png(fig)


def _parity_text(p: dict | None) -> str:
    if not p:
        return "-"
    text = f"{p['max_abs_diff']:.2e} (tolerance {p['tolerance']:g}, {p['inputs']} inputs)"
    if p.get("greedy_tokens"):
        text += f"; {p['greedy_tokens']} greedy tokens per prompt {'identical' if p['greedy_identical'] else 'DIFFER'}"
    return text


def export_section(results_path: Path) -> str:
    if not Path(results_path).is_file():
        return ""
    res = json.loads(Path(results_path).read_text())
    models = res["models"]
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{row['version']}</td><td style='text-align:left'>"
        f"{html.escape(row['platform'])}</td><td style='text-align:left'>{html.escape(_parity_text(row.get('parity')))}"
        f"</td><td style='text-align:left'><code>{html.escape(row['path'])}</code></td></tr>"
        for name, row in models.items())
    hashes = "".join(
        f"<tr><th>{html.escape(name)} v{row['version']}</th><td style='text-align:left'>{html.escape(f)}</td>"
        f"<td style='text-align:left'><code>{h}</code></td></tr>"
        for name, row in models.items() for f, h in row["files"].items())
    trt = res.get("tensorrt", {})
    trt_text = (f"TensorRT engines: {', '.join(f'{k} v{v}' for k, v in trt.get('engines', {}).items())} "
                f"({html.escape(str(trt.get('precision')))})") if trt.get("built") else \
        f"TensorRT engines were not built: {html.escape(str(trt.get('why')))}"
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in res.get("skipped", {}).items())
    plot = (f'<img alt="ONNX parity with PyTorch" src="data:image/png;base64,{parity_plot(models)}">'
            if any(r.get("parity") for r in models.values()) else "")
    return f"""<section id="export"><h2>Export</h2>
<p>Model repository <code>{html.escape(res['repository'])}</code> (Triton layout; <code>hrmtrain export list</code>,
<code>verify</code>, <code>promote</code>, <code>rollback</code>). Each ONNX graph was run with onnxruntime on the same
inputs as PyTorch before its version was written.</p>
<table><tr><th>model</th><th>version</th><th>platform</th><th>max |onnxruntime - PyTorch|</th><th>folder</th></tr>{rows}</table>
{plot}
<p>{trt_text}.</p>
{f'<p>Not exported:</p><ul>{skipped}</ul>' if skipped else ''}
<h3>Files (sha256, as in each version's manifest.json)</h3><table>{hashes}</table>
</section>"""


def section(run_dir: Path) -> str:
    """The run report's export section (`hrmtrain export` into this run)."""
    return export_section(Path(run_dir) / "export" / "results.json")
