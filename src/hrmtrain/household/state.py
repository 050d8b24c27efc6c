"""The household's state that the tools act on: deterministic, serialisable, hashable.

Two households built from the same data, clock and seed, given the same tool calls, end in states
with the same `state_hash()`: that is how the instruction builder checks its gold calls and how the
evaluation decides task success. Ids are derived from the seed and what is created (not from a
counter or the wall clock), so two independent creations give the same ids in either order; "now"
is injected.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass
class Event:
    event_id: str
    title: str
    start: str  # ISO 8601, household time zone, minutes
    end: str
    attendees: list[str] = field(default_factory=list)
    location: str = ""


@dataclass
class Email:
    message_id: str
    folder: str  # inbox | sent | drafts
    sender: str
    to: list[str]
    subject: str
    body: str
    date: str
    unread: bool = False


@dataclass
class Todo:
    todo_id: str
    title: str
    due: str = ""
    assignee: str = ""
    done: bool = False


@dataclass
class Timer:
    timer_id: str
    duration_seconds: int
    label: str
    started: str


@dataclass
class Reminder:
    reminder_id: str
    text: str
    at: str


@dataclass
class Recipe:
    title: str
    minutes: int
    ingredients: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class Workout:
    activity: str
    duration_minutes: int
    date: str


@dataclass
class Plan:
    plan_id: str
    goal: str
    days_per_week: int
    sessions: list[str] = field(default_factory=list)


@dataclass
class Household:
    now: str  # the injected clock, ISO 8601
    seed: int = 0
    members: list[str] = field(default_factory=list)
    events: dict[str, Event] = field(default_factory=dict)
    emails: dict[str, Email] = field(default_factory=dict)
    todos: dict[str, Todo] = field(default_factory=dict)
    shopping: dict[str, int] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    reminders: dict[str, Reminder] = field(default_factory=dict)
    recipes: list[Recipe] = field(default_factory=list)  # the household's recipe collection (read-only)
    workouts: list[Workout] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)

    @property
    def clock(self) -> datetime:
        return datetime.fromisoformat(self.now)

    def new_id(self, prefix: str, content: str, taken) -> str:
        """A seeded id from what is created, so independent creations give the same ids in any order."""
        n = 0
        while True:
            digest = hashlib.sha256(f"{self.seed}:{prefix}:{content}:{n}".encode()).hexdigest()
            candidate = f"{prefix}_{digest[:6]}"
            if candidate not in taken:
                return candidate
            n += 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Household":
        d = copy.deepcopy(data)
        kinds = {"events": Event, "emails": Email, "todos": Todo, "timers": Timer, "reminders": Reminder,
                 "plans": Plan}
        for key, kind in kinds.items():
            d[key] = {k: kind(**v) for k, v in d.get(key, {}).items()}
        d["recipes"] = [Recipe(**r) for r in d.get("recipes", [])]
        d["workouts"] = [Workout(**w) for w in d.get("workouts", [])]
        return cls(**d)

    def copy(self) -> "Household":
        return copy.deepcopy(self)

    def state_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
