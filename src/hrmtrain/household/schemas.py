"""JSON-schema definitions of the household tools, in the OpenAI/Qwen3 function format.

These are what the L-Module sees in its system prompt (the `tools` column of every SFT row).
"""

from __future__ import annotations


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_S = {"type": "string"}
_DT = {"type": "string", "description": "ISO 8601 date-time, household time zone"}
_DATE = {"type": "string", "description": "ISO 8601 date"}

TOOLS: dict[str, dict] = {
    t["function"]["name"]: t
    for t in [
        _tool("calendar_create_event", "Create a calendar event.",
              {"title": _S, "start": _DT, "end": _DT,
               "attendees": {"type": "array", "items": _S}, "location": _S},
              ["title", "start"]),
        _tool("calendar_list_events", "List events between two dates (inclusive).",
              {"date_from": _DATE, "date_to": _DATE}, ["date_from", "date_to"]),
        _tool("calendar_move_event", "Move an event to a new start time, keeping its duration.",
              {"event_id": _S, "new_start": _DT}, ["event_id", "new_start"]),
        _tool("calendar_delete_event", "Delete an event.", {"event_id": _S}, ["event_id"]),
        _tool("email_list", "List e-mails in a folder.",
              {"folder": {"type": "string", "enum": ["inbox", "sent", "drafts"]},
               "unread_only": {"type": "boolean"}}, []),
        _tool("email_read", "Read one e-mail.", {"message_id": _S}, ["message_id"]),
        _tool("email_draft", "Write a draft e-mail; returns its draft id.",
              {"to": {"type": "array", "items": _S}, "subject": _S, "body": _S},
              ["to", "subject", "body"]),
        _tool("email_send", "Send a draft.", {"draft_id": _S}, ["draft_id"]),
        _tool("todo_add", "Add a to-do item.", {"title": _S, "due": _DATE, "assignee": _S}, ["title"]),
        _tool("todo_list", "List to-do items.",
              {"status": {"type": "string", "enum": ["open", "done", "all"]}}, []),
        _tool("todo_complete", "Mark a to-do item done.", {"todo_id": _S}, ["todo_id"]),
        _tool("shopping_add", "Add an item to the shopping list.",
              {"item": _S, "quantity": {"type": "integer", "minimum": 1}}, ["item"]),
        _tool("shopping_list", "Show the shopping list.", {}, []),
        _tool("shopping_remove", "Remove an item from the shopping list.", {"item": _S}, ["item"]),
        _tool("timer_set", "Start a countdown timer.",
              {"duration_seconds": {"type": "integer", "minimum": 1}, "label": _S},
              ["duration_seconds"]),
        _tool("reminder_set", "Set a reminder at a time.", {"text": _S, "at": _DT}, ["text", "at"]),
        _tool("recipe_lookup", "Search the recipe collection.",
              {"query": _S, "max_results": {"type": "integer", "minimum": 1}}, ["query"]),
        _tool("fitness_log", "Log a workout.",
              {"activity": _S, "duration_minutes": {"type": "integer", "minimum": 1}, "date": _DATE},
              ["activity", "duration_minutes"]),
        _tool("fitness_plan", "Make a weekly training plan.",
              {"goal": _S, "days_per_week": {"type": "integer", "minimum": 1, "maximum": 7}},
              ["goal", "days_per_week"]),
    ]
}

FAMILIES: dict[str, list[str]] = {
    "calendar": ["calendar_create_event", "calendar_list_events", "calendar_move_event", "calendar_delete_event"],
    "email": ["email_list", "email_read", "email_draft", "email_send"],
    "todo": ["todo_add", "todo_list", "todo_complete"],
    "shopping": ["shopping_add", "shopping_list", "shopping_remove"],
    "timer": ["timer_set", "reminder_set"],
    "recipe": ["recipe_lookup"],
    "fitness": ["fitness_log", "fitness_plan"],
}
