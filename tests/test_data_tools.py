"""`hrmtrain data ingest` and `hrmtrain data redact`: the data tools anyone can run on their own files."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"


def test_redact_jsonl_keeps_other_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 7, "text": "Hi Sam, call Dr Patel on 020 7946 0958 or mail sam@example.org."}) + "\n"
                   + json.dumps({"id": 8, "text": "Buy milk."}) + "\n")
    res = run_cli(["data", "redact", str(src), str(tmp_path / "out.jsonl")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [7, 8]
    assert rows[0]["text"] == "Hi <PERSON_1>, call Dr <PERSON_2> on <PHONE_1> or mail <EMAIL_1>."
    assert rows[1]["text"] == "Buy milk."


def test_redact_bad_line_names_file_and_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "ok"}\n{"text": 3}\n')
    res = run_cli(["data", "redact", str(src), str(tmp_path / "out.jsonl")], cwd=tmp_path)
    assert res.returncode == 2 and f"{src}, row 2" in res.stderr and "'text'" in res.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_ingest_reports_each_file(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "todo.csv").write_text("title,due\nwater the plants,2026-03-04\n")
    (folder / "shopping.csv").write_text("thing\nmilk\n")  # missing column
    (folder / "photo.eml").write_bytes(b"\x00\x01binary")
    (folder / "cal.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nDTSTART:20260305T100000Z\n"
                                    "SUMMARY:Dentist with Sam Jones\nEND:VEVENT\nEND:VCALENDAR\n")
    (folder / "notes.docx").write_bytes(b"PK")
    res = run_cli(["data", "ingest", str(folder), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["files"]["todo.csv"] == "1 records" and report["files"]["cal.ics"] == "1 records"
    assert "missing column 'item'" in report["files"]["shopping.csv"]
    assert "binary content" in report["files"]["photo.eml"]
    assert report["files"]["notes.docx"].startswith("skipped: not a household data file")
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    event = next(r for r in records if r["kind"] == "event")
    assert "Sam Jones" not in json.dumps(records) and "<PERSON_1>" in event["fields"]["title"]
    assert "shopping.csv" in res.stdout and "missing column" in res.stdout


def test_ingest_real_world_fixtures(tmp_path):
    if not REAL.is_dir():
        import pytest

        pytest.skip("the shared real-world fixtures are not beside this checkout")
    res = run_cli(["data", "ingest", str(REAL), "--out", str(tmp_path / "out")], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    files = {k: v for k, v in report["files"].items() if k.endswith((".ics", ".mbox", ".txt"))}
    assert len(files) == 64  # 50 calendars, 14 mails: each loaded or skipped with a reason
    assert all(v.startswith("skipped: ") and len(v) > 10 or "records" in v for v in files.values())
