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
    datasets.disable_progress_bars()
    try:
        table = datasets.load_dataset(builder, data_files=str(path), split="train", keep_in_memory=True)
    except Exception as exc:  # datasets wraps parser errors of every format in its own types
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        out.skipped.append(Skipped(str(path), f"not a readable {builder} dataset ({reason})"))
        return out
    kind = next((k for k, cols in KINDS.items() if all(c in table.column_names for c in cols)), None)
    if kind is None:
        out.skipped.append(Skipped(str(path), f"columns {table.column_names} match no public data kind "
                                              f"(recipes: title+ingredients, fitness: goal, how-to: task)"))
        return out
    for n, row in enumerate(table, start=1):
        fields = {k: row[k] for k in KEEP[kind] if k in row and row[k] is not None}
        out.records.append(Record(kind, PUBLIC, str(path), f"row {n}", fields, []))
    return out
