"""`hrmtrain data ingest DIR --out OUT`: read any folder of household files, say per file what was loaded
or skipped and why, and write the records that consent allows, redacted.

The same gate as the data stage: each sensitive record is decided against one consent snapshot, taken
first (DIR/consent.sqlite, or --consent-db); without a registry no sensitive record is written, only
counted. OUT is never a folder of someone else's files: it must be new, empty, or an earlier ingest's
output (its report.json says so), and it may not overlap DIR. Records and report appear together with
their audit-log entry (`--log`), or not at all.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.errors import DataError, HrmError
from hrmtrain.jsonl import write_json_lines

REPORT_KIND = "hrmtrain data ingest"


def check_out_folder(out: Path, root: Path) -> None:
    """Refuse an OUT that overlaps DIR, or that holds files an ingest did not write."""
    o, r = out.resolve(), root.resolve()
    if o == r or o.is_relative_to(r) or r.is_relative_to(o):
        raise HrmError(f"{out}: --out overlaps the folder being read ({root}); choose a folder outside it")
    if o.exists() and not o.is_dir():
        raise HrmError(f"{out}: --out is a file, not a folder")
    if o.is_dir() and any(o.iterdir()):
        report = o / "report.json"
        try:
            ours = json.loads(report.read_text(encoding="utf-8")).get("kind") == REPORT_KIND
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise HrmError(f"{out}: --out already holds files that `hrmtrain data ingest` did not write; "
                           "refusing to replace them (choose a new or empty folder)")


def ingest_main(root: Path, out: Path, household: Path | None, consent_db: Path | None, log_dir: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from hrmtrain.data.build import excluded_table, redact_records
    from hrmtrain.privacy.consent import ConsentRegistry, decide
    from hrmtrain.data.sources.ingest import ingest
    from hrmtrain.privacy.directory import Directory
    from hrmtrain.lineage import AuditLog

    if not root.is_dir():
        raise DataError(root, "no such folder")
    check_out_folder(out, root)
    atomic.ensure_writable(out.parent, "folder of --out")
    log = AuditLog(log_dir)
    log.check()
    explicit, household = household is not None, household or root / "household.json"
    directory = Directory.load(household) if explicit or household.is_file() else Directory([], "UTC", "")
    consent_db = consent_db or root / "consent.sqlite"
    registry = ConsentRegistry(consent_db) if consent_db.is_file() else None
    snapshot = registry.snapshot() if registry else None

    loaded, files = ingest(root, directory)
    allowed, excluded = [], Counter()
    for rec in loaded.records:
        if not rec.sensitive:
            allowed.append(rec)
        elif snapshot is None:
            excluded["sensitive, and no consent registry to allow it"] += 1
        else:
            decision = decide(snapshot, rec.members, rec.category, True, rec.possible)
            if decision.allowed:
                allowed.append(rec)
            else:
                excluded[decision.reason] += 1
    records = redact_records(allowed, directory)
    members = sorted(set().union(*(r.concerned for r in allowed)))

    def record(final: Path) -> None:
        log.append("ingest", inputs=[root / f for f in files], outputs=[final], consent=snapshot, members=members,
                   excluded=dict(sorted(excluded.items())), details={"files": files})

    with atomic.staged_dir(out, replace=True, commit=record) as tmp:
        write_json_lines(tmp / "records.jsonl", (r.to_dict() for r in records), ensure_ascii=False, default=str)
        atomic.write_json(tmp / "report.json", {
            "kind": REPORT_KIND, "files": files, "skipped": [str(s) for s in loaded.skipped],
            "warnings": [str(w) for w in loaded.warnings], "excluded": dict(sorted(excluded.items())),
            "consent_registry": str(consent_db.resolve()) if registry else None})

    table = Table(title=f"hrmtrain data ingest {root}")
    table.add_column("file")
    table.add_column("outcome")
    for name, outcome in files.items():
        table.add_row(name, outcome, style="yellow" if outcome.startswith("skipped") else None)
    Console().print(table)
    if excluded:
        Console().print(excluded_table(dict(sorted(excluded.items())), "records excluded by consent (not written)"))
    if registry is None:
        print(f"no consent registry ({consent_db}; set --consent-db): only public records written")
    print(f"{len(records)} records from {sum(1 for o in files.values() if not o.startswith('skipped'))} of "
          f"{len(files)} files -> {out}/records.jsonl (redacted), {out}/report.json; "
          f"{sum(excluded.values())} excluded by consent")
    return 0
