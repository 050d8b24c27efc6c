"""To-do and shopping lists, as JSON (a list of objects) or CSV (a header row).

Lists are shared household records: a row concerns every member, so it is used only with every
member's consent for its category (the procedure's "both users" rule), whoever added it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from hrmtrain.data.sources.records import Loaded, Record, Skipped

from hrmtrain.privacy.directory import Directory

COLUMNS = {"todo": ("title",), "shopping": ("item",)}
OPTIONAL = {"todo": ("due", "assignee"), "shopping": ("quantity",)}


def list_kind(path: Path) -> str | None:
    name = path.stem.lower()
    if "todo" in name or "to-do" in name or "tasks" in name:
        return "todo"
    if "shopping" in name or "groceries" in name:
        return "shopping"
    return None


def _rows(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
            data = next(iter(data.values()))  # {"items": [...]}
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError("expected a list of objects")
        return data
    return list(csv.DictReader(io.StringIO(text)))


def read_list(path: Path, directory: Directory) -> Loaded:
    kind = list_kind(path)
    out = Loaded()
    if kind is None:
        out.skipped.append(Skipped(str(path), "not a to-do or shopping list (name it todo.* or shopping.*)"))
        return out
    try:
        rows = _rows(path)
    except UnicodeDecodeError as exc:
        out.skipped.append(Skipped(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return out
    except (json.JSONDecodeError, ValueError, csv.Error) as exc:
        out.skipped.append(Skipped(str(path), f"not a readable {path.suffix.lstrip('.').upper()} list ({exc})"))
        return out
    if not rows:
        out.skipped.append(Skipped(str(path), "the list is empty"))
        return out
    missing = [c for c in COLUMNS[kind] if c not in rows[0]]
    if missing:
        out.skipped.append(Skipped(str(path), f"missing column {', '.join(repr(c) for c in missing)} "
                                              f"(a {kind} list needs {', '.join(COLUMNS[kind])}; "
                                              f"found {', '.join(map(repr, rows[0])) or 'none'})"))
        return out
    for n, row in enumerate(rows, start=1):
        main = str(row.get(COLUMNS[kind][0]) or "").strip()
        if not main:
            out.warnings.append(Skipped(str(path), f"empty {COLUMNS[kind][0]}", f"row {n}"))
            continue
        fields = {COLUMNS[kind][0]: main}
        if kind == "todo":
            due = str(row.get("due") or "").strip()
            if due:
                try:
                    fields["due"] = date.fromisoformat(due).isoformat()
                except ValueError:
                    out.warnings.append(Skipped(str(path), f"due {due!r} is not an ISO date; dropped", f"row {n}"))
            assignee = directory.by_name(str(row.get("assignee") or ""))
            if assignee:
                fields["assignee"] = assignee
        else:
            try:
                fields["quantity"] = max(1, int(row.get("quantity") or 1))
            except (TypeError, ValueError):
                out.warnings.append(Skipped(str(path), f"quantity {row.get('quantity')!r} is not a number; using 1",
                                            f"row {n}"))
                fields["quantity"] = 1
        out.records.append(Record(kind, kind, str(path), f"row {n}", fields, directory.names))
    return out
