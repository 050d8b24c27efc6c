"""Read every file under a household folder by its kind; say per file what was loaded or skipped and why.

Kinds by name and suffix: `.ics` calendars, `.eml`/`.mbox` (and `mbox` files without a suffix) mail,
`todo.*`/`shopping.*` lists (JSON or CSV), and public datasets under a `public/` folder (JSONL, CSV,
Parquet). `household.json` (the members) and the consent registry are read by the data stage itself,
and the top-level `documents/` folder is the retrieval corpus (`hrmtrain retrieval`); anything else is
reported as skipped, never silently ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from hrmtrain.data.sources.lists import list_kind, read_list
from hrmtrain.data.sources.public import read_public
from hrmtrain.data.sources.records import Loaded, Skipped
from hrmtrain.privacy.directory import Directory

OWN_FILES = {"household.json", "consent.sqlite"}
OWN_FOLDERS = {"documents"}  # read by `hrmtrain retrieval` (retrieval/corpus.py)


def file_kind(path: Path, root: Path) -> str | None:
    suffix = path.suffix.lower()
    if "public" in path.relative_to(root).parts[:-1] and suffix in (".jsonl", ".json", ".csv", ".parquet"):
        return "public"
    if suffix == ".ics":
        return "ics"
    if suffix in (".eml", ".mbox") or (suffix == "" and path.name.lower().startswith("mbox")):
        return "mail"
    if suffix in (".json", ".csv") and list_kind(path):
        return "list"
    if suffix == ".txt" and _starts_like_mail(path):
        return "mail"
    return None


_HEADER = re.compile(rb"^(From |[A-Za-z][A-Za-z0-9-]*:)")


def _starts_like_mail(path: Path) -> bool:
    """A text file whose first line is an RFC 5322 header or an mbox 'From ' line (e.g. saved mails)."""
    with open(path, "rb") as f:
        return bool(_HEADER.match(f.readline(1000)))


def read_file(path: Path, root: Path, directory: Directory) -> Loaded:
    kind = file_kind(path, root)
    if kind == "ics":
        from hrmtrain.data.sources.ics import read_ics

        return read_ics(path, directory)
    if kind == "mail":
        from hrmtrain.data.sources.mail import read_mail

        return read_mail(path, directory)
    if kind == "list":
        return read_list(path, directory)
    if kind == "public":
        return read_public(path)
    return Loaded(skipped=[Skipped(str(path), "not a household data file (.ics, .eml, .mbox, todo/shopping "
                                              "lists, public/ datasets)")])


def ingest(root: str | Path, directory: Directory) -> tuple[Loaded, dict[str, str]]:
    """All records under `root`, and per file a one-line outcome ("12 records", "skipped: ...")."""
    root = Path(root)
    total, outcome = Loaded(), {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if path.name in OWN_FILES or rel.parts[0] in OWN_FOLDERS or any(part.startswith(".") for part in rel.parts):
            continue
        loaded = read_file(path, root, directory)
        total.extend(loaded)
        file_skips = [s for s in loaded.skipped if not s.part]
        if file_skips and not loaded.records:
            outcome[str(rel)] = f"skipped: {file_skips[0].reason}"
        else:
            parts = len([s for s in loaded.skipped if s.part])
            outcome[str(rel)] = (f"{len(loaded.records)} records" + (f", {parts} parts skipped" if parts else "")
                                 + (f", {len(loaded.warnings)} warnings" if loaded.warnings else ""))
    return total, outcome
