"""The parts every report page is made of: its head, tables, inlined PNG figures and number formats."""

from __future__ import annotations

import base64
import html
import io


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


PAGE_END = "</body></html>\n"


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> str:
    """The figure as base64 PNG for an <img> tag; the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def img(alt: str, data: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def finish_axes(ax, title: str) -> None:
    """Title, light grid, legend: how every plot of the report ends."""
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()


def pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def fmt(value):
    """A float to 4 decimals; anything else as it is."""
    return f"{value:.4f}" if isinstance(value, float) else value


def table(pairs) -> str:
    """A two-column table of (label, value) rows."""
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"
