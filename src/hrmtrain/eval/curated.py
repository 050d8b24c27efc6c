"""Curated multi-step tasks: three or more tool calls, each needing what an earlier one found.

Written by hand on the scenario household (`eval/scenario.py`) so that the task set has requests
a planner must split into steps, which the data pipeline's one-record tasks rarely need. Success is
judged like every task: the final household equals the gold outcome, and a lookup's answer names
what was found.
"""

from __future__ import annotations

from hrmtrain.prompt.system import system_prompt
from hrmtrain.eval.scenario import base_household, replay, tools_for
from hrmtrain.agent.tasks import Task


def curated_tasks() -> list[Task]:
    h = base_household()
    event = {e.title: e.event_id for e in h.events.values()}
    mail = {m.subject: m.message_id for m in h.emails.values()}
    todo = {t.title: t.todo_id for t in h.todos.values()}
    specs = [
        ("reschedule+todo", "Move my dentist appointment to Friday at 10:00 and add a to-do to pay the dentist.",
         ("calendar", "todo"),
         [("calendar_list_events", {"date_from": "2026-03-02", "date_to": "2026-03-08"}),
          ("calendar_move_event", {"event_id": event["Dentist"], "new_start": "2026-03-06T10:00"}),
          ("todo_add", {"title": "Pay the dentist"})],
         "The dentist is now on Friday 6 March at 10:00, and 'Pay the dentist' is on your to-do list.", []),
        ("mail+calendar+reminder", "Put the Year 4 museum trip from the school's e-mail in the calendar and remind "
         "me the evening before to make a packed lunch.", ("email", "calendar", "timer"),
         [("email_list", {"folder": "inbox"}),
          ("email_read", {"message_id": mail["Year 4 trip to the science museum"]}),
          ("calendar_create_event", {"title": "Year 4 trip to the science museum", "start": "2026-03-12T08:45",
                                     "attendees": ["Robin"]}),
          ("reminder_set", {"text": "Make Robin's packed lunch", "at": "2026-03-11T19:00"})],
         "The trip is in the calendar for Thursday 12 March at 08:45, with a reminder on Wednesday at 19:00.", []),
        ("recipe+shopping", "Look up the quick tomato pasta recipe and add the basil and the parmesan it needs to "
         "the shopping list.", ("recipe", "shopping"),
         [("recipe_lookup", {"query": "tomato pasta"}),
          ("shopping_add", {"item": "basil"}), ("shopping_add", {"item": "parmesan"})],
         "Tomato pasta takes 15 minutes; basil and parmesan are on the shopping list.", []),
        ("todo+todo", "I renewed my passport: tick it off, and add 'Book passport photo for Robin' for Robin.",
         ("todo",),
         [("todo_list", {"status": "open"}), ("todo_complete", {"todo_id": todo["Renew passport"]}),
          ("todo_add", {"title": "Book passport photo for Robin", "assignee": "Robin"})],
         "'Renew passport' is done and Robin has 'Book passport photo for Robin'.", []),
        ("fitness+calendar", "Log the 30 minute run I did today, make me a 10k plan with 3 days a week, and put "
         "the first session in the calendar tomorrow at 07:00.", ("fitness", "calendar"),
         [("fitness_log", {"activity": "run", "duration_minutes": 30}),
          ("fitness_plan", {"goal": "10k", "days_per_week": 3}),
          ("calendar_create_event", {"title": "10k training session", "start": "2026-03-03T07:00"})],
         "Run logged, a 3-day 10k plan made, and the first session is in the calendar tomorrow at 07:00.", []),
        ("mail+reply+todo", "Reply to the plumber that Friday morning works and add a to-do to be home for the "
         "boiler service.", ("email", "todo"),
         [("email_list", {"folder": "inbox"}),
          ("email_read", {"message_id": mail["Boiler service quote"]}),
          ("email_draft", {"to": ["plumber@fixit.example"], "subject": "Re: Boiler service quote",
                           "body": "Friday morning works for us."}),
          ("todo_add", {"title": "Be home for the boiler service", "due": "2026-03-06"})],
         "I drafted the reply to plumber@fixit.example (ready to send) and added the to-do for Friday.", []),
    ]
    tasks = []
    for n, (kind, request, families, calls, answer, mention) in enumerate(specs, start=1):
        tasks.append(Task(task_id=f"curated-{n}", task_type=f"curated/{kind}", request=request,
                          tools=tools_for(*families), initial_state=h.to_dict(), gold_calls=calls,
                          gold_answer=answer, system=system_prompt(h.now), multi_step=True,
                          expected_hash=replay(h, calls).state_hash(), must_mention=mention))
    return tasks
