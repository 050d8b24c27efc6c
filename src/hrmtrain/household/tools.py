"""Carry out a tool call on a `Household`: validate the arguments against the tool's JSON schema,
apply it, and return what the tool says. A bad call (unknown tool, arguments that do not match the
schema, an event that does not exist) comes back as an error result the model can read, never as
an exception: the L-Module must learn, and be evaluated on, recovering from its own mistakes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Callable

from hrmtrain.household.schemas import TOOLS
from hrmtrain.household.state import Email, Event, Household, Plan, Reminder, Timer, Todo, Workout

DEFAULT_EVENT_MINUTES = 60


@dataclass(frozen=True)
class ToolResult:
    content: dict
    error: bool = False

    def text(self) -> str:
        """What the model sees in the `tool` turn."""
        return json.dumps(self.content, ensure_ascii=False, sort_keys=True)


class ToolFailure(Exception):
    """Raised inside a tool for a call that is valid by schema but not in this household."""


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator

    schema = dict(TOOLS[name]["function"]["parameters"])
    schema["additionalProperties"] = False  # an argument the tool does not know is an error, not ignored
    return Draft202012Validator(schema)


def validation_errors(name: str, arguments) -> list[str]:
    """Why a call is not valid by schema (empty when it is)."""
    if name not in TOOLS:
        return [f"unknown tool {name!r}"]
    if not isinstance(arguments, dict):
        return ["arguments must be a JSON object"]
    errors = sorted(_validator(name).iter_errors(arguments), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or 'arguments'}: {e.message}" for e in errors]


def _datetime(value: str, key: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ToolFailure(f"{key}: {value!r} is not an ISO 8601 date-time") from None


def _date(value: str, key: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ToolFailure(f"{key}: {value!r} is not an ISO 8601 date") from None


def _minutes(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


# -- calendar -----------------------------------------------------------------------------------------
def calendar_create_event(h: Household, title, start, end=None, attendees=(), location="") -> dict:
    s = _datetime(start, "start")
    e = _datetime(end, "end") if end else s + timedelta(minutes=DEFAULT_EVENT_MINUTES)
    if e <= s:
        raise ToolFailure("end must be after start")
    event_id = h.new_id("ev", f"{title}|{_minutes(s)}", h.events)
    h.events[event_id] = Event(event_id, title, _minutes(s), _minutes(e), list(attendees), location)
    return {"event_id": event_id, "status": "created"}


def calendar_list_events(h: Household, date_from, date_to) -> dict:
    d0, d1 = _date(date_from, "date_from"), _date(date_to, "date_to")
    if d1 < d0:
        raise ToolFailure("date_to is before date_from")
    hits = sorted((ev for ev in h.events.values() if d0 <= date.fromisoformat(ev.start[:10]) <= d1),
                  key=lambda ev: (ev.start, ev.event_id))
    return {"events": [{"event_id": ev.event_id, "title": ev.title, "start": ev.start, "end": ev.end} for ev in hits]}


def _event(h: Household, event_id: str) -> Event:
    if event_id not in h.events:
        raise ToolFailure(f"no event with id {event_id!r}")
    return h.events[event_id]


def calendar_move_event(h: Household, event_id, new_start) -> dict:
    ev = _event(h, event_id)
    s = _datetime(new_start, "new_start")
    duration = datetime.fromisoformat(ev.end) - datetime.fromisoformat(ev.start)
    ev.start, ev.end = _minutes(s), _minutes(s + duration)
    return {"event_id": event_id, "status": "moved", "start": ev.start, "end": ev.end}


def calendar_delete_event(h: Household, event_id) -> dict:
    _event(h, event_id)
    del h.events[event_id]
    return {"event_id": event_id, "status": "deleted"}


# -- e-mail ------------------------------------------------------------------------------------------
def email_list(h: Household, folder="inbox", unread_only=False) -> dict:
    hits = sorted((m for m in h.emails.values() if m.folder == folder and (m.unread or not unread_only)),
                  key=lambda m: (m.date, m.message_id), reverse=True)
    return {"messages": [{"message_id": m.message_id, "from": m.sender, "subject": m.subject, "date": m.date,
                          "unread": m.unread} for m in hits]}


def email_read(h: Household, message_id) -> dict:
    if message_id not in h.emails:
        raise ToolFailure(f"no e-mail with id {message_id!r}")
    m = h.emails[message_id]
    m.unread = False
    return {"message_id": m.message_id, "from": m.sender, "to": m.to, "subject": m.subject, "date": m.date,
            "body": m.body}


def email_draft(h: Household, to, subject, body) -> dict:
    if not to:
        raise ToolFailure("a draft needs at least one recipient")
    draft_id = h.new_id("dr", f"{','.join(to)}|{subject}|{body}", h.emails)
    h.emails[draft_id] = Email(draft_id, "drafts", "me", list(to), subject, body, h.now)
    return {"draft_id": draft_id, "status": "drafted"}


def email_send(h: Household, draft_id) -> dict:
    m = h.emails.get(draft_id)
    if m is None or m.folder != "drafts":
        raise ToolFailure(f"no draft with id {draft_id!r}")
    m.folder, m.date = "sent", h.now
    return {"draft_id": draft_id, "status": "sent"}


# -- to-dos and shopping --------------------------------------------------------------------------------
def todo_add(h: Household, title, due="", assignee="") -> dict:
    if due:
        _date(due, "due")
    if assignee and h.members and assignee not in h.members:
        raise ToolFailure(f"{assignee!r} is not a household member ({', '.join(h.members)})")
    todo_id = h.new_id("td", f"{title}|{due}|{assignee}", h.todos)
    h.todos[todo_id] = Todo(todo_id, title, due, assignee)
    return {"todo_id": todo_id, "status": "open"}


def todo_list(h: Household, status="open") -> dict:
    hits = [t for t in h.todos.values() if status == "all" or t.done == (status == "done")]
    hits.sort(key=lambda t: (t.due or "9999", t.todo_id))
    return {"todos": [asdict(t) for t in hits]}


def todo_complete(h: Household, todo_id) -> dict:
    if todo_id not in h.todos:
        raise ToolFailure(f"no to-do with id {todo_id!r}")
    h.todos[todo_id].done = True
    return {"todo_id": todo_id, "status": "done"}


def _item(name: str) -> str:
    return " ".join(name.lower().split())


def shopping_add(h: Household, item, quantity=1) -> dict:
    key = _item(item)
    if not key:
        raise ToolFailure("item is empty")
    h.shopping[key] = h.shopping.get(key, 0) + quantity
    return {"item": key, "quantity": h.shopping[key], "status": "added"}


def shopping_list(h: Household) -> dict:
    return {"items": [{"item": k, "quantity": v} for k, v in sorted(h.shopping.items())]}


def shopping_remove(h: Household, item) -> dict:
    key = _item(item)
    if key not in h.shopping:
        raise ToolFailure(f"{item!r} is not on the shopping list")
    del h.shopping[key]
    return {"item": key, "status": "removed"}


# -- timers and reminders --------------------------------------------------------------------------------
def timer_set(h: Household, duration_seconds, label="") -> dict:
    timer_id = h.new_id("tm", f"{duration_seconds}|{label}|{h.now}", h.timers)
    h.timers[timer_id] = Timer(timer_id, duration_seconds, label, h.now)
    ends = _minutes(h.clock + timedelta(seconds=duration_seconds))
    return {"timer_id": timer_id, "status": "running", "ends": ends}


def reminder_set(h: Household, text, at) -> dict:
    when = _datetime(at, "at")
    if when.replace(tzinfo=None) <= h.clock.replace(tzinfo=None):
        raise ToolFailure(f"{at} is in the past (now is {h.now})")
    reminder_id = h.new_id("rm", f"{text}|{_minutes(when)}", h.reminders)
    h.reminders[reminder_id] = Reminder(reminder_id, text, _minutes(when))
    return {"reminder_id": reminder_id, "status": "set", "at": _minutes(when)}


# -- recipes and fitness ------------------------------------------------------------------------------------
def recipe_lookup(h: Household, query, max_results=3) -> dict:
    words = set(query.lower().split())
    scored = []
    for r in h.recipes:
        text = f"{r.title} {' '.join(r.ingredients)} {' '.join(r.tags)}".lower()
        score = sum(1 for w in words if w in text)
        if score:
            scored.append((-score, r.title, r))
    scored.sort(key=lambda x: (x[0], x[1]))
    return {"recipes": [{"title": r.title, "minutes": r.minutes} for _, _, r in scored[:max_results]]}


def fitness_log(h: Household, activity, duration_minutes, date=None) -> dict:
    day = _date(date, "date").isoformat() if date else h.now[:10]
    h.workouts.append(Workout(activity, duration_minutes, day))
    return {"status": "logged", "activity": activity, "duration_minutes": duration_minutes, "date": day}


def fitness_plan(h: Household, goal, days_per_week) -> dict:
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    step = 7 / days_per_week
    sessions = [weekdays[int(i * step)] for i in range(days_per_week)]
    plan_id = h.new_id("pl", f"{goal}|{days_per_week}", h.plans)
    h.plans[plan_id] = Plan(plan_id, goal, days_per_week, sessions)
    return {"plan_id": plan_id, "goal": goal, "sessions": sessions}


IMPLEMENTATIONS: dict[str, Callable[..., dict]] = {
    name: globals()[name] for name in TOOLS
}


def execute(h: Household, name: str, arguments) -> ToolResult:
    """Run one call on `h` (changing it); every failure is an error result, never an exception."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return ToolResult({"error": f"arguments are not valid JSON ({exc.msg})"}, error=True)
    problems = validation_errors(name, arguments)
    if problems:
        return ToolResult({"error": "; ".join(problems)}, error=True)
    try:
        return ToolResult(IMPLEMENTATIONS[name](h, **arguments))
    except ToolFailure as exc:
        return ToolResult({"error": str(exc)}, error=True)
