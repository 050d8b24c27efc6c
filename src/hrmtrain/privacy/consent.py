"""The household's consent registry: members, and grants per member and data category, in SQLite.

The rule (the procedure's Safety section): a sensitive record is used only if every member it
concerns has an active grant for its category at build time; a shared household record therefore
needs both users. Public data needs no consent. A grant is never deleted: revoking sets
`revoked_at`, so the registry itself is an audit trail and `snapshot()` can say what held when.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hrmtrain.errors import HrmError

CATEGORIES = ("calendar", "email", "todo", "shopping", "fitness", "documents")

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    name TEXT PRIMARY KEY,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member TEXT NOT NULL REFERENCES members(name),
    category TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS grants_member_category ON grants(member, category);
"""


class ConsentError(HrmError):
    """A registry that cannot be used as it is; the message names the file and the problem."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "" when allowed, else e.g. "no email consent from Sam"


POSSIBLY_CONCERNED = "member possibly concerned, not consented"


def decide(snapshot: dict, members: list[str], category: str, sensitive: bool = True,
           possible: list[str] = ()) -> Decision:
    """The rule against one `snapshot()`: a build decides every record against the snapshot it records,
    so a grant or revoke during the build cannot make the recorded snapshot wrong.

    `members` are those a record surely concerns (their address, the file's owner); `possible` those it
    may concern (a display name, a CN, a name in the text): deny when unsure, so they need consent too.
    """
    if not sensitive:
        return Decision(True, "")
    if not members and not possible:
        return Decision(False, "sensitive record names no household member")
    active = snapshot["active"]
    for m in sorted(set(members)):
        if m not in active:
            return Decision(False, f"record concerns {m}, who is not a registered member")
    missing = [m for m in sorted(set(members)) if category not in active[m]]
    if missing:
        return Decision(False, f"no {category} consent from {', '.join(missing)}")
    unsure = [m for m in sorted(set(possible) - set(members)) if category not in active.get(m, ())]
    if unsure:
        return Decision(False, f"{POSSIBLY_CONCERNED} ({category}: {', '.join(unsure)})")
    return Decision(True, "")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _iso(at: datetime | str | None) -> str:
    if at is None:
        return _now()
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        raise ConsentError(f"consent time {at.isoformat()} has no time zone")
    return at.astimezone(timezone.utc).isoformat(timespec="seconds")


class ConsentRegistry:
    """Open (or with `create=True`, create) the registry at `path`; checked on open."""

    def __init__(self, path: str | Path, create: bool = False):
        self.path = Path(path)
        if not self.path.is_file() and not create:
            raise ConsentError(f"{self.path}: no consent registry here (create one with "
                               "`hrmtrain consent add-member NAME`, or set data.consent_db)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as db, db:
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConsentError(f"{self.path}: not a consent registry ({exc})") from None
        self.check()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with closing(self._connect()) as db:
            return db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple = ()) -> None:
        with closing(self._connect()) as db, db:  # `with db` commits, or rolls back on error
            db.execute(sql, args)

    def check(self) -> None:
        """A registry written elsewhere may name members the household does not have, or unknown categories."""
        orphans = self._query("SELECT DISTINCT member FROM grants WHERE member NOT IN (SELECT name FROM members)")
        if orphans:
            raise ConsentError(f"{self.path}: grants name unknown member(s) {', '.join(sorted(o[0] for o in orphans))}; "
                               f"known members: {', '.join(self.members()) or 'none'}")
        bad = self._query(f"SELECT DISTINCT category FROM grants WHERE category NOT IN ({','.join('?' * len(CATEGORIES))})",
                          CATEGORIES)
        if bad:
            raise ConsentError(f"{self.path}: grants name unknown categor(ies) {', '.join(sorted(b[0] for b in bad))}; "
                               f"expected one of {', '.join(CATEGORIES)}")

    # -- changes -------------------------------------------------------------------------------------
    def add_member(self, name: str, at=None) -> None:
        name = name.strip()
        if not name:
            raise ConsentError("a member needs a name")
        if name in self.members():
            raise ConsentError(f"{self.path}: {name} is already a member")
        self._write("INSERT INTO members(name, added_at) VALUES (?, ?)", (name, _iso(at)))

    def _known(self, member: str, category: str) -> None:
        if member not in self.members():
            raise ConsentError(f"{self.path}: unknown member {member!r}; known members: "
                               f"{', '.join(self.members()) or 'none'} (add one with `hrmtrain consent add-member`)")
        if category not in CATEGORIES:
            raise ConsentError(f"unknown data category {category!r}; expected one of {', '.join(CATEGORIES)}")

    def grant(self, member: str, category: str, at=None) -> bool:
        """Grant consent; False if an active grant already existed (nothing changes)."""
        self._known(member, category)
        if self.active(member, category):
            return False
        self._write("INSERT INTO grants(member, category, granted_at) VALUES (?, ?, ?)", (member, category, _iso(at)))
        return True

    def revoke(self, member: str, category: str, at=None) -> bool:
        """Revoke consent; False if there was no active grant."""
        self._known(member, category)
        if not self.active(member, category):
            return False
        self._write("UPDATE grants SET revoked_at = ? WHERE member = ? AND category = ? AND revoked_at IS NULL",
                    (_iso(at), member, category))
        return True

    # -- questions -----------------------------------------------------------------------------------
    def members(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM members ORDER BY name")]

    def active(self, member: str, category: str, at=None) -> bool:
        t = _iso(at)
        rows = self._query("SELECT 1 FROM grants WHERE member = ? AND category = ? AND granted_at <= ? "
                           "AND (revoked_at IS NULL OR revoked_at > ?) LIMIT 1", (member, category, t, t))
        return bool(rows)

    def decide(self, members: list[str], category: str, sensitive: bool = True, at=None,
               possible: list[str] = ()) -> Decision:
        """May a record of `category` concerning `members` be used? Every member needs a grant."""
        return decide(self.snapshot(at), members, category, sensitive, possible)

    def grants(self) -> list[dict]:
        rows = self._query("SELECT member, category, granted_at, revoked_at FROM grants ORDER BY member, category, id")
        return [dict(zip(("member", "category", "granted_at", "revoked_at"), r)) for r in rows]

    def snapshot(self, at=None) -> dict:
        """Active grants at `at` (default now): what a build ran under, for the lineage log."""
        t = _iso(at)
        active = {m: sorted(c for c in CATEGORIES if self.active(m, c, t)) for m in self.members()}
        return {"registry": str(self.path.resolve()), "at": t, "active": active}
