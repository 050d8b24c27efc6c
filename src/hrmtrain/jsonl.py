"""JSON Lines files as users hand them over: every bad line is a DataError naming the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

from hrmtrain.errors import DataError


def read_json_lines(path: str | Path) -> list[tuple[int, object]]:
    """(line number, value) for each non-blank line. Lines end at "\n" only (JSON strings may hold U+2028,
    U+0085 and other characters str.splitlines() would split at); each line is decoded on its own, so a bad
    byte is named by its line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(path, "a folder, not a JSON Lines file") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from None
    rows = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise DataError(path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", n) from None
        if n == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", n) from None
    return rows
