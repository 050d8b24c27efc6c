"""`hrmtrain data ingest` and `hrmtrain data redact`: the data tools anyone can run on their own files."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import ASSETS, run_cli
from hrmtrain.privacy.consent import ConsentRegistry

REAL = ASSETS / "real"  # copied from shared/fixtures/real (SOURCES.md)


def test_redact_jsonl_keeps_other_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 7, "text": "Hi Sam, call Dr Patel on 020 7946 0958 or mail sam@example.org."}) + "\n"
                   + json.dumps({"id": 8, "text": "Buy milk."}) + "\n")
    res = run_cli(["data", "redact", str(src), str(tmp_path / "out.jsonl")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [7, 8]
    assert rows[0]["text"] == "Hi <PERSON_1>, call <PERSON_2> on <PHONE_1> or mail <EMAIL_1>."  # the title goes with the name
    assert rows[1]["text"] == "Buy milk."


def test_redact_bad_line_names_file_and_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "ok"}\n{"text": 3}\n')
    res = run_cli(["data", "redact", str(src), str(tmp_path / "out.jsonl")], cwd=tmp_path)
    assert res.returncode == 2 and f"{src}, row 2" in res.stderr and "'text'" in res.stderr
    assert not (tmp_path / "out.jsonl").exists()


def _household(folder: Path, grants=(("Alex", "calendar"), ("Alex", "todo"), ("Alex", "email"))) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "household.json").write_text(json.dumps({"members": [
        {"name": "Alex", "full_name": "Alex Roberts", "emails": ["alex@example.org"]},
        {"name": "Sam", "full_name": "Sam Roberts", "emails": ["sam@example.org"]}], "timezone": "UTC",
        "now": "2026-03-01T09:00"}))
    registry = ConsentRegistry(folder / "consent.sqlite", create=True)
    for name in ("Alex", "Sam"):
        registry.add_member(name, at="2026-01-01T00:00:00+00:00")
    for member, category in grants:
        registry.grant(member, category, at="2026-01-01T00:00:00+00:00")


def test_ingest_reports_each_file(tmp_path):
    folder = tmp_path / "mixed"
    _household(folder, grants=[(m, c) for m in ("Alex", "Sam") for c in ("calendar", "todo")])
    (folder / "todo.csv").write_text("title,due\nwater the plants,2026-03-04\n")
    (folder / "shopping.csv").write_text("thing\nmilk\n")  # missing column
    (folder / "photo.eml").write_bytes(b"\x00\x01binary")
    (folder / "alex.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nDTSTART:20260305T100000Z\n"
                                    "SUMMARY:Dentist with Sam Jones\nEND:VEVENT\nEND:VCALENDAR\n")
    (folder / "notes.docx").write_bytes(b"PK")
    res = run_cli(["data", "ingest", str(folder), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["files"]["todo.csv"] == "1 records" and report["files"]["alex.ics"] == "1 records"
    assert "missing column 'item'" in report["files"]["shopping.csv"]
    assert "binary content" in report["files"]["photo.eml"]
    assert report["files"]["notes.docx"].startswith("skipped: not a household data file")
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    event = next(r for r in records if r["kind"] == "event")
    assert "Sam Jones" not in json.dumps(records) and "<PERSON_1>" in event["fields"]["title"]
    assert "shopping.csv" in res.stdout and "missing column" in res.stdout
    entry = json.loads((tmp_path / "lineage" / "audit.jsonl").read_text().splitlines()[-1])
    assert entry["stage"] == "ingest" and entry["outputs"][0]["path"] == str((tmp_path / "out").resolve())


SAM_MAIL = ("From: Alex Roberts <alex@example.org>\nTo: alex@example.org\nSubject: results\n"
            "Date: Sun, 01 Mar 2026 09:00:00 +0000\nMessage-ID: <{n}@x>\n{extra}\n\n{body}\n")


def test_ingest_applies_the_consent_gate(tmp_path):
    """Sam has not consented to e-mail: nothing of Sam's reaches records.jsonl, however Sam appears."""
    folder = tmp_path / "hh"
    _household(folder)
    mails = {
        "alex-own.eml": ("", "Lunch on Friday works for me."),
        "sam-direct.eml": ("Cc: sam@example.org", "Sam's blood test is back."),
        "sam-bcc.eml": ("Bcc: sam@example.org", "Date of birth on the form: 1984-02-03."),
        "sam-work.eml": ("Reply-To: Sam Roberts <s.roberts@work.example>", "The oncology appointment is Tuesday."),
        "sam-named.eml": ("", "Remind Sam about the biopsy."),
    }
    for n, (name, (extra, body)) in enumerate(mails.items()):
        (folder / name).write_text(SAM_MAIL.format(n=n, extra=extra, body=body))
    res = run_cli(["data", "ingest", str(folder), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    written = (tmp_path / "out" / "records.jsonl").read_text()
    assert "Lunch on Friday" in written
    for secret in ("blood test", "Date of birth", "oncology", "biopsy"):
        assert secret not in written
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["excluded"] == {"no email consent from Sam": 2,
                                  "member possibly concerned, not consented (email: Sam)": 2}


def test_ingest_without_a_registry_writes_public_records_only(tmp_path):
    folder = tmp_path / "hh"
    (folder / "public").mkdir(parents=True)
    (folder / "public" / "recipes.jsonl").write_text(json.dumps({"title": "Pancakes", "ingredients": ["flour"],
                                                                 "steps": ["mix"], "minutes": 10}) + "\n")
    (folder / "alex.eml").write_text(SAM_MAIL.format(n=1, extra="", body="a private note"))
    res = run_cli(["data", "ingest", str(folder), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "no consent registry" in res.stdout
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    assert kinds and set(kinds) == {"recipe"}


def test_ingest_never_replaces_a_folder_it_did_not_write(tmp_path):
    folder = tmp_path / "hh"
    _household(folder)
    (folder / "alex.eml").write_text(SAM_MAIL.format(n=1, extra="", body="hello"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    for out in (mine, folder, folder / "out", tmp_path):  # a user's folder; the input; inside it; around it
        res = run_cli(["data", "ingest", str(folder), "--out", str(out)], cwd=tmp_path)
        assert res.returncode == 2 and "Traceback" not in res.stderr, (out, res.stderr)
    assert (mine / "thesis.txt").read_text() == "years of work"
    assert (folder / "consent.sqlite").is_file() and (folder / "household.json").is_file()
    assert not (folder / "out").exists()
    # an earlier ingest's output is ours to replace
    out = tmp_path / "out"
    assert run_cli(["data", "ingest", str(folder), "--out", str(out)], cwd=tmp_path).returncode == 0
    assert run_cli(["data", "ingest", str(folder), "--out", str(out)], cwd=tmp_path).returncode == 0


def test_ingest_real_world_fixtures(tmp_path):
    import re

    res = run_cli(["data", "ingest", str(REAL), "--out", str(tmp_path / "out")], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    files = {k: v for k, v in report["files"].items() if k.endswith((".ics", ".mbox", ".txt"))}
    assert len(files) == 64  # 50 calendars, 14 mails: each loaded or skipped with a reason
    outcome = re.compile(r"^(skipped: \S.{8,}|\d+ records(, \d+ warnings)?(, \d+ parts skipped)?)$")
    assert [k for k, v in files.items() if not outcome.match(v)] == []
    loaded = {k for k, v in files.items() if not v.startswith("skipped")}
    assert {k for k in files if k.startswith("email/")} <= loaded  # every mail is a message
    assert files["ics/example.ics"] == "3 records" and files["ics/issue_1081_event_with_rrule.ics"] == "10 records"
    for name, reason in {"big_bad_calendar.ics": "no complete VCALENDAR",
                         "fuzz_testcase_invalid_month.ics": "no BEGIN:VCALENDAR line",
                         "parsing_error_in_UTC_offset.ics": "cannot parse: Offset must be less than 24 hours",
                         "broken_ical.ics": "no usable DTSTART", "minimal.ics": "calendar holds no events"}.items():
        assert files[f"ics/{name}"].startswith("skipped: ") and reason in files[f"ics/{name}"], name
    assert len(loaded) == 14 + 29  # all the mails and the 29 calendars with a usable event