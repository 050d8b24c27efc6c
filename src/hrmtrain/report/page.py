"""A run's `report.html`: one self-contained page (plots inlined as PNG) made of the sections handed in.

A section is a function of the run folder that returns its HTML, or "" when the run has nothing for it
(a stage that did not run into this folder). Which sections a run report has, in which order, is the
entry's choice (`hrmtrain.run_report.SECTIONS`), so this page knows no stage.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.report.html import PAGE_END, page_head

Section = Callable[[Path], str]


def config_section(run_dir: Path) -> str:
    """The run's resolved config, as written beside it."""
    path = Path(run_dir) / "config.yaml"
    config = path.read_text() if path.is_file() else ""
    return f'<section id="config"><h2>Config</h2><pre>{html.escape(config)}</pre></section>'


def write_page(run_dir: Path, sections: Iterable[Section], title: str | None = None) -> Path:
    """`run_dir/report.html` from `sections` (each called with the run folder), then the config; written
    atomically, so a failing section leaves the previous page whole."""
    run_dir = Path(run_dir)
    parts = [page_head(title or f"hrmtrain report: {run_dir.name}")]
    parts += [s(run_dir) for s in sections]
    parts.append(config_section(run_dir))
    return atomic.write_text(run_dir / "report.html", "\n".join(p for p in parts if p) + "\n" + PAGE_END)


def write_standalone(out: Path, title: str, body: str) -> Path:
    """A page of its own (not a run's report): head, `body`, end."""
    return atomic.write_text(out, f"{page_head(title)}\n{body}\n{PAGE_END}")
