"""Instruction examples from redacted records: (request, tools, expected tool calls and answer).

One builder per task type turns a record into a conversation in TRL's format. Every gold tool call
is executed against the household tools on a household state built for the example, and the tool
turns hold what the tools really returned: a gold call that the tools reject stops the build with
the record named, so no invalid gold call reaches the data. Multi-step tasks (reschedule, complete a
to-do, reply to a mail) need the model to look something up before acting on it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from hrmtrain.data.sources.records import Record
from hrmtrain.household.schemas import FAMILIES, TOOLS
from hrmtrain.household.state import Email, Household, Recipe
from hrmtrain.household.tools import execute

SYSTEM = ("You are the L-Module of a household assistant. Carry out the step you are given with the "
          "household tools, then answer briefly.")


class GoldCallError(ValueError):
    """A gold call the household tools reject: a bug in a builder or a record it cannot express."""


@dataclass
class Dialogue:
    """Builds one conversation, running each gold call on the household as it goes."""

    household: Household
    family: str
    request: str

    def __post_init__(self):
        self.messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self.request}]
        self.initial_state = self.household.to_dict()  # what the evaluation starts an episode from

    def call(self, name: str, **arguments) -> dict:
        result = execute(self.household, name, arguments)
        if result.error:
            raise GoldCallError(f"gold call {name}({json.dumps(arguments, ensure_ascii=False)}) failed: "
                                f"{result.content['error']}")
        self.messages.append({"role": "assistant", "content": "",
                              "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]})
        self.messages.append({"role": "tool", "name": name, "content": result.text()})
        return result.content

    def answer(self, text: str) -> list[dict]:
        self.messages.append({"role": "assistant", "content": text})
        return self.messages


def _when(iso: str) -> str:
    dt = datetime.fromisoformat(iso)
    return f"{dt:%A %d %B} at {dt:%H:%M}"


def _household(now: str, seed: int) -> Household:
    # No member list: names in redacted records are placeholders, so membership is not checked here.
    return Household(now=now, seed=seed)


# -- calendar ------------------------------------------------------------------------------------------
def schedule(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    who = f.get("attendees", [])
    d = Dialogue(h, "calendar", f"Put {f['title']} in the calendar on {_when(f['start'])} until "
                                f"{datetime.fromisoformat(f['end']):%H:%M}"
                                + (f" for {' and '.join(who)}" if who else "")
                                + (f", at {f['location']}" if f.get("location") else "") + ".")
    args = {"title": f["title"], "start": f["start"], "end": f["end"]}
    if who:
        args["attendees"] = who
    if f.get("location"):
        args["location"] = f["location"]
    d.call("calendar_create_event", **args)
    d.answer(f"Done: {f['title']} is in the calendar on {_when(f['start'])}.")
    return d


def reschedule(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    execute(h, "calendar_create_event", {"title": f["title"], "start": f["start"], "end": f["end"]})
    start = datetime.fromisoformat(f["start"])
    new_start = start + timedelta(days=rng.choice([1, 2, 7]), hours=rng.choice([-2, -1, 1, 2]))
    d = Dialogue(h, "calendar", f"Move {f['title']} on {start:%A %d %B} to {_when(new_start.isoformat(timespec='minutes'))}.")
    listed = d.call("calendar_list_events", date_from=start.date().isoformat(), date_to=start.date().isoformat())
    event = next(e for e in listed["events"] if e["title"] == f["title"] and e["start"] == f["start"])
    moved = d.call("calendar_move_event", event_id=event["event_id"], new_start=new_start.isoformat(timespec="minutes"))
    d.answer(f"Moved {f['title']} to {_when(moved['start'])}.")
    return d


def query_calendar(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    execute(h, "calendar_create_event", {"title": f["title"], "start": f["start"], "end": f["end"]})
    day = datetime.fromisoformat(f["start"]).date()
    d = Dialogue(h, "calendar", f"What is on the calendar on {day:%A %d %B}?")
    events = d.call("calendar_list_events", date_from=day.isoformat(), date_to=day.isoformat())["events"]
    d.answer("You have " + "; ".join(f"{e['title']} at {e['start'][11:]}" for e in events) + ".")
    return d


# -- e-mail --------------------------------------------------------------------------------------------
def _inbox(rec: Record, h: Household) -> str:
    f = rec.fields
    message_id = h.new_id("m", rec.record_id, h.emails)
    h.emails[message_id] = Email(message_id, "inbox", f["sender"], [f.get("recipient", "me")], f["subject"],
                                 f["body"], f["date"], unread=True)
    return message_id


def triage_mail(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    _inbox(rec, h)
    d = Dialogue(h, "email", rng.choice(["Do I have any unread e-mail?", "Anything new in my inbox?",
                                         "Check my unread mail."]))
    msgs = d.call("email_list", folder="inbox", unread_only=True)["messages"]
    d.answer(f"You have {len(msgs)} unread e-mail{'s' if len(msgs) != 1 else ''}: "
             + "; ".join(f"'{m['subject']}' from {m['from']}" for m in msgs) + ".")
    return d


def draft_reply(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    _inbox(rec, h)
    note = rng.choice(["thanks, that works for us", "we'll get back to you tomorrow", "yes, see you then"])
    d = Dialogue(h, "email", f"Reply to the e-mail about '{f['subject']}' saying {note}.")
    msgs = d.call("email_list", folder="inbox")["messages"]
    target = next(m for m in msgs if m["subject"] == f["subject"])
    mail = d.call("email_read", message_id=target["message_id"])
    subject = mail["subject"] if mail["subject"].lower().startswith("re:") else f"Re: {mail['subject']}"
    draft = d.call("email_draft", to=[mail["from"]], subject=subject, body=note[0].upper() + note[1:] + ".")
    d.answer(f"I drafted a reply to {mail['from']} ({draft['draft_id']}); it is ready to send.")
    return d


# -- lists ---------------------------------------------------------------------------------------------
def add_todo(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    args = {"title": f["title"]}
    text = f"Add a to-do: {f['title']}"
    if f.get("assignee"):
        args["assignee"] = f["assignee"]
        text = f"Add a to-do for {f['assignee']}: {f['title']}"
    if f.get("due"):
        args["due"] = f["due"]
        text += f" by {datetime.fromisoformat(f['due']):%A %d %B}"
    d = Dialogue(h, "todo", text + ".")
    d.call("todo_add", **args)
    d.answer(f"Added '{f['title']}'" + (f" for {f['assignee']}" if f.get("assignee") else "") + ".")
    return d


def complete_todo(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    execute(h, "todo_add", {k: v for k, v in f.items() if k in ("title", "due", "assignee")})
    d = Dialogue(h, "todo", f"I've done '{f['title']}', tick it off.")
    todos = d.call("todo_list", status="open")["todos"]
    todo = next(t for t in todos if t["title"] == f["title"])
    d.call("todo_complete", todo_id=todo["todo_id"])
    d.answer(f"Marked '{f['title']}' as done.")
    return d


def shopping(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    qty = int(f.get("quantity", 1))
    d = Dialogue(h, "shopping", f"Put {qty} {f['item']} on the shopping list." if qty > 1
                 else f"Add {f['item']} to the shopping list.")
    added = d.call("shopping_add", item=f["item"], quantity=qty)
    d.answer(f"Added {qty} x {added['item']} to the shopping list.")
    return d


# -- public: recipes, timers, fitness -----------------------------------------------------------------------
def _recipes(h: Household, recipes: list[Record]) -> None:
    h.recipes = [Recipe(r.fields["title"], int(r.fields.get("minutes", 30)), list(r.fields.get("ingredients", [])),
                        list(r.fields.get("tags", []))) for r in recipes]


def recipe_question(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    ingredient = rng.choice(f["ingredients"])
    d = Dialogue(h, "recipe", f"What can I cook with {ingredient}?")
    hits = d.call("recipe_lookup", query=ingredient, max_results=3)["recipes"]
    d.answer("Try " + ", or ".join(f"{r['title']} ({r['minutes']} minutes)" for r in hits) + "." if hits
             else f"I found no recipe with {ingredient}.")
    return d


def timer(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    minutes = int(f.get("minutes", 10))
    label = f.get("title") or f.get("task")
    d = Dialogue(h, "timer", f"Set a {minutes} minute timer for the {label.lower()}.")
    d.call("timer_set", duration_seconds=minutes * 60, label=label.lower())
    d.answer(f"Timer set: {label.lower()}, {minutes} minutes.")
    return d


def fitness_plan(rec: Record, h: Household, rng: random.Random) -> Dialogue:
    f = rec.fields
    days = int(f.get("days_per_week", 3))
    d = Dialogue(h, "fitness", f"Make me a plan to {f['goal']}, {days} days a week.")
    plan = d.call("fitness_plan", goal=f["goal"], days_per_week=days)
    d.answer(f"Here is your plan to {f['goal']}: " + ", ".join(plan["sessions"]) + ".")
    return d


BUILDERS: dict[str, tuple[tuple[str, ...], Callable]] = {  # task type -> (record kinds, builder)
    "schedule": (("event",), schedule),
    "reschedule": (("event",), reschedule),
    "query_calendar": (("event",), query_calendar),
    "triage_mail": (("email",), triage_mail),
    "draft_reply": (("email",), draft_reply),
    "add_todo": (("todo",), add_todo),
    "complete_todo": (("todo",), complete_todo),
    "shopping": (("shopping",), shopping),
    "recipe_question": (("recipe",), recipe_question),
    "timer": (("recipe", "howto"), timer),
    "fitness_plan": (("fitness",), fitness_plan),
}
MULTI_STEP = {"reschedule", "draft_reply", "complete_todo"}


def group_text(rec: Record) -> str:
    """The source content that identifies a record for leakage checks (see split.py)."""
    return " ".join(str(v) for k, v in sorted(rec.fields.items()) if k not in ("start", "end", "date", "due"))


def build_examples(records: list[Record], now: str, seed: int = 0) -> list[dict]:
    """Every task type each record supports; rows in TRL's format plus task_type/group/record columns."""
    rng = random.Random(seed)
    recipes = [r for r in records if r.kind == "recipe"]
    rows = []
    for rec in records:
        for task_type, (kinds, builder) in BUILDERS.items():
            if rec.kind not in kinds:
                continue
            h = _household(now, seed)
            if rec.kind == "recipe":
                _recipes(h, recipes)
            try:
                d = builder(rec, h, rng)
            except (GoldCallError, StopIteration, KeyError, ValueError) as exc:
                raise GoldCallError(f"{rec.source} ({rec.key}): cannot build a {task_type} example: {exc}") from exc
            tool_names = FAMILIES[d.family] + FAMILIES[rng.choice([f for f in FAMILIES if f != d.family])][:1]
            rows.append({
                "messages": d.messages,
                "tools": [TOOLS[n] for n in tool_names],
                "task_type": task_type,
                "multi_step": task_type in MULTI_STEP,
                "group": rec.record_id if rec.kind not in ("event",) else f"{rec.source}#{rec.fields.get('uid', rec.key)}",
                "group_text": group_text(rec),
                "record_id": rec.record_id,
                "category": rec.category,
                "initial_state": json.dumps(d.initial_state, ensure_ascii=False, sort_keys=True),
            })
    return rows
