"""What every reader returns: records, and the files (or parts of files) it could not use, with why."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

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
