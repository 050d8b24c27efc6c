"""The study database (SQLite): items to rate, raters, their assignments and their ratings.

Ratings are append-only: SQLite triggers refuse UPDATE and DELETE on the table, an edit is a new
row, and the latest row per (rater, item) is the rating that counts. Every write is its own
transaction in WAL mode with `synchronous=FULL`, so a rating the server acknowledged survives the
server being killed. Rater tokens are stored only as sha256; the token itself is shown once, when
the owner issues it.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hrmtrain.errors import HrmError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, system TEXT NOT NULL, task_id TEXT NOT NULL,
    task_type TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('regular', 'overlap', 'gold')),
    payload TEXT NOT NULL, gold TEXT);
CREATE TABLE IF NOT EXISTS raters (
    name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, seed INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
    rater TEXT NOT NULL REFERENCES raters(name), item TEXT NOT NULL REFERENCES items(id),
    position INTEGER NOT NULL, PRIMARY KEY (rater, item));
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rater TEXT NOT NULL REFERENCES raters(name),
    item TEXT NOT NULL REFERENCES items(id),
    helpfulness INTEGER NOT NULL CHECK (helpfulness BETWEEN 1 AND 5),
    safety_pass INTEGER NOT NULL CHECK (safety_pass IN (0, 1)),
    severity TEXT NOT NULL CHECK (severity IN ('none', 'minor', 'major', 'critical')),
    note TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS ratings_no_update BEFORE UPDATE ON ratings
    BEGIN SELECT RAISE(ABORT, 'ratings are append-only: add a new rating instead'); END;
CREATE TRIGGER IF NOT EXISTS ratings_no_delete BEFORE DELETE ON ratings
    BEGIN SELECT RAISE(ABORT, 'ratings are append-only'); END;
"""

SEVERITIES = ("none", "minor", "major", "critical")


class StudyError(HrmError):
    """A study, rater or rating the database cannot take; the message names the database and the value."""


@dataclass
class Item:
    id: str
    position: int
    system: str
    task_id: str
    task_type: str
    kind: str  # regular | overlap | gold
    payload: dict  # request, calls, answer: what the rater sees
    gold: dict | None  # for gold items: {"helpfulness": [lo, hi], "safety_pass": bool}


@dataclass
class Rating:
    id: int
    rater: str
    item: str
    helpfulness: int
    safety_pass: bool
    severity: str
    note: str
    created: str


INSERT_RATING = ("INSERT INTO ratings (rater, item, helpfulness, safety_pass, severity, note, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)")


def validate(helpfulness, safety_pass, severity: str = "none", note: str = "") -> tuple[int, int, str, str]:
    """A rating as stored, or StudyError saying which answer is wrong and what is allowed."""
    try:
        value = int(helpfulness)
        if str(helpfulness).strip() not in (str(value), f"{value}.0"):
            raise ValueError
    except (TypeError, ValueError):
        raise StudyError(f"helpfulness {helpfulness!r}: must be a whole number from 1 to 5") from None
    if not 1 <= value <= 5:
        raise StudyError(f"helpfulness {value}: must be a whole number from 1 to 5")
    if safety_pass not in (True, False, 0, 1, "pass", "fail"):
        raise StudyError(f"safety {safety_pass!r}: must be pass or fail")
    passed = safety_pass in (True, 1, "pass")
    if severity not in SEVERITIES:
        raise StudyError(f"severity {severity!r}: must be one of {', '.join(SEVERITIES)}")
    if passed and severity != "none":
        raise StudyError(f"severity {severity!r} with a safety pass: a pass has severity none")
    if not passed and severity == "none":
        raise StudyError("a safety fail needs a severity (minor, major or critical)")
    note = (note or "").strip()
    if len(note) > 2000:
        raise StudyError(f"note of {len(note)} characters: at most 2000")
    return value, int(passed), severity, note


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Study:
    def __init__(self, path: str | Path, create: bool = False):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StudyError(f"{self.path}: no such study (create one with `hrmtrain humaneval create`)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    # -- set-up --------------------------------------------------------------------------------------
    def meta(self) -> dict:
        with closing(self._connect()) as db:
            return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}

    def set_meta(self, **values) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()])
            db.execute("COMMIT")

    def add_items(self, items: list[Item]) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT COUNT(*) FROM items").fetchone()[0]:
                db.execute("ROLLBACK")
                raise StudyError(f"{self.path}: this study already has its items; create a new study file")
            db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [(i.id, i.position, i.system, i.task_id, i.task_type, i.kind, json.dumps(i.payload),
                             json.dumps(i.gold) if i.gold is not None else None) for i in items])
            db.execute("COMMIT")

    def items(self) -> list[Item]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, position, system, task_id, task_type, kind, payload, gold FROM items "
                              "ORDER BY position").fetchall()
        return [Item(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]) if r[7] else None)
                for r in rows]

    def add_rater(self, name: str, regular_per_rater: int | None = None) -> str:
        """Register a rater and assign their items: every overlap and gold item, and the regular items
        the fewest raters have so far (all of them when `regular_per_rater` is None), in an order
        shuffled with the rater's own stored seed. Returns the token (shown once; only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_. " for c in name):
            raise StudyError(f"rater name {name!r}: use 1-64 letters, digits, spaces, '-', '_' or '.'")
        token = secrets.token_urlsafe(24)
        seed = secrets.randbelow(2**31)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM raters WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                raise StudyError(f"{self.path}: rater {name!r} already exists")
            items = db.execute("SELECT id, kind FROM items ORDER BY position").fetchall()
            if not items:
                db.execute("ROLLBACK")
                raise StudyError(f"{self.path}: the study has no items yet")
            load = dict(db.execute("SELECT item, COUNT(*) FROM assignments GROUP BY item").fetchall())
            shared = [i for i, kind in items if kind != "regular"]
            regular = [i for i, kind in items if kind == "regular"]
            if regular_per_rater is not None:
                regular = sorted(regular, key=lambda i: load.get(i, 0))[:regular_per_rater]  # stable: position
            mine = shared + regular
            random.Random(seed).shuffle(mine)
            db.execute("INSERT INTO raters VALUES (?, ?, ?, ?)", (name, token_hash(token), seed, now()))
            db.executemany("INSERT INTO assignments VALUES (?, ?, ?)", [(name, i, p) for p, i in enumerate(mine)])
            db.execute("COMMIT")
        return token

    def rater_for_token(self, token: str | None) -> str | None:
        if not token:
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT name FROM raters WHERE token_sha256 = ?", (token_hash(token),)).fetchone()
        return row[0] if row else None

    def raters(self) -> list[str]:
        with closing(self._connect()) as db:
            return [r[0] for r in db.execute("SELECT name FROM raters ORDER BY created, name")]

    def assignments(self, rater: str) -> list[str]:
        with closing(self._connect()) as db:
            return [r[0] for r in db.execute("SELECT item FROM assignments WHERE rater = ? ORDER BY position", (rater,))]

    # -- ratings -------------------------------------------------------------------------------------
    def rate(self, rater: str, item: str, helpfulness, safety_pass, severity: str = "none", note: str = "") -> int:
        """Append a rating after checking it; returns its row id."""
        values = validate(helpfulness, safety_pass, severity, note)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            if not db.execute("SELECT 1 FROM assignments WHERE rater = ? AND item = ?", (rater, item)).fetchone():
                db.execute("ROLLBACK")
                raise StudyError(f"item {item!r} is not assigned to rater {rater!r}")
            cur = db.execute(INSERT_RATING, (rater, item, *values, now()))
            db.execute("COMMIT")
            return cur.lastrowid

    def import_ratings(self, ratings: list[tuple]) -> int:
        """Append (rater, item, helpfulness, safety, severity, note) ratings made elsewhere (Label Studio),
        all or none: an unknown rater is added (with a token nobody holds) and assigned what they rated."""
        checked = [(rater, item, *validate(*rest)) for rater, item, *rest in ratings]
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for rater, item, *values in checked:
                    if not db.execute("SELECT 1 FROM raters WHERE name = ?", (rater,)).fetchone():
                        db.execute("INSERT INTO raters VALUES (?, ?, ?, ?)",
                                   (rater, token_hash(secrets.token_urlsafe(24)), secrets.randbelow(2**31), now()))
                    if not db.execute("SELECT 1 FROM assignments WHERE rater = ? AND item = ?", (rater, item)).fetchone():
                        last = db.execute("SELECT COALESCE(MAX(position), -1) FROM assignments WHERE rater = ?",
                                          (rater,)).fetchone()[0]
                        db.execute("INSERT INTO assignments VALUES (?, ?, ?)", (rater, item, last + 1))
                    db.execute(INSERT_RATING, (rater, item, *values, now()))
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return len(checked)

    def ratings(self, latest: bool = True) -> list[Rating]:
        """Every rating row, or (default) the latest per (rater, item): what counts."""
        query = "SELECT id, rater, item, helpfulness, safety_pass, severity, note, created FROM ratings"
        if latest:
            query += " WHERE id IN (SELECT MAX(id) FROM ratings GROUP BY rater, item)"
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY id").fetchall()
        return [Rating(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7]) for r in rows]

    def progress(self, rater: str) -> tuple[int, int]:
        """(items rated, items assigned) for a rater."""
        with closing(self._connect()) as db:
            done = db.execute("SELECT COUNT(DISTINCT item) FROM ratings WHERE rater = ?", (rater,)).fetchone()[0]
            total = db.execute("SELECT COUNT(*) FROM assignments WHERE rater = ?", (rater,)).fetchone()[0]
        return done, total
