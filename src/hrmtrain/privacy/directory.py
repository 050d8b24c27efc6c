"""The household's people (`household.json`): who a record concerns, by name or e-mail address, and the
locale whose redaction rules apply."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.errors import DataError
from hrmtrain.privacy.pii.locale import SUPPORTED, normalise


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
    locale: str = ""  # e.g. "de_DE": the redactor's rules and phone region (privacy/pii/locale.py)

    @classmethod
    def load(cls, path: str | Path) -> "Directory":
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
