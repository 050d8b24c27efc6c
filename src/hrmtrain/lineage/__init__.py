"""The audit log of dataset lineage: content hashes, a hash chain, and OpenLineage run events.

Every stage appends one entry: what it read and wrote (paths with content hashes), its config, the
package version, the consent snapshot it ran under, the household members whose data went in, and
the records it excluded, counted by reason. Each entry carries the hash of the one before it and
its own hash over its canonical JSON, so editing any byte of an entry, or deleting one, breaks the
chain at a place `verify` names. `audit.head.json` records the last entry, so removing entries from
the end is caught too. Each stage run also emits OpenLineage START and COMPLETE or FAIL run events
(lineage/openlineage.py: file transport, `openlineage.jsonl` beside the log) for the lineage tools a
team already runs; an entry carries its stage run's id.

The log itself is JSON lines: easy to read, grep and ship. An append takes an exclusive lock, so
several processes (torchrun ranks, parallel stages) never interleave entries.

What the chain proves: unkeyed, only that the log is self-consistent (an accidental edit, a cut, a
deleted entry or head). Anyone who can write the folder can rewrite an entry and recompute every hash
after it and the head. With a key (`HRMTRAIN_AUDIT_KEY`, or `HRMTRAIN_AUDIT_KEY_FILE` naming a file kept
outside the log folder) every entry and the head also carry an HMAC-SHA256 of their hash, and
`verify` demands one on every entry: a rewrite then needs the key, not just write access.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from hrmtrain import __version__, atomic
from hrmtrain.errors import HrmError
from hrmtrain.jsonl import append_json_line
from hrmtrain.lineage import openlineage

GENESIS = "0" * 64
KEY_ENV = "HRMTRAIN_AUDIT_KEY"
KEY_FILE_ENV = "HRMTRAIN_AUDIT_KEY_FILE"
LOG_NAME = "audit.jsonl"
HEAD_NAME = "audit.head.json"


class LineageError(HrmError):
    """The audit log cannot be read or does not verify; the message names the file and entry."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's files (relative paths and contents; hidden entries skipped)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        raise LineageError(f"{path}: no such file or folder to hash")
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        h.update(f"{rel.as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()


def artifact(path: str | os.PathLike) -> dict:
    path = Path(path).resolve()
    return {"path": str(path), "sha256": content_hash(path), "kind": "dir" if path.is_dir() else "file"}


def audit_key(log_root: Path | None = None) -> tuple[bytes | None, str]:
    """(key, where it came from) from the environment; (None, "") when no key is configured. A key file
    inside the log folder is refused: whoever can rewrite the log could read it there."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode("utf-8"), f"${KEY_ENV}"
    name = os.environ.get(KEY_FILE_ENV)
    if not name:
        return None, ""
    path = Path(name).expanduser().resolve()
    if log_root is not None and path.is_relative_to(Path(log_root).resolve()):
        raise LineageError(f"{path}: the audit key file lies inside the log folder {log_root}; keep it elsewhere")
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise LineageError(f"{path} (${KEY_FILE_ENV}): cannot read the audit key ({exc.strerror})") from None
    if not key:
        raise LineageError(f"{path} (${KEY_FILE_ENV}): the audit key file is empty")
    return key, str(path)


def mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One place where the log fails verification."""

    line: int  # 1-based line of the log
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry {self.seq} (line {self.line})" if self.seq is not None else f"line {self.line}"
        return f"{where}: {self.message}"


class AuditLog:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.path = self.root / LOG_NAME
        self.head_path = self.root / HEAD_NAME
        self.key, self.key_source = audit_key(self.root)

    # -- reading -------------------------------------------------------------------------------------
    def _lines(self) -> list[str]:
        if not self.path.is_file():
            return []
        text = self.path.read_text(encoding="utf-8", errors="replace")
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")

    def entries(self) -> list[dict]:
        """Every entry, parsed; a line that is not JSON is an error naming the log and line."""
        out = []
        for n, line in enumerate(self._lines(), start=1):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise LineageError(f"{self.path}, line {n}: not a valid entry ({exc.msg}); "
                                   "run `hrmtrain lineage verify`") from None
        return out

    def _head(self) -> tuple[dict | None, str]:
        """(head, problem): the head as {seq, hash[, mac]}, or None and why it cannot be used."""
        if not self.head_path.is_file():
            return None, "missing"
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"unreadable ({exc})"
        if not (isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str)):
            return None, "not a head record ({seq, hash})"
        return head, ""

    def check(self) -> None:
        """Raise LineageError naming the first problem if the log does not verify (before a stage does
        any work, and before answering a question from the log)."""
        problems = self.verify()
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LineageError(f"{self.path}: the audit log does not verify: {problems[0]}{more}; "
                               "see `hrmtrain lineage verify`")

    def verify(self) -> list[Problem]:
        """Every break in the chain, in log order; an empty list means the log is intact."""
        problems: list[Problem] = []
        prev, expected_seq, last_seq = GENESIS, 1, 0
        lines = self._lines()
        for n, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                seq = entry.get("seq") if isinstance(entry, dict) else None
            except json.JSONDecodeError as exc:
                problems.append(Problem(n, None, f"not valid JSON ({exc.msg}): the entry was edited or cut"))
                prev, expected_seq = None, expected_seq + 1
                continue
            if not isinstance(entry, dict) or not isinstance(seq, int):
                problems.append(Problem(n, None, "not an audit entry (no seq)"))
                prev, expected_seq = None, expected_seq + 1
                continue
            if seq != expected_seq:
                problems.append(Problem(n, seq, f"expected entry {expected_seq} here: "
                                                f"{'entries were deleted' if seq > expected_seq else 'entries repeat'}"))
            if prev is not None and entry.get("prev") != prev:
                problems.append(Problem(n, seq, "its 'prev' does not match the hash of the entry before it "
                                                "(that entry was edited or deleted)"))
            actual = entry_hash(entry)
            if entry.get("hash") != actual:
                problems.append(Problem(n, seq, f"content does not match its hash: entry {seq} "
                                                f"({entry.get('stage', '?')}, {entry.get('time', '?')}) was edited"))
            elif self.key is not None and not hmac.compare_digest(str(entry.get("mac", "")), mac(self.key, actual)):
                problems.append(Problem(n, seq, ("no HMAC: written without the audit key" if "mac" not in entry else
                                                 "its HMAC does not match: rewritten by someone without the audit key")))
            prev, expected_seq, last_seq = entry.get("hash"), seq + 1, seq
        problems += self._head_problems(lines, last_seq, prev)
        return problems

    def _head_problems(self, lines: list[str], last_seq: int, last_hash: str | None) -> list[Problem]:
        head, why = self._head()
        at = len(lines) + 1
        if head is None:
            if not lines and why == "missing":
                return []  # an empty log: nothing appended yet
            return [Problem(at, None, f"the head ({self.head_path.name}) is {why}: whether entries were "
                                      "removed from the end cannot be checked")]
        if self.key is not None and not hmac.compare_digest(str(head.get("mac", "")),
                                                            mac(self.key, f"{head['seq']}:{head['hash']}")):
            return [Problem(at, None, f"the head ({self.head_path.name}) has no valid HMAC: rewritten without "
                                      "the audit key")]
        if head["seq"] > last_seq:
            return [Problem(at, None, f"the head ({self.head_path.name}) records {head['seq']} entries but the "
                                      f"log ends at entry {last_seq}: entries were removed from the end")]
        if head["seq"] == last_seq and lines and head["hash"] != last_hash:
            return [Problem(len(lines), last_seq, f"the head ({self.head_path.name}) records another hash for "
                                                  "the last entry")]
        return []

    # -- writing -------------------------------------------------------------------------------------
    def append(self, stage: str, *, inputs: Iterable = (), outputs: Iterable = (), config: dict | None = None,
               consent: dict | None = None, members: Iterable[str] = (), excluded: dict | None = None,
               details: dict | None = None) -> dict:
        """Append one entry (inputs/outputs: paths, hashed now, or ready `artifact()` dicts)."""
        with atomic.locked(self.root / ".audit.lock"):
            self._drop_torn_tail()
            problems = self.verify()
            if problems:
                raise LineageError(f"{self.path}: refusing to append to a log that does not verify: {problems[0]}")
            entries = self.entries()
            last = entries[-1] if entries else None
            stage_run = openlineage.current()
            entry = {
                "seq": (last["seq"] + 1) if last else 1,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "stage": stage,
                # the OpenLineage run this entry belongs to: the stage run's when one writes to this folder
                "run_id": stage_run.run_id if stage_run and stage_run.lineage_dir.resolve() == self.root.resolve()
                else str(uuid.uuid4()),
                "hrmtrain_version": __version__,
                "inputs": [a if isinstance(a, dict) else artifact(a) for a in inputs],
                "outputs": [a if isinstance(a, dict) else artifact(a) for a in outputs],
                "config": config or {},
                "consent": consent,
                "members": sorted(set(members)),
                "excluded": excluded or {},
                "details": details or {},
                "prev": last["hash"] if last else GENESIS,
            }
            entry["hash"] = entry_hash(entry)
            head = {"seq": entry["seq"], "hash": entry["hash"]}
            if self.key is not None:
                entry["mac"] = mac(self.key, entry["hash"])
                head["mac"] = mac(self.key, f"{entry['seq']}:{entry['hash']}")
            append_json_line(self.path, entry, fsync=True, sort_keys=True, ensure_ascii=False, default=str)
            atomic.write_json(self.head_path, head)
        if not openlineage.record(self.root, entry):
            openlineage.complete_alone(self.root, entry)
        return entry

    def _drop_torn_tail(self) -> None:
        """A crash mid-append can leave a last line without its newline, never committed to the head:
        cut it so the log stays a valid chain. A complete line is never cut."""
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            head = self._head()[0] or {"seq": 0}
            complete = data[: data.rfind(b"\n") + 1]
            if complete.count(b"\n") == head.get("seq", 0):
                with open(self.path, "r+b") as f:
                    f.truncate(len(complete))

    # -- questions -----------------------------------------------------------------------------------
    def producer_of(self, sha256: str, entries: list[dict] | None = None, before: int | None = None) -> dict | None:
        """The latest entry (before seq `before`) that wrote an artifact with this content hash."""
        for entry in reversed(entries if entries is not None else self.entries()):
            if before is not None and entry["seq"] >= before:
                continue
            if any(a["sha256"] == sha256 for a in entry["outputs"]):
                return entry
        return None

    def trace(self, path: str | os.PathLike) -> dict:
        """The ancestry of an artifact: {artifact, entry, parents: [trace of each input]}; refused from a
        log that does not verify."""
        self.check()
        entries = self.entries()
        target = artifact(path)
        entry = self.producer_of(target["sha256"], entries)
        if entry is None:
            by_path = [e for e in entries if any(a["path"] == target["path"] for a in e["outputs"])]
            hint = (f"; entry {by_path[-1]['seq']} wrote {target['path']} but with other content "
                    "(it was changed after it was written)") if by_path else ""
            raise LineageError(f"{path}: not written by any stage in {self.path}{hint}")

        def node(art: dict, producer: dict | None, depth: int) -> dict:
            parents = []
            if producer is not None and depth < 50:
                for inp in producer["inputs"]:
                    parents.append(node(inp, self.producer_of(inp["sha256"], entries, before=producer["seq"]), depth + 1))
            return {"artifact": art, "entry": producer, "parents": parents}

        return node(target, entry, 0)

    def affected(self, member: str) -> list[tuple[dict, dict]]:
        """(entry, output) for every artifact built from `member`'s data, directly or downstream; refused
        from a log that does not verify."""
        self.check()
        tainted: set[str] = set()
        out = []
        for entry in self.entries():
            if member in entry.get("members", []) or any(a["sha256"] in tainted for a in entry["inputs"]):
                for art in entry["outputs"]:
                    tainted.add(art["sha256"])
                    out.append((entry, art))
        return out


def format_trace(node: dict, indent: int = 0) -> str:
    art, entry = node["artifact"], node["entry"]
    pad = "  " * indent
    made = (f"  <- {entry['stage']} (entry {entry['seq']}, {entry['time']}, members: "
            f"{', '.join(entry['members']) or '-'})") if entry else "  (source: not written by a stage)"
    lines = [f"{pad}{art['path']}  sha256:{art['sha256'][:12]}{made}"]
    lines += [format_trace(p, indent + 1) for p in node["parents"]]
    return "\n".join(lines)
