"""Public cooking, fitness and how-to datasets (local JSONL, CSV or Parquet, read with `datasets`).

Public data concerns no household member and needs no consent. What a file holds is told by its
columns: recipes have `title` and `ingredients`, fitness items `goal`, how-to items `task`.
"""

from __future__ import annotations

from pathlib import Path

from hrmtrain.data.sources.records import PUBLIC, Loaded, Record, Skipped

BUILDERS = {"csv": "csv", ".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
KINDS = {"recipe": ("title", "ingredients"), "fitness": ("goal",), "howto": ("task",)}
KEEP = {"recipe": ("title", "minutes", "ingredients", "tags"), "fitness": ("goal", "activity", "days_per_week"),
        "howto": ("task", "minutes")}


def read_public(path: Path) -> Loaded:
    import datasets

    out = Loaded()
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        out.skipped.append(Skipped(str(path), f"unsupported public data format {path.suffix!r}"))
        return out
    if path.stat().st_size == 0:
        out.skipped.append(Skipped(str(path), "empty file"))
        return out
    if path.suffix.lower() == ".jsonl":  # read here, so that a bad line is named with its number and problem
        from hrmtrain.errors import DataError
        from hrmtrain.jsonl import read_json_lines

        try:
            table = [row for _, row in read_json_lines(path)]
        except DataError as exc:
            out.skipped.append(Skipped(str(path), f"line {exc.row}: {exc.problem}" if exc.row else exc.problem))
            return out
        bad = next((n for n, row in enumerate(table, start=1) if not isinstance(row, dict)), None)
        if bad is not None:
            out.skipped.append(Skipped(str(path), f"line {bad}: not a JSON object (one object per line expected)"))
            return out
        columns = sorted({k for row in table for k in row})
    else:
        datasets.disable_progress_bars()
        try:
            table = datasets.load_dataset(builder, data_files=str(path), split="train", keep_in_memory=True)
        except Exception as exc:  # datasets wraps parser errors of every format in its own types
            cause = exc.__cause__ or exc.__context__ or exc
            reason = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else type(cause).__name__
            out.skipped.append(Skipped(str(path), f"not a readable {builder} dataset ({reason})"))
            return out
        columns = table.column_names
    kind = next((k for k, cols in KINDS.items() if all(c in columns for c in cols)), None)
    if kind is None:
        out.skipped.append(Skipped(str(path), f"columns {columns} match no public data kind "
                                              f"(recipes: title+ingredients, fitness: goal, how-to: task)"))
        return out
    for n, row in enumerate(table, start=1):
        fields = {k: row[k] for k in KEEP[kind] if k in row and row[k] is not None}
        out.records.append(Record(kind, PUBLIC, str(path), f"row {n}", fields, []))
    return out
