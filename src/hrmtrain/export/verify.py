"""`hrmtrain export verify`: is the repository what the export wrote?

Four layers: the audit log itself (its chain, and its key where one is set); each version's files
against the sha256 in its manifest (a changed, removed or added file); each served version's config
against its graph and against the config the export wrote (platform, parameters, batching); and each
version folder as a whole (manifest included) against the hash an `export` entry of the log recorded for
that model and version. Versions are matched by model name, version number and hash, not by path, so a
copied or moved repository verifies against the same log, and a version no export recorded (added or
rewritten by hand, even with a manifest made to fit) is a problem.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from hrmtrain.export.repository import Repository, versions
from hrmtrain.lineage import AuditLog, LineageError, content_hash


def recorded_hashes(log: AuditLog) -> dict[tuple[str, int], set[str]]:
    """(model, version) -> every content hash an export entry recorded for it (several repositories may
    share one log)."""
    out: dict[tuple[str, int], set[str]] = defaultdict(set)
    for entry in log.entries():
        if entry.get("stage") == "export":
            for art in entry.get("outputs", []):
                path = Path(art["path"])
                if path.name.isdigit():
                    out[(path.parent.name, int(path.name))].add(art["sha256"])
    return out


def verify_repository(repo: Repository, log_dir: str | Path | None) -> tuple[list[str], int]:
    """(problems, versions checked). Without a usable audit log every version is a problem: nothing then
    says that the export wrote it."""
    problems = list(repo.verify())
    log = AuditLog(log_dir) if log_dir else None
    recorded: dict[tuple[str, int], set[str]] | None = None
    if log is None or not log.path.is_file():
        problems.append(f"{log.path if log else '--log'}: no audit log: no version can be traced to the export "
                        "that wrote it (name the log the export used with --log)")
    else:
        chain = log.verify()
        problems += [f"{log.path}: {p}" for p in chain]
        if not chain:
            try:
                recorded = recorded_hashes(log)
            except (LineageError, KeyError, TypeError, ValueError) as exc:
                problems.append(f"{log.path}: export entries cannot be read ({exc})")
    checked = 0
    for model in repo.models():
        for v in versions(repo.root / model):
            checked += 1
            if recorded is None:
                continue
            folder = repo.root / model / str(v)
            want = recorded.get((model, v), set())
            if not want:
                problems.append(f"{folder}: no export in {log.path} recorded {model} version {v}: it was added or "
                                "rewritten outside `hrmtrain export`")
            elif content_hash(folder) not in want:
                problems.append(f"{folder}: differs from what the export recorded in the audit log "
                                f"(sha256 {', '.join(sorted(h[:12] for h in want))}); a file or the manifest was "
                                "changed after the export")
    return problems, checked
