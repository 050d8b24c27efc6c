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

from hrmtrain.data import phrasing
from hrmtrain.data.sources.records import Record
from hrmtrain.household.schemas import FAMILIES, TOOLS
from hrmtrain.household.state import Email, Household, Recipe
from hrmtrain.household.tools import execute
from hrmtrain.prompt.system import system_prompt

class GoldCallError(ValueError):
    """A gold call the household tools reject: a bug in a builder or a record it cannot express."""


@dataclass
class Dialogue:
    """Builds one conversation, running each gold call on the household as it goes."""

    household: Household
    family: str
    request: str
    phrasing: str = ""  # the request's template (phrasing.py), e.g. "schedule#2"

    def __post_init__(self):
        self.messages = [{"role": "system", "content": system_prompt(self.household.now)},
                         {"role": "user", "content": self.request}]
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


def _now(h: Household) -> datetime:
    return datetime.fromisoformat(h.now)


def _household(now: str, seed: int) -> Household:
    # No member list: names in redacted records are placeholders, so membership is not checked here.
    return Household(now=now, seed=seed)


# -- calendar ------------------------------------------------------------------------------------------
def schedule(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    who = f.get("attendees", [])
    start, end = datetime.fromisoformat(f["start"]), datetime.fromisoformat(f["end"])
    d = Dialogue(h, "calendar", *say(lambda r: {
        "title": f["title"], "day": phrasing.day_text(start.date(), _now(h), r),
        "time": phrasing.time_text(start.hour, start.minute, r), "end": phrasing.time_text(end.hour, end.minute, r),
        "duration": phrasing.duration_text(int((end - start).total_seconds() // 60), r),
        "who": " and ".join(who), "location": f.get("location", "")}))
    args = {"title": f["title"], "start": f["start"], "end": f["end"]}
    if who:
        args["attendees"] = who
    if f.get("location"):
        args["location"] = f["location"]
    d.call("calendar_create_event", **args)
    d.answer(f"Done: {f['title']} is in the calendar on {_when(f['start'])}.")
    return d


def reschedule(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    execute(h, "calendar_create_event", {"title": f["title"], "start": f["start"], "end": f["end"]})
    start = datetime.fromisoformat(f["start"])
    new_start = start + timedelta(days=rng.choice([1, 2, 7]), hours=rng.choice([-2, -1, 1, 2]))
    d = Dialogue(h, "calendar", *say(lambda r: {
        "title": f["title"], "day": phrasing.day_text(start.date(), _now(h), r),
        "new_day": phrasing.day_text(new_start.date(), _now(h), r),
        "new_time": phrasing.time_text(new_start.hour, new_start.minute, r)}))
    listed = d.call("calendar_list_events", date_from=start.date().isoformat(), date_to=start.date().isoformat())
    event = next(e for e in listed["events"] if e["title"] == f["title"] and e["start"] == f["start"])
    moved = d.call("calendar_move_event", event_id=event["event_id"], new_start=new_start.isoformat(timespec="minutes"))
    d.answer(f"Moved {f['title']} to {_when(moved['start'])}.")
    return d


def query_calendar(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    execute(h, "calendar_create_event", {"title": f["title"], "start": f["start"], "end": f["end"]})
    day = datetime.fromisoformat(f["start"]).date()
    d = Dialogue(h, "calendar", *say(lambda r: {"day": phrasing.day_text(day, _now(h), r)}))
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


def triage_mail(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    _inbox(rec, h)
    d = Dialogue(h, "email", *say(lambda r: {}))
    msgs = d.call("email_list", folder="inbox", unread_only=True)["messages"]
    d.answer(f"You have {len(msgs)} unread e-mail{'s' if len(msgs) != 1 else ''}: "
             + "; ".join(f"'{m['subject']}' from {m['from']}" for m in msgs) + ".")
    return d


# what a drafted reply says (the request quotes it): fixed text, drawn per request
REPLY_NOTES = ("thanks, that works for us", "we'll get back to you tomorrow", "yes, see you then",
               "sorry, we can't make it", "could we do next week instead", "that's great news")


def draft_reply(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    _inbox(rec, h)
    note = rng.choice(REPLY_NOTES)
    d = Dialogue(h, "email", *say(lambda r: {"subject": f["subject"], "note": note}))
    msgs = d.call("email_list", folder="inbox")["messages"]
    target = next(m for m in msgs if m["subject"] == f["subject"])
    mail = d.call("email_read", message_id=target["message_id"])
    subject = mail["subject"] if mail["subject"].lower().startswith("re:") else f"Re: {mail['subject']}"
    draft = d.call("email_draft", to=[mail["from"]], subject=subject, body=note[0].upper() + note[1:] + ".")
    d.answer(f"I drafted a reply to {mail['from']} ({draft['draft_id']}); it is ready to send.")
    return d


# -- lists ---------------------------------------------------------------------------------------------
def add_todo(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    args = {"title": f["title"]}
    if f.get("assignee"):
        args["assignee"] = f["assignee"]
    if f.get("due"):
        args["due"] = f["due"]
    d = Dialogue(h, "todo", *say(lambda r: {
        "title": f["title"], "who": f.get("assignee") or "",
        "due": phrasing.day_text(datetime.fromisoformat(f["due"]).date(), _now(h), r) if f.get("due") else ""}))
    d.call("todo_add", **args)
    d.answer(f"Added '{f['title']}'" + (f" for {f['assignee']}" if f.get("assignee") else "") + ".")
    return d


def complete_todo(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    execute(h, "todo_add", {k: v for k, v in f.items() if k in ("title", "due", "assignee")})
    d = Dialogue(h, "todo", *say(lambda r: {"title": f["title"]}))
    todos = d.call("todo_list", status="open")["todos"]
    todo = next(t for t in todos if t["title"] == f["title"])
    d.call("todo_complete", todo_id=todo["todo_id"])
    d.answer(f"Marked '{f['title']}' as done.")
    return d


def shopping(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    qty = int(f.get("quantity", 1))
    d = Dialogue(h, "shopping", *say(lambda r: {"item": f["item"], "n": qty, "qty": phrasing.count_text(qty, r)}))
    added = d.call("shopping_add", item=f["item"], quantity=qty)
    d.answer(f"Added {qty} x {added['item']} to the shopping list.")
    return d


# -- public: recipes, timers, fitness -----------------------------------------------------------------------
def _recipes(h: Household, recipes: list[Record]) -> None:
    h.recipes = [Recipe(r.fields["title"], int(r.fields.get("minutes", 30)), list(r.fields.get("ingredients", [])),
                        list(r.fields.get("tags", []))) for r in recipes]


def recipe_question(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    ingredient = rng.choice(f["ingredients"])
    d = Dialogue(h, "recipe", *say(lambda r: {"ingredient": ingredient}))
    hits = d.call("recipe_lookup", query=ingredient, max_results=3)["recipes"]
    d.answer("Try " + ", or ".join(f"{r['title']} ({r['minutes']} minutes)" for r in hits) + "." if hits
             else f"I found no recipe with {ingredient}.")
    return d


def timer(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    minutes = int(f.get("minutes", 10))
    label = f.get("title") or f.get("task")
    d = Dialogue(h, "timer", *say(lambda r: {"minutes": minutes, "label": label.lower(),
                                             "duration": phrasing.duration_text(minutes, r)}))
    d.call("timer_set", duration_seconds=minutes * 60, label=label.lower())
    d.answer(f"Timer set: {label.lower()}, {minutes} minutes.")
    return d


def fitness_plan(rec: Record, h: Household, rng: random.Random, say) -> Dialogue:
    f = rec.fields
    days = int(f.get("days_per_week", 3))
    d = Dialogue(h, "fitness", *say(lambda r: {"goal": f["goal"], "days": phrasing.count_text(days, r)}))
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


def build_examples(records: list[Record], now: str, seed: int = 0, held_out_phrasing: bool = False) -> list[dict]:
    """Every task type each record supports; rows in TRL's format plus task_type/group/record columns.

    Requests use the trained templates of phrasing.py, or with `held_out_phrasing` the held-out ones;
    everything else (slots, gold calls, the household) is the same either way."""
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
            def say(slots, task_type=task_type, key=rec.record_id):
                request, which = phrasing.request(task_type, slots(phrasing.slot_rng(key, task_type, seed)), key,
                                                  seed, held_out_phrasing)
                return request, which

            try:
                d = builder(rec, h, rng, say)
            except (GoldCallError, StopIteration, KeyError, ValueError) as exc:
                raise GoldCallError(f"{rec.source} ({rec.key}): cannot build a {task_type} example: {exc}") from exc
            tool_names = FAMILIES[d.family] + FAMILIES[rng.choice([f for f in FAMILIES if f != d.family])][:1]
            rows.append({
                "messages": d.messages,
                "tools": [TOOLS[n] for n in tool_names],
                "task_type": task_type,
                "phrasing": d.phrasing,
                "multi_step": task_type in MULTI_STEP,
                "group": rec.record_id if rec.kind not in ("event",) else f"{rec.source}#{rec.fields.get('uid', rec.key)}",
                "group_text": group_text(rec),
                "record_id": rec.record_id,
                "category": rec.category,
                "initial_state": json.dumps(d.initial_state, ensure_ascii=False, sort_keys=True),
            })
    return rows
