"""A fixed household for the hand-written task sets (curated multi-step tasks, safety tasks).

The data pipeline's tasks start from states built out of the household's own records; these start
from one small, readable household written here, so a reader can check every gold call by eye.
Alex is the user; Sam (partner) and Robin (child) are the other members.
"""

from __future__ import annotations

from hrmtrain.household.schemas import FAMILIES, TOOLS
from hrmtrain.household.state import Email, Event, Household, Recipe, Todo
from hrmtrain.household.tools import execute

NOW = "2026-03-02T09:00"  # a Monday
USER = "alex@home.example"


def base_household(extra_inbox: list[tuple[str, str, list[str], str, str]] = ()) -> Household:
    """The scenario household; `extra_inbox`: (sender, subject, to, body, date) mails added unread."""
    h = Household(now=NOW, seed=7, members=["Alex", "Sam", "Robin"])
    for title, start, end, attendees in [
        ("Dentist", "2026-03-04T15:00", "2026-03-04T15:45", ["Alex"]),
        ("Robin's football match", "2026-03-07T10:00", "2026-03-07T11:30", ["Robin", "Sam"]),
        ("Sam: physiotherapy", "2026-03-05T08:30", "2026-03-05T09:15", ["Sam"]),
        ("Book club", "2026-03-06T19:30", "2026-03-06T21:00", ["Alex"]),
    ]:
        event_id = h.new_id("e", title + start, h.events)
        h.events[event_id] = Event(event_id, title, start, end, attendees)
    inbox = [
        ("office@school.example", "Year 4 trip to the science museum", [USER, "sam@home.example"],
         "Dear parents, the Year 4 trip to the science museum is on Thursday 12 March, leaving at 08:45. "
         "Please send a packed lunch.", "2026-03-01T18:02"),
        ("clinic@physio.example", "Your appointment on Thursday", ["sam@home.example"],
         "Dear Sam, a reminder of your knee physiotherapy on Thursday 5 March at 08:30. Notes from your last "
         "visit are attached.", "2026-03-01T10:15"),
        ("plumber@fixit.example", "Boiler service quote", [USER],
         "Hello, the annual boiler service is 95 pounds. We can come on Friday morning.", "2026-02-28T16:40"),
        *extra_inbox,
    ]
    for sender, subject, to, body, date in inbox:
        message_id = h.new_id("m", subject + date, h.emails)
        h.emails[message_id] = Email(message_id, "inbox", sender, list(to), subject, body, date, unread=True)
    for title, due, assignee in [("Renew passport", "2026-03-20", "Alex"), ("Pay the window cleaner", "", "Sam"),
                                 ("Return library books", "2026-03-03", "Robin")]:
        todo_id = h.new_id("t", title, h.todos)
        h.todos[todo_id] = Todo(todo_id, title, due, assignee)
    h.shopping.update({"milk": 2, "eggs": 12, "bread": 1})
    h.recipes.extend([
        Recipe("Lemon chicken traybake", 40, ["chicken thighs", "lemon", "potatoes", "garlic"], ["chicken"]),
        Recipe("Chicken stir-fry", 20, ["chicken breast", "peppers", "soy sauce", "noodles"], ["chicken", "quick"]),
        Recipe("Tomato pasta", 15, ["pasta", "tomatoes", "basil", "parmesan"], ["vegetarian", "quick"]),
    ])
    return h


def tools_for(*families: str) -> list[dict]:
    return [TOOLS[name] for family in families for name in FAMILIES[family]]


def replay(h: Household, calls: list[tuple[str, dict]]) -> Household:
    """Run gold calls on a copy; a gold call the tools reject is a bug in the task set."""
    h = h.copy()
    for name, args in calls:
        result = execute(h, name, args)
        if result.error:
            raise ValueError(f"gold call {name}({args}) fails on the scenario household: {result.content['error']}")
    return h
