"""Bundled sample SFT data: household tool-use conversations in TRL's conversational format.

A stand-in until the household data pipeline lands: deterministic (seeded), every row a real
call of a household tool from `hrmtrain.household.schemas`, its tool response, and the reply.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

from hrmtrain.household.schemas import FAMILIES, TOOLS

SYSTEM = (
    "You are the L-Module of a household assistant. Carry out the step you are given with the "
    "household tools, then answer briefly."
)
MEMBERS = ["Alex", "Sam", "Jordan", "Riley", "Maya", "Noah"]
TODAY = date(2026, 3, 2)
ITEMS = ["milk", "eggs", "bread", "apples", "rice", "coffee", "tomatoes", "oat milk", "butter",
         "pasta", "bananas", "yoghurt", "cheddar", "spinach", "dish soap", "bin bags"]
EVENTS = ["dentist", "parents' evening", "football practice", "piano lesson", "dinner with the Lees",
          "car service", "yoga class", "vet appointment", "book club", "haircut"]
CHORES = ["take the bins out", "water the plants", "book the boiler service", "renew the car insurance",
          "pay the electricity bill", "fix the bathroom tap", "return the library books", "defrost the freezer"]
DISHES = ["vegetarian lasagne", "chicken curry", "pancakes", "tomato soup", "banana bread",
          "stir-fried noodles", "shepherd's pie", "lentil dahl"]
SPORTS = ["running", "cycling", "swimming", "yoga", "rowing", "walking"]
GOALS = ["run a 10k", "build strength", "improve flexibility", "lose weight", "train for a half marathon"]


def _day(rng: random.Random) -> date:
    return TODAY + timedelta(days=rng.randint(0, 13))


def _at(rng: random.Random) -> datetime:
    d = _day(rng)
    return datetime(d.year, d.month, d.day, rng.randint(7, 20), rng.choice([0, 15, 30, 45]))


def _call(name: str, **arguments) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _calendar(rng):
    who, ev, at = rng.choice(MEMBERS), rng.choice(EVENTS), _at(rng)
    kind = rng.randrange(3)
    if kind == 0:
        end = at + timedelta(minutes=rng.choice([30, 45, 60, 90]))
        args = {"title": ev, "start": at.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes"),
                "attendees": [who]}
        ask = f"Put {ev} for {who} in the calendar on {at:%A %d %B} from {at:%H:%M} to {end:%H:%M}."
        result = {"event_id": f"ev_{rng.randrange(10**4):04d}", "status": "created"}
        reply = f"Done: {ev} for {who} is in the calendar on {at:%A %d %B} at {at:%H:%M}."
        return ask, _call("calendar_create_event", **args), result, reply
    if kind == 1:
        d0 = _day(rng)
        d1 = d0 + timedelta(days=rng.randint(0, 3))
        n = rng.randint(0, 3)
        days = sorted(d0 + timedelta(days=rng.randint(0, (d1 - d0).days)) for _ in range(n))
        events = [{"event_id": f"ev_{rng.randrange(10**4):04d}", "title": rng.choice(EVENTS),
                   "start": f"{d.isoformat()}T{rng.randint(7, 20):02d}:{rng.choice([0, 30]):02d}"} for d in days]
        ask = f"What is on the calendar from {d0:%d %B} to {d1:%d %B}?"
        reply = ("Nothing is planned then." if not events else
                 "You have " + "; ".join(f"{e['title']} at {e['start'][11:]} on {e['start'][:10]}" for e in events) + ".")
        return ask, _call("calendar_list_events", date_from=d0.isoformat(), date_to=d1.isoformat()), {"events": events}, reply
    eid = f"ev_{rng.randrange(10**4):04d}"
    ask = f"Move event {eid} ({ev}) to {at:%A} at {at:%H:%M}."
    return (ask, _call("calendar_move_event", event_id=eid, new_start=at.isoformat(timespec="minutes")),
            {"event_id": eid, "status": "moved"}, f"Moved {ev} to {at:%A %d %B} at {at:%H:%M}.")


def _email(rng):
    who, other = rng.sample(MEMBERS, 2)
    if rng.random() < 0.5:
        subject = rng.choice(["Saturday plans", "School trip form", "Boiler service", "Dinner on Friday"])
        body = f"Hi {other}, quick note about {subject.lower()}. Can we talk tonight? {who}"
        ask = f"Draft an e-mail from {who} to {other} about {subject.lower()} asking to talk tonight."
        return (ask, _call("email_draft", to=[f"{other.lower()}@example.org"], subject=subject, body=body),
                {"draft_id": f"dr_{rng.randrange(1000):03d}"}, f"I drafted the e-mail to {other} about {subject.lower()}; it is ready to send.")
    n = rng.randint(0, 4)
    ask = f"Does {who} have unread e-mail?"
    msgs = [{"message_id": f"m_{rng.randrange(10**4)}", "from": f"{rng.choice(MEMBERS).lower()}@example.org"} for _ in range(n)]
    reply = f"{who} has no unread e-mail." if n == 0 else f"{who} has {n} unread e-mail{'s' if n > 1 else ''}."
    return ask, _call("email_list", folder="inbox", unread_only=True), {"messages": msgs}, reply


def _todo(rng):
    who, chore, due = rng.choice(MEMBERS), rng.choice(CHORES), _day(rng)
    if rng.random() < 0.7:
        ask = f"Add a to-do for {who}: {chore} by {due:%A %d %B}."
        return (ask, _call("todo_add", title=chore, due=due.isoformat(), assignee=who),
                {"todo_id": f"td_{rng.randrange(1000):03d}", "status": "open"}, f"Added '{chore}' for {who}, due {due:%A %d %B}.")
    tid = f"td_{rng.randrange(1000):03d}"
    return (f"Mark to-do {tid} ({chore}) as done.", _call("todo_complete", todo_id=tid),
            {"todo_id": tid, "status": "done"}, f"Marked '{chore}' as done.")


def _shopping(rng):
    item, qty = rng.choice(ITEMS), rng.randint(1, 4)
    if rng.random() < 0.7:
        ask = f"We need {qty} {item}, put it on the shopping list." if qty > 1 else f"Add {item} to the shopping list."
        return (ask, _call("shopping_add", item=item, quantity=qty), {"item": item, "quantity": qty, "status": "added"},
                f"Added {qty} x {item} to the shopping list.")
    return (f"Take {item} off the shopping list.", _call("shopping_remove", item=item),
            {"item": item, "status": "removed"}, f"Removed {item} from the shopping list.")


def _timer(rng):
    if rng.random() < 0.5:
        minutes = rng.choice([3, 5, 8, 10, 12, 15, 20, 25, 40])
        label = rng.choice(["pasta", "eggs", "tea", "oven", "laundry", "homework break"])
        return (f"Set a {minutes} minute timer for the {label}.", _call("timer_set", duration_seconds=minutes * 60, label=label),
                {"timer_id": f"tm_{rng.randrange(100):02d}", "status": "running"}, f"Timer set: {label}, {minutes} minutes.")
    at, chore = _at(rng), rng.choice(CHORES)
    return (f"Remind me to {chore} on {at:%A} at {at:%H:%M}.", _call("reminder_set", text=chore, at=at.isoformat(timespec="minutes")),
            {"reminder_id": f"rm_{rng.randrange(100):02d}"}, f"I'll remind you to {chore} on {at:%A %d %B} at {at:%H:%M}.")


def _recipe(rng):
    dish = rng.choice(DISHES)
    hits = [{"title": f"{dish.title()} ({v})", "minutes": rng.choice([20, 30, 45, 60])}
            for v in rng.sample(["quick", "classic", "family size", "budget"], rng.randint(1, 2))]
    return (f"Find me a recipe for {dish}.", _call("recipe_lookup", query=dish, max_results=3), {"recipes": hits},
            f"I found {len(hits)}: " + ", ".join(f"{h['title']} in {h['minutes']} minutes" for h in hits) + ".")


def _fitness(rng):
    who = rng.choice(MEMBERS)
    if rng.random() < 0.6:
        sport, minutes, d = rng.choice(SPORTS), rng.choice([20, 30, 45, 60, 75]), _day(rng)
        return (f"Log {minutes} minutes of {sport} for {who} on {d:%d %B}.",
                _call("fitness_log", activity=sport, duration_minutes=minutes, date=d.isoformat()),
                {"status": "logged"}, f"Logged {minutes} minutes of {sport} for {who}.")
    goal, days = rng.choice(GOALS), rng.randint(2, 5)
    return (f"Make {who} a plan to {goal}, {days} days a week.", _call("fitness_plan", goal=goal, days_per_week=days),
            {"plan_id": f"pl_{rng.randrange(100):02d}", "sessions": days}, f"Here is a {days}-day weekly plan for {who} to {goal}.")


BUILDERS = {"calendar": _calendar, "email": _email, "todo": _todo, "shopping": _shopping,
            "timer": _timer, "recipe": _recipe, "fitness": _fitness}


def sample_rows(n: int, seed: int = 0) -> list[dict]:
    """`n` rows, task types in turn (balanced), each with its family's tools plus one distractor family."""
    rng = random.Random(seed)
    families = list(BUILDERS)
    rows = []
    for i in range(n):
        family = families[i % len(families)]
        ask, call, result, reply = BUILDERS[family](rng)
        distractor = rng.choice([f for f in families if f != family])
        tools = [TOOLS[name] for name in FAMILIES[family] + FAMILIES[distractor][:1]]
        rows.append({
            "task_type": family,
            "tools": tools,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": ask},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "name": call["function"]["name"], "content": json.dumps(result)},
                {"role": "assistant", "content": reply},
            ],
        })
    return rows
