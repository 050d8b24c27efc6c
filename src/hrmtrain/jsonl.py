"""JSON Lines files as users hand them over: every bad line is a DataError naming the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

from hrmtrain.errors import DataError


def read_json_lines(path: str | Path) -> list[tuple[int, object]]:
    """(line number, value) for each non-blank line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", n) from None
    return rows
