"""What every reader returns: records, and the files (or parts of files) it could not use, with why."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

PUBLIC = "public"


@dataclass
class Record:
    kind: str  # event | email | todo | shopping | recipe | fitness | howto
    category: str  # the consent category (consent.CATEGORIES), or "public"
    source: str  # the file it came from
    key: str  # what identifies it within the file (uid + occurrence, message-id, row)
    fields: dict  # only what the instruction builder needs
    members: list[str] = field(default_factory=list)  # household members it surely concerns (address, owner)
    # members it may concern (a display name, a CN, an address's local part, a name in the text): consent
    # is needed from them too ("deny when unsure")
    possible: list[str] = field(default_factory=list)

    @property
    def sensitive(self) -> bool:
        return self.category != PUBLIC

    @property
    def concerned(self) -> set[str]:
        """Everyone whose consent the record needed: the members it concerns, surely or possibly."""
        return {*self.members, *self.possible}

    @property
    def record_id(self) -> str:
        return hashlib.sha256(f"{self.source}\0{self.key}".encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "record_id": self.record_id, "sensitive": self.sensitive}


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    part: str = ""  # e.g. "message 3" when one part of a file was skipped

    def __str__(self) -> str:
        return f"{self.source}{f' ({self.part})' if self.part else ''}: {self.reason}"


@dataclass
class Loaded:
    records: list[Record] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)  # used, but with a problem worth saying

    def extend(self, other: "Loaded") -> "Loaded":
        self.records += other.records
        self.skipped += other.skipped
        self.warnings += other.warnings
        return self


@dataclass(frozen=True)
class Member:
    name: str
    full_name: str
    emails: tuple[str, ...]


@dataclass
class Directory:
    """Who lives in the household (`household.json`): to say which members a record concerns."""

    members: list[Member]
    timezone: str = "UTC"
    now: str = ""
    locale: str = ""  # e.g. "de_DE": the redactor's rules and phone region (data/pii/locale.py)

    @classmethod
    def load(cls, path: str | Path) -> "Directory":
        from hrmtrain.errors import DataError

        path = Path(path)
        shape = "needs {'members': [{'name': str, 'full_name': str, 'emails': [str]}], 'timezone': str, 'now': str}"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(path, "no household.json: the household's members are needed to attribute records") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(path, f"not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("members"), list):
            found = type(raw.get("members")).__name__ if isinstance(raw, dict) else type(raw).__name__
            raise DataError(path, f"{shape}; 'members' is {found}" if isinstance(raw, dict) else f"{shape}; found {found}")
        members = []
        for n, m in enumerate(raw["members"], start=1):
            ok = (isinstance(m, dict) and isinstance(m.get("name"), str) and m["name"].strip()
                  and isinstance(m.get("full_name", ""), str) and isinstance(m.get("emails", []), list)
                  and all(isinstance(e, str) for e in m.get("emails", [])))
            if not ok:
                raise DataError(path, f"member {n} is not {{'name': str, 'full_name': str, 'emails': [str]}}: {m!r:.80}")
            members.append(Member(m["name"], m.get("full_name") or m["name"], tuple(e.lower() for e in m.get("emails", []))))
        for key in ("timezone", "now", "locale"):
            if key in raw and not isinstance(raw[key], str):
                raise DataError(path, f"'{key}' must be a string, found {type(raw[key]).__name__}")
        if not members:
            raise DataError(path, "lists no members")
        locale = raw.get("locale", "")
        if locale:
            from hrmtrain.data.pii.locale import SUPPORTED, normalise

            if normalise(locale) is None:
                raise DataError(path, f"'locale' {locale!r} has no redaction rules; use one of {', '.join(SUPPORTED)} "
                                      "(or leave it out: en_US rules, every text's language guessed)")
        return cls(members, raw.get("timezone", "UTC"), raw.get("now", ""), locale)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def by_email(self, address: str) -> str | None:
        address = address.strip().lower()
        return next((m.name for m in self.members if address in m.emails), None)

    def by_name(self, text: str) -> str | None:
        """A member by first or full name, case-insensitive (file stems like `alex.ics` too)."""
        t = text.strip().lower()
        return next((m.name for m in self.members if t in (m.name.lower(), m.full_name.lower())), None)

    def named_in(self, text: str, ignore_case: bool = False) -> set[str]:
        """Members whose first or full name appears in `text` as whole words. A shared surname alone
        names nobody (it would name every member). Free text is matched case-sensitively ("Will" is a
        name, "will" a word); display names, CNs and addresses' local parts with `ignore_case`."""
        if not text:
            return set()
        flags = re.IGNORECASE if ignore_case else 0
        found = set()
        for m in self.members:
            for name in {m.name, m.full_name}:
                if name and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, flags):
                    found.add(m.name)
        return found

    def possibly_named(self, display_name: str = "", address: str = "") -> set[str]:
        """Members an address header may stand for although the address is not theirs: its display name or
        CN ("Sam Roberts" at a work address), or its local part (sam.roberts@..., sam_r@...)."""
        local = address.split("@", 1)[0] if "@" in address else ""
        return (self.named_in(display_name, ignore_case=True)
                | self.named_in(re.sub(r"[._+\-]+", " ", local), ignore_case=True))
