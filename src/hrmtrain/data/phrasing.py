"""How a household member might ask for a task: several templates per task type, slot formats varied.

A model trained on one template per task type can score well on held-out records by recalling the
template. Here every task type has several templates that put the slots in different orders and
words, and the slots themselves come in several forms: dates as "Friday 06 March", "6 March",
"tomorrow", "this Friday", "Tuesday next week" or ISO; times as "19:45", "7:45pm" or "quarter to
eight in the evening"; an end time or a duration ("an hour and a half"). The last `HELD_OUT` templates
of each type are never used for training: the test split carries them beside the trained ones, so
the evaluation can say how the model does on phrasings it never saw.

The choice of template depends only on (seed, record, task type), not on the builders' random
stream, so the same record built with the trained or the held-out templates gets the same slots.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime

HELD_OUT = 2  # templates per task type kept out of training
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve"]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 11 <= n % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def day_text(day: date, now: datetime, rng: random.Random) -> str:
    """A date as a person might say it, relative to the household's `now` where that is natural."""
    forms = [f"{day:%A %d %B}", f"{day.day} {day:%B}", f"{day:%A} the {_ordinal(day.day)}", day.isoformat()]
    delta = (day - now.date()).days
    if delta == 0:
        forms.append("today")
    elif delta == 1:
        forms.append("tomorrow")
    if 1 <= delta and day.isocalendar()[1] == now.date().isocalendar()[1] and day.year == now.year:
        forms.append(f"this {day:%A}")
    elif 1 <= delta <= 13 and day.isocalendar()[1] == now.date().isocalendar()[1] + 1:
        forms.append(f"{day:%A} next week")
    return rng.choice(forms)


def _period(hour: int) -> str:
    return "in the morning" if hour < 12 else "in the afternoon" if hour < 17 else "in the evening"


def time_text(hour: int, minute: int, rng: random.Random) -> str:
    h12 = hour % 12 or 12
    forms = [f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d}{'am' if hour < 12 else 'pm'}"]
    if minute == 0:
        forms += [f"{h12}{'am' if hour < 12 else 'pm'}", f"{NUMBER_WORDS[h12]} o'clock {_period(hour)}"]
    elif minute in (15, 30):
        forms.append(f"{'quarter' if minute == 15 else 'half'} past {NUMBER_WORDS[h12]} {_period(hour)}")
    elif minute == 45:
        nxt = (hour + 1) % 24
        forms.append(f"quarter to {NUMBER_WORDS[nxt % 12 or 12]} {_period(nxt)}")
    return rng.choice(forms)


def duration_text(minutes: int, rng: random.Random) -> str:
    forms = [f"{minutes} minutes"]
    forms += {30: ["half an hour"], 60: ["an hour", "one hour"], 90: ["an hour and a half"],
              120: ["two hours"], 45: ["three quarters of an hour"]}.get(minutes, [])
    return rng.choice(forms)


def count_text(n: int, rng: random.Random) -> str:
    return rng.choice([str(n), NUMBER_WORDS[n]]) if n < len(NUMBER_WORDS) else str(n)


def _join(names: list[str]) -> str:
    return " and ".join(names)


# -- templates: slots -> request text; the last HELD_OUT of each list are held out -----------------------
def _opt(text: str, value) -> str:
    return text.format(value) if value else ""


TEMPLATES: dict[str, list] = {
    "schedule": [
        lambda s: f"Put {s['title']} in the calendar on {s['day']} at {s['time']} until {s['end']}"
                  f"{_opt(' for {}', s['who'])}{_opt(', at {}', s['location'])}.",
        lambda s: f"Add {s['title']} to my calendar: {s['day']}, {s['time']} to {s['end']}"
                  f"{_opt(', with {}', s['who'])}{_opt(', at {}', s['location'])}.",
        lambda s: f"Can you book {s['title']} for {s['day']} from {s['time']} for {s['duration']}"
                  f"{_opt(' for {}', s['who'])}{_opt(' at {}', s['location'])}?",
        lambda s: f"{s['day'][0].upper() + s['day'][1:]} at {s['time']}: {s['title']}, {s['duration']}"
                  f"{_opt(', with {}', s['who'])}{_opt(', at {}', s['location'])}. Please add it.",
        # held out
        lambda s: f"I need {s['title']}{_opt(' with {}', s['who'])} on the calendar, {s['day']}, starting "
                  f"{s['time']} and lasting {s['duration']}{_opt('. The place is {}', s['location'])}.",
        lambda s: f"Schedule {s['title']} {s['day']} {s['time']} - {s['end']}"
                  f"{_opt(', attendees: {}', s['who'])}{_opt(', location: {}', s['location'])}.",
    ],
    "reschedule": [
        lambda s: f"Move {s['title']} on {s['day']} to {s['new_day']} at {s['new_time']}.",
        lambda s: f"Can you push {s['title']} ({s['day']}) to {s['new_day']}, {s['new_time']}?",
        lambda s: f"{s['title'][0].upper() + s['title'][1:]} on {s['day']} has to move to {s['new_time']} on "
                  f"{s['new_day']}.",
        # held out
        lambda s: f"Reschedule {s['day']}'s {s['title']} for {s['new_day']} at {s['new_time']}.",
        lambda s: f"Please shift {s['title']} from {s['day']} to {s['new_time']}, {s['new_day']}.",
    ],
    "query_calendar": [
        lambda s: f"What is on the calendar on {s['day']}?",
        lambda s: f"What have I got on {s['day']}?",
        lambda s: f"Anything in the diary for {s['day']}?",
        # held out
        lambda s: f"Show me the appointments for {s['day']}.",
        lambda s: f"Am I busy on {s['day']}? List what's planned.",
    ],
    "triage_mail": [
        lambda s: "Do I have any unread e-mail?",
        lambda s: "Anything new in my inbox?",
        lambda s: "Check my unread mail.",
        # held out
        lambda s: "Has anything arrived in my mailbox that I haven't read?",
        lambda s: "What unread messages are waiting for me?",
    ],
    "draft_reply": [
        lambda s: f"Reply to the e-mail about '{s['subject']}' saying {s['note']}.",
        lambda s: f"Write back to the '{s['subject']}' mail: {s['note']}.",
        lambda s: f"Answer the message '{s['subject']}' with: {s['note']}.",
        # held out
        lambda s: f"Draft a response to '{s['subject']}' that says {s['note']}.",
        lambda s: f"Get a reply ready for the '{s['subject']}' e-mail, telling them {s['note']}.",
    ],
    "add_todo": [
        lambda s: f"Add a to-do{_opt(' for {}', s['who'])}: {s['title']}{_opt(' by {}', s['due'])}.",
        lambda s: f"Put '{s['title']}' on the to-do list{_opt(' for {}', s['who'])}{_opt(', due {}', s['due'])}.",
        lambda s: f"{s['who'] or 'Someone'} needs to {s['title']}{_opt(' by {}', s['due'])}. Add it to the "
                  f"to-do list{' for them' if s['who'] else ''}.",
        # held out
        lambda s: f"New task{_opt(' for {}', s['who'])}: {s['title']}{_opt(', deadline {}', s['due'])}.",
        lambda s: f"Could you note a to-do to {s['title']}{_opt(' before {}', s['due'])}"
                  f"{_opt(' and give it to {}', s['who'])}?",
    ],
    "complete_todo": [
        lambda s: f"I've done '{s['title']}', tick it off.",
        lambda s: f"Mark '{s['title']}' as done.",
        lambda s: f"'{s['title'][0].upper() + s['title'][1:]}' is finished, please check it off.",
        # held out
        lambda s: f"Cross '{s['title']}' off my to-do list.",
        lambda s: f"Done with '{s['title']}' - close that to-do.",
    ],
    "shopping": [
        lambda s: (f"Put {s['qty']} {s['item']} on the shopping list." if s['n'] > 1
                   else f"Add {s['item']} to the shopping list."),
        lambda s: (f"We need {s['qty']} {s['item']}, add them to the list." if s['n'] > 1
                   else f"We need {s['item']}, add it to the shopping list."),
        lambda s: f"Add {s['n']} x {s['item']} to the shopping.",
        # held out
        lambda s: f"Shopping list: {s['item']}, quantity {s['qty']}, please.",
        lambda s: (f"Can you note down {s['qty']} {s['item']} for the next shop?" if s['n'] > 1
                   else f"Can you note down {s['item']} for the next shop?"),
    ],
    "recipe_question": [
        lambda s: f"What can I cook with {s['ingredient']}?",
        lambda s: f"Any recipes that use {s['ingredient']}?",
        lambda s: f"I have some {s['ingredient']}; what could I make?",
        # held out
        lambda s: f"Find me a recipe with {s['ingredient']}.",
        lambda s: f"Suggest a dish using {s['ingredient']}.",
    ],
    "timer": [
        lambda s: f"Set a {s['minutes']} minute timer for the {s['label']}.",
        lambda s: f"Timer for {s['minutes']} minutes: {s['label']}.",
        lambda s: f"Start a timer for the {s['label']}, {s['duration']}.",
        # held out
        lambda s: f"Give me {s['duration']} on the clock for the {s['label']}.",
        lambda s: f"Count down {s['minutes']} minutes for the {s['label']}, please.",
    ],
    "fitness_plan": [
        lambda s: f"Make me a plan to {s['goal']}, {s['days']} days a week.",
        lambda s: f"I want to {s['goal']}; I can train {s['days']} days a week. Plan it for me.",
        lambda s: f"Build a training plan: goal {s['goal']}, {s['days']} days per week.",
        # held out
        lambda s: f"Help me {s['goal']} with {s['days']} sessions a week.",
        lambda s: f"Can you set up a programme of {s['days']} days a week so I can {s['goal']}?",
    ],
}


def pick(task_type: str, key: str, seed: int, held_out: bool) -> int:
    """The template index for this record and task type: trained templates, or held-out ones."""
    n = len(TEMPLATES[task_type])
    pool = list(range(n - HELD_OUT, n)) if held_out else list(range(n - HELD_OUT))
    digest = hashlib.sha256(f"{seed}|{key}|{task_type}".encode()).digest()
    return pool[int.from_bytes(digest[:4], "big") % len(pool)]


def is_held_out(task_type: str, index: int) -> bool:
    return index >= len(TEMPLATES[task_type]) - HELD_OUT


def request(task_type: str, slots: dict, key: str, seed: int, held_out: bool) -> tuple[str, str]:
    """(request text, phrasing id such as 'schedule#2')."""
    index = pick(task_type, key, seed, held_out)
    return TEMPLATES[task_type][index](slots), f"{task_type}#{index}"


def slot_rng(key: str, task_type: str, seed: int) -> random.Random:
    """The random stream for a request's slot formats: the same for either template pool."""
    return random.Random(f"{seed}|{key}|{task_type}|slots")
