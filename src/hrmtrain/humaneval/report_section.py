"""The human-evaluation section of the HTML report: mean helpfulness per system and task type with
bootstrap intervals (table and plot), safety pass rates, Krippendorff's alpha on the overlap set, gold
accuracy per rater and the A/B win rate. Written into a run's report when `runs/<name>/humaneval/
summary.json` exists (`hrmtrain humaneval report --run runs/<name>`), or as a page of its own."""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain.report.html import png, pyplot
from hrmtrain.report.page import write_standalone as write_page

SUMMARY = "summary.json"  # runs/<name>/humaneval/summary.json


def _cell(m: dict | None) -> str:
    if not m or m.get("mean") is None:
        return "-"
    if m.get("lo") is None:
        return f"{m['mean']:.2f} <small>(n={m['n']})</small>"
    return f"{m['mean']:.2f} <small>[{m['lo']:.2f}, {m['hi']:.2f}], n={m['n']}</small>"


def helpfulness_plot(helpfulness: dict) -> str:
    import numpy as np

    plt = pyplot()
    systems = list(helpfulness)
    types = sorted({t for s in helpfulness.values() for t in s if t != "all"}) + ["all"]
    x = np.arange(len(types))
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(types) + 2), 3.8))
    for k, system in enumerate(systems):
        rows = [helpfulness[system].get(t, {}) for t in types]
        means = [r.get("mean") or 0 for r in rows]
        err = [[(r["mean"] - r["lo"]) if r.get("lo") is not None else 0 for r in rows],
               [(r["hi"] - r["mean"]) if r.get("hi") is not None else 0 for r in rows]]
        ax.bar(x + (k - (len(systems) - 1) / 2) * width, means, width, yerr=err, capsize=3, label=system)
    ax.set_xticks(x)
    ax.set_xticklabels(types, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 5.3)
    ax.set_ylabel("helpfulness (1-5)")
    ax.set_title("Human ratings: mean helpfulness, 95% bootstrap interval")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return png(fig)


def humaneval_section(summary: dict) -> str:
    systems = list(summary["helpfulness"])
    types = sorted({t for s in summary["helpfulness"].values() for t in s if t != "all"}) + ["all"]
    head = "".join(f"<th>{html.escape(s)}</th>" for s in systems)
    rows = "".join(f"<tr><th>{html.escape(t)}</th>" + "".join(f"<td>{_cell(summary['helpfulness'][s].get(t))}</td>"
                                                              for s in systems) + "</tr>" for t in types)
    rows += "<tr><th>safety pass rate</th>" + "".join(f"<td>{_cell(summary['safety'].get(s))}</td>" for s in systems) + "</tr>"
    a = summary["alpha"]

    def alpha(v):
        return "undefined (too few shared ratings, or no variation)" if v is None else f"{v:.3f}"

    gold = "".join(f"<tr><th>{html.escape(r)}</th><td>{g['correct']}/{g['rated']}</td><td>{g['accuracy']:.0%}</td></tr>"
                   for r, g in summary["gold_accuracy"].items())
    ab = summary.get("ab")
    ab_html = ""
    if ab and ab["tasks"]:
        ab_html = (f"<p><b>A/B:</b> {html.escape(ab['a'])} wins {ab['wins'][ab['a']]}, {html.escape(ab['b'])} wins "
                   f"{ab['wins'][ab['b']]}, ties {ab['wins']['ties']} of {ab['tasks']} tasks; "
                   f"{html.escape(ab['a'])} win rate {ab['a_win_rate']:.0%} (ties count half).</p>")
    return f"""<section id="humaneval"><h2>Human evaluation</h2>
<p>{len(summary['raters'])} raters ({html.escape(', '.join(summary['raters']))}), {summary['ratings']} ratings of
{summary['items']} items. Krippendorff's alpha on {a['overlap_items']} overlap items: helpfulness (ordinal)
<b>{alpha(a['helpfulness_ordinal'])}</b>, safety adherence (nominal) <b>{alpha(a['safety_nominal'])}</b>.</p>
<table><tr><th>helpfulness 1-5 (mean [95% interval])</th>{head}</tr>{rows}</table>
<img style="max-width:100%" alt="human helpfulness ratings" src="data:image/png;base64,{helpfulness_plot(summary['helpfulness'])}">
{ab_html}
<h3>Gold items per rater (rated inside the known range)</h3><table>{gold or '<tr><td>none rated</td></tr>'}</table>
</section>"""


def section(run_dir: Path) -> str:
    path = Path(run_dir) / "humaneval" / SUMMARY
    return humaneval_section(json.loads(path.read_text())) if path.is_file() else ""


def write_standalone(summary: dict, out: Path, title: str) -> Path:
    return write_page(out, title, humaneval_section(summary))
