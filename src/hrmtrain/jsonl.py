"""JSON Lines: reading files as users hand them over (every bad line is a DataError naming the file and the
line), and writing them, whole and atomically or a line at a time to a log."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from hrmtrain import atomic
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


def dumps_lines(rows: Iterable, **json_kw) -> str:
    """`rows` as JSON Lines text: one `json.dumps(row, **json_kw)` per line, each ending in "\\n"."""
    return "".join(json.dumps(row, **json_kw) + "\n" for row in rows)


def write_json_lines(path: str | Path, rows: Iterable, **json_kw) -> Path:
    """Write `rows` to `path` as JSON Lines, atomically (the whole file or the previous one)."""
    return atomic.write_text(path, dumps_lines(rows, **json_kw))


def append_json_line(path: str | Path, row, fsync: bool = False, **json_kw) -> None:
    """Append one row to a JSON Lines log (a line is written whole or, after a crash, cut where the reader
    names it); `fsync` forces it to disk before returning."""
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, **json_kw) + "\n")
        f.flush()
        if fsync:
            os.fsync(f.fileno())
