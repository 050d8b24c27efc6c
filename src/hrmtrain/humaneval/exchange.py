"""Ratings out of a study (CSV, JSON Lines) and to and from Label Studio's JSON, for teams that rate there.

Label Studio: `to_label_studio` writes one task per item (`data`: the request, the tool calls as text,
the answer, and `item_id`; the system stays hidden) with each rater's latest rating as an annotation,
and `LABEL_CONFIG` is the labelling interface to create the project with (a 1-5 Rating named
`helpfulness`, Choices `safety` pass/fail and `severity`, a TextArea `note`). `from_label_studio` reads
Label Studio's JSON export back: every annotation of a known item becomes a rating (appended; the
annotator, `completed_by`, becomes a rater of the study if it is not one yet).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.humaneval.store import Study, StudyError, validate
from hrmtrain.jsonl import write_json_lines

FIELDS = ("rating_id", "rater", "item", "system", "task_id", "task_type", "kind", "helpfulness", "safety_pass",
          "severity", "note", "created")

LABEL_CONFIG = """<View>
  <Header value="Request"/>
  <Text name="request" value="$request"/>
  <Header value="Tool calls"/>
  <Text name="calls" value="$calls"/>
  <Header value="Answer"/>
  <Text name="answer" value="$answer"/>
  <Rating name="helpfulness" toName="answer" maxRating="5" required="true"/>
  <Choices name="safety" toName="answer" choice="single" required="true">
    <Choice value="pass"/><Choice value="fail"/>
  </Choices>
  <Choices name="severity" toName="answer" choice="single">
    <Choice value="none"/><Choice value="minor"/><Choice value="major"/><Choice value="critical"/>
  </Choices>
  <TextArea name="note" toName="answer"/>
</View>
"""


def rows(study: Study, all_rows: bool = False) -> list[dict]:
    items = {i.id: i for i in study.items()}
    out = []
    for r in study.ratings(latest=not all_rows):
        item = items[r.item]
        out.append({"rating_id": r.id, "rater": r.rater, "item": r.item, "system": item.system,
                    "task_id": item.task_id, "task_type": item.task_type, "kind": item.kind,
                    "helpfulness": r.helpfulness, "safety_pass": r.safety_pass, "severity": r.severity,
                    "note": r.note, "created": r.created})
    return out


def to_csv(study: Study, path: Path, all_rows: bool = False) -> int:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    data = rows(study, all_rows)
    writer.writerows(data)
    atomic.write_text(path, buf.getvalue())
    return len(data)


def to_jsonl(study: Study, path: Path, all_rows: bool = False) -> int:
    data = rows(study, all_rows)
    write_json_lines(path, data, ensure_ascii=False)
    return len(data)


def _calls_text(calls: list[dict]) -> str:
    return "\n".join(f"{c['name']}({json.dumps(c.get('arguments'), ensure_ascii=False)})"
                     + (f"  -> error: {c['error']}" if c.get("error") else "") for c in calls) or "(no tool call)"


def to_label_studio(study: Study, path: Path) -> int:
    by_item: dict[str, list] = {}
    for r in study.ratings():
        by_item.setdefault(r.item, []).append(r)
    tasks = []
    for n, item in enumerate(study.items(), start=1):
        annotations = [{
            "completed_by": {"email": r.rater}, "created_at": r.created,
            "result": [
                {"from_name": "helpfulness", "to_name": "answer", "type": "rating", "value": {"rating": r.helpfulness}},
                {"from_name": "safety", "to_name": "answer", "type": "choices",
                 "value": {"choices": ["pass" if r.safety_pass else "fail"]}},
                {"from_name": "severity", "to_name": "answer", "type": "choices", "value": {"choices": [r.severity]}},
                *([{"from_name": "note", "to_name": "answer", "type": "textarea", "value": {"text": [r.note]}}]
                  if r.note else []),
            ]} for r in by_item.get(item.id, [])]
        tasks.append({"id": n, "data": {"item_id": item.id, "request": item.payload["request"],
                                        "calls": _calls_text(item.payload["calls"]), "answer": item.payload["answer"]},
                      "annotations": annotations})
    atomic.write_text(path, json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    return len(tasks)


def _annotator(annotation: dict) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("username") or who.get("id")
    if who in (None, ""):
        raise StudyError("a Label Studio annotation without completed_by: cannot tell whose rating it is")
    return f"ls-{who}" if isinstance(who, int) else str(who)


def from_label_studio(study: Study, path: Path) -> int:
    """Append the ratings of a Label Studio JSON export; returns how many. A task for an unknown item or
    an annotation without the helpfulness and safety answers is refused with its position."""
    try:
        tasks = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StudyError(f"{path}: not a Label Studio JSON export ({exc})") from exc
    if not isinstance(tasks, list):
        raise StudyError(f"{path}: expected a list of tasks (Label Studio's JSON export)")
    known = {i.id for i in study.items()}
    pending = []
    for t, task in enumerate(tasks):
        item = (task.get("data") or {}).get("item_id")
        if item not in known:
            raise StudyError(f"{path}, task {t}: item_id {item!r} is not in {study.path}")
        for a, annotation in enumerate(task.get("annotations") or []):
            if annotation.get("was_cancelled"):
                continue
            values = {r["from_name"]: r.get("value", {}) for r in annotation.get("result", [])}
            try:
                helpfulness = values["helpfulness"]["rating"]
                passed = values["safety"]["choices"][0]
            except (KeyError, IndexError, TypeError):
                raise StudyError(f"{path}, task {t}, annotation {a}: needs a helpfulness rating and a safety choice") from None
            severity = (values.get("severity", {}).get("choices") or ["none" if passed == "pass" else "minor"])[0]
            note = " ".join(values.get("note", {}).get("text") or [])
            try:
                validate(helpfulness, passed, severity, note)
            except StudyError as exc:
                raise StudyError(f"{path}, task {t}, annotation {a}: {exc}") from None
            pending.append((_annotator(annotation), item, helpfulness, passed, severity, note))
    return study.import_ratings(pending)
