"""The report's BFCL section: accuracy per category by BFCL's own checker, trained against its untrained
base, the change (what fine-tuning on household data cost or gained in general tool calling), and a plot."""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain.report.html import finish_axes, img, png, pyplot


def bfcl_plot(results: dict) -> str | None:
    models = results.get("models", {})
    categories = list(results.get("ids", {}))
    if not models or not categories:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(models)
    for k, (name, m) in enumerate(models.items()):
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(categories))]
        rates = [m["per_category"][c]["accuracy"] for c in categories]
        lo = [max(0.0, r - m["per_category"][c]["ci95"][0]) for r, c in zip(rates, categories)]
        hi = [max(0.0, m["per_category"][c]["ci95"][1] - r) for r, c in zip(rates, categories)]
        ax.bar(xs, rates, width, yerr=[lo, hi], capsize=2, label=name)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories, rotation=20, ha="right")
    ax.set_ylabel("BFCL accuracy")
    ax.set_ylim(0, 1.02)
    finish_axes(ax, "BFCL accuracy per category (95% intervals)")
    return png(fig)


def _cell(r: dict) -> str:
    return f"{r['correct']}/{r['total']} ({r['accuracy']:.0%})"


def bfcl_section(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        return ""
    results = json.loads(path.read_text())
    models = results.get("models", {})
    if not models:
        return ""
    change = results.get("change")
    head = "".join(f"<th>{html.escape(n)}</th>" for n in models) + ("<th>change</th><th>gained / lost</th>"
                                                                  if change else "")
    rows = ""
    for c in results["ids"]:
        rows += f"<tr><th>{html.escape(c)}</th>" + "".join(f"<td>{_cell(m['per_category'][c])}</td>"
                                                           for m in models.values())
        if change:
            rows += f"<td>{change[c]['delta']:+.0%}</td><td>{change[c]['gained']} / {change[c]['lost']}</td>"
        rows += "</tr>"
    rows += "<tr><th>mean over categories</th>" + "".join(f"<td>{m['mean_accuracy']:.1%}</td>" for m in models.values())
    if change:
        rows += f"<td>{change['mean']['delta']:+.1%}</td><td></td>"
    rows += "</tr>"
    plot = bfcl_plot(results)
    verdict = ""
    if change:
        drops = [c for c in results["ids"] if change[c]["delta"] <= -0.2]
        verdict = ("<p>Categories that dropped by 20 points or more: " + html.escape(", ".join(drops))
                   + ". A large drop is forgetting: mix general tool-calling data into SFT (data.mix).</p>"
                   if drops else "<p>No category dropped by 20 points or more.</p>")
    return f"""<section id="bfcl"><h2>BFCL (general tool calling, by BFCL's own checker)</h2>
<p>bfcl-eval {html.escape(str(results.get('bfcl_eval')))}, handler {html.escape(str(results.get('handler')))},
{html.escape(str(results.get('subset')))} subset of {results.get('entries')} entries, served by
{html.escape(str(results.get('server', {}).get('command')))}. "gained / lost": entries only the trained model /
only the base got right.</p>
<table><tr><th>category</th>{head}</tr>{rows}</table>
{verdict}
{img("BFCL accuracy per category", plot) if plot else ""}
</section>"""


def section(run_dir: Path) -> str:
    return bfcl_section(Path(run_dir) / "eval" / "bfcl.json")
