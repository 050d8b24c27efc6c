"""The household tools: schema-validated calls on a deterministic, hashable state; errors as tool output."""

from __future__ import annotations

import pytest

from hrmtrain.household.schemas import TOOLS
from hrmtrain.household.state import Email, Household, Recipe
from hrmtrain.household.tools import IMPLEMENTATIONS, execute


def home(seed: int = 0) -> Household:
    return Household(now="2026-03-02T09:00", seed=seed, members=["Alex", "Sam"],
                     recipes=[Recipe("Lentil dahl", 40, ["lentils", "onion"], ["vegetarian"]),
                              Recipe("Pancakes", 20, ["flour", "eggs", "milk"], ["breakfast"])])


def test_every_schema_has_an_implementation():
    assert set(IMPLEMENTATIONS) == set(TOOLS)


def test_same_calls_give_the_same_state_hash_and_ids():
    calls = [("calendar_create_event", {"title": "dentist", "start": "2026-03-03T10:00", "attendees": ["Sam"]}),
             ("shopping_add", {"item": "Oat Milk", "quantity": 2}),
             ("todo_add", {"title": "bins", "due": "2026-03-04", "assignee": "Alex"})]
    a, b = home(), home()
    ra = [execute(a, n, args) for n, args in calls]
    rb = [execute(b, n, args) for n, args in calls]
    assert [r.content for r in ra] == [r.content for r in rb]
    assert a.state_hash() == b.state_hash()
    # independent creations in the other order: the same final state
    c = home()
    for n, args in reversed(calls):
        execute(c, n, args)
    assert c.state_hash() == a.state_hash()
    # another seed: other ids, so another state
    d = home(seed=1)
    for n, args in calls:
        execute(d, n, args)
    assert d.state_hash() != a.state_hash()


def test_state_round_trips_through_json():
    h = home()
    execute(h, "calendar_create_event", {"title": "yoga", "start": "2026-03-05T18:00", "end": "2026-03-05T19:00"})
    execute(h, "email_draft", {"to": ["sam@example.org"], "subject": "hi", "body": "see you"})
    assert Household.from_dict(h.to_dict()).state_hash() == h.state_hash()


def test_calendar_create_list_move_delete():
    h = home()
    ev = execute(h, "calendar_create_event", {"title": "dentist", "start": "2026-03-03T10:00",
                                              "end": "2026-03-03T10:45"}).content["event_id"]
    listed = execute(h, "calendar_list_events", {"date_from": "2026-03-03", "date_to": "2026-03-03"}).content
    assert [e["event_id"] for e in listed["events"]] == [ev]
    moved = execute(h, "calendar_move_event", {"event_id": ev, "new_start": "2026-03-04T15:00"}).content
    assert (moved["start"], moved["end"]) == ("2026-03-04T15:00", "2026-03-04T15:45")  # duration kept
    assert execute(h, "calendar_list_events", {"date_from": "2026-03-03", "date_to": "2026-03-03"}).content == {"events": []}
    assert execute(h, "calendar_delete_event", {"event_id": ev}).content["status"] == "deleted"
    assert h.events == {}


def test_email_draft_send_and_read_marks_read():
    h = home()

    h.emails["m1"] = Email("m1", "inbox", "sam@example.org", ["alex@example.org"], "Boiler", "Engineer at 10", "2026-03-01T08:00", True)
    assert [m["message_id"] for m in execute(h, "email_list", {"unread_only": True}).content["messages"]] == ["m1"]
    assert execute(h, "email_read", {"message_id": "m1"}).content["body"] == "Engineer at 10"
    assert execute(h, "email_list", {"unread_only": True}).content["messages"] == []
    draft = execute(h, "email_draft", {"to": ["sam@example.org"], "subject": "Re: Boiler", "body": "ok"}).content["draft_id"]
    assert execute(h, "email_send", {"draft_id": draft}).content["status"] == "sent"
    assert h.emails[draft].folder == "sent"
    assert execute(h, "email_send", {"draft_id": draft}).error  # already sent


def test_todos_shopping_timers_recipes_fitness():
    h = home()
    td = execute(h, "todo_add", {"title": "water plants", "assignee": "Sam"}).content["todo_id"]
    execute(h, "todo_complete", {"todo_id": td})
    assert execute(h, "todo_list", {"status": "done"}).content["todos"][0]["todo_id"] == td
    execute(h, "shopping_add", {"item": "eggs"})
    execute(h, "shopping_add", {"item": " EGGS ", "quantity": 2})
    assert execute(h, "shopping_list", {}).content == {"items": [{"item": "eggs", "quantity": 3}]}
    assert execute(h, "timer_set", {"duration_seconds": 600, "label": "pasta"}).content["ends"] == "2026-03-02T09:10"
    assert execute(h, "recipe_lookup", {"query": "lentils"}).content["recipes"][0]["title"] == "Lentil dahl"
    assert execute(h, "fitness_plan", {"goal": "run a 10k", "days_per_week": 3}).content["sessions"] == \
        ["Monday", "Wednesday", "Friday"]
    assert execute(h, "fitness_log", {"activity": "running", "duration_minutes": 30}).content["date"] == "2026-03-02"


@pytest.mark.parametrize("name, args, message", [
    ("calendar_fly", {}, "unknown tool"),
    ("calendar_create_event", {"start": "2026-03-03T10:00"}, "'title' is a required property"),
    ("calendar_create_event", {"title": "x", "start": "tomorrow"}, "not an ISO 8601 date-time"),
    ("calendar_create_event", {"title": "x", "start": "2026-03-03T10:00", "colour": "red"}, "colour"),
    ("shopping_add", {"item": "eggs", "quantity": 0}, "quantity"),
    ("shopping_add", {"item": "eggs", "quantity": "two"}, "quantity"),
    ("calendar_move_event", {"event_id": "ev_nope", "new_start": "2026-03-03T10:00"}, "no event with id"),
    ("todo_add", {"title": "x", "assignee": "Jordan"}, "not a household member"),
    ("reminder_set", {"text": "x", "at": "2026-03-01T09:00"}, "in the past"),
    ("shopping_add", '{"item": "eggs"', "not valid JSON"),
])
def test_bad_calls_are_error_results_not_exceptions(name, args, message):
    h = home()
    before = h.state_hash()
    result = execute(h, name, args)
    assert result.error and message in result.content["error"]
    assert h.state_hash() == before  # a failed call changes nothing
