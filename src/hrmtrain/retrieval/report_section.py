"""The retrieval section of the HTML report: held-out metrics per system (table and bar plot), whether
the reranker helps, the corpus's files, the judge's agreement, and where the time went."""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain.report.html import pct, png, pyplot
from hrmtrain.report.page import write_standalone as write_page

METRICS = (("mrr@10", "MRR@10"), ("recall@5", "Recall@5"), ("recall@10", "Recall@10"), ("ndcg@10", "nDCG@10"))


def metrics_plot(systems: dict[str, dict]) -> str:
    import numpy as np

    plt = pyplot()

    names = list(systems)
    x = np.arange(len(METRICS))
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, name in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, [systems[name][k] for k, _ in METRICS], width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels([label for _, label in METRICS])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("held-out queries")
    ax.set_title("Retrieval before and after adaptation")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="lower left")
    return png(fig)


def retrieval_section(results_path: Path) -> str:
    if not Path(results_path).is_file():
        return ""
    res = json.loads(Path(results_path).read_text())
    systems = res["systems"]
    head = "".join(f"<th>{label}</th>" for _, label in METRICS)
    rows = "".join(f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{m[k]:.3f}</td>" for k, _ in METRICS) + "</tr>"
                   for name, m in systems.items())
    q, c = res["queries"], res["corpus"]
    files = "".join(f"<tr><th>{html.escape(f)}</th><td style='text-align:left'>{html.escape(o)}</td></tr>"
                    for f, o in c["files"].items())
    judge = res.get("judge")
    judge_html = "<p>No judge configured (retrieval.judge.endpoint.base_url).</p>" if not judge else (
        f"<p>Judge: {judge['pairs']} (query, chunk) grades; agreement with the gold labels "
        f"{pct(judge['agreement_with_gold'])}; prefers the gold chunk in both orders "
        f"{pct(judge['pairwise_agreement_with_gold'])}; answer flipped with the order "
        f"{pct(judge['position_ties'])}" + (f"; stopped: {html.escape(judge['error'])}" if judge["error"] else "")
        + ".</p>")
    timings = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.1f}</td></tr>" for k, v in res["timings_s"].items())
    return f"""<section id="retrieval"><h2>Retrieval adaptation</h2>
<p>{q['heldout']} held-out household questions about {q['heldout_documents']} documents no training query
came from; {q['train']} training queries ({html.escape(', '.join(f'{n} {s}' for s, n in q['train_by_source'].items()))})
from {q['train_documents']} documents; {c['chunks']} chunks in the searched corpus.</p>
<table><tr><th>system</th>{head}</tr>{rows}</table>
<p><b>MRR@10 gain of the adapted embedder over off-the-shelf: {res['mrr@10_gain']:+.3f}.</b>
{html.escape(res['reranker']['why'][:1].upper() + res['reranker']['why'][1:])}.</p>
<img alt="retrieval metrics per system" src="data:image/png;base64,{metrics_plot(systems)}">
{judge_html}
<h3>Documents</h3><table>{files}</table>
<h3>Time (s)</h3><table>{timings}</table>
</section>"""


def write_standalone(out: Path) -> Path:
    """`hrmtrain retrieval` on its own: a report page with just this section, beside the results."""
    return write_page(Path(out) / "report.html", f"hrmtrain retrieval: {Path(out).parent.name}",
                      retrieval_section(Path(out) / "results.json"))


def section(run_dir: Path) -> str:
    """The run report's retrieval section (when the pipeline adapted retrieval into this run)."""
    return retrieval_section(Path(run_dir) / "retrieval" / "results.json")
