"""The data section of the run report: counts per task type and split, and exclusions by reason, from the
manifest of the splits the run trained on (its summary names their folder)."""

from __future__ import annotations

import html
import json
from pathlib import Path


def data_section(data_path: str | None) -> str:
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


def section(run_dir: Path) -> str:
    path = Path(run_dir) / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    return data_section(summary.get("data", {}).get("path"))
