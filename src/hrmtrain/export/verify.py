"""`hrmtrain export verify`: is the repository what the export wrote?

Three layers: each version's files against the sha256 in its manifest (a changed, removed or added
file); each served version's graph against its `config.pbtxt`; and each version folder as a whole
(manifest included) against the hash the audit log's `export` entry recorded, which catches an edited
manifest whose hashes were made to fit the edited files.
"""

from __future__ import annotations

from pathlib import Path

from hrmtrain.export.repository import Repository, versions
from hrmtrain.lineage import AuditLog, content_hash


def recorded_hashes(log_dir: str | Path) -> dict[str, str]:
    """Version folder path -> the content hash its export entry recorded (latest entry wins)."""
    log = AuditLog(log_dir)
    if not log.path.is_file():
        return {}
    out = {}
    for entry in log.entries():
        if entry["stage"] == "export":
            for art in entry["outputs"]:
                out[art["path"]] = art["sha256"]
    return out


def verify_repository(repo: Repository, log_dir: str | Path | None) -> tuple[list[str], int, list[Path]]:
    """(problems, versions checked, version folders no export in the log recorded: written with another
    log, or the repository moved since)."""
    problems = list(repo.verify())
    recorded = recorded_hashes(log_dir) if log_dir else {}
    checked, unrecorded = 0, []
    for model in repo.models():
        for v in versions(repo.root / model):
            checked += 1
            folder = (repo.root / model / str(v)).resolve()
            want = recorded.get(str(folder))
            if want is None:
                unrecorded.append(folder)
            elif content_hash(folder) != want:
                problems.append(f"{folder}: differs from what the export recorded in the audit log "
                                f"(sha256 {want[:12]}); a file or the manifest was changed after the export")
    return problems, checked, unrecorded
