"""Readers of household files: the sample household loads; broken and real-world files are reported, not fatal."""

from __future__ import annotations

import json

import pytest

from helpers import ASSETS
from hrmtrain.data.sources.ics import read_ics
from hrmtrain.data.sources.ingest import ingest, read_file
from hrmtrain.data.sources.lists import read_list
from hrmtrain.data.sources.mail import read_mail
from hrmtrain.data.sources.public import read_public
from hrmtrain.errors import DataError
from hrmtrain.privacy.directory import Directory
from hrmtrain.sample.household import generate

REAL = ASSETS / "real"  # copied from shared/fixtures/real (SOURCES.md)


@pytest.fixture(scope="module")
def household(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("hh") / "household", seed=0)


@pytest.fixture(scope="module")
def directory(household):
    return Directory.load(household.root / "household.json")


def test_sample_household_is_deterministic(tmp_path, household):
    again = generate(tmp_path / "again", seed=0)
    for f in sorted(p for p in household.root.rglob("*") if p.is_file()):
        assert f.read_bytes() == (tmp_path / "again" / f.relative_to(household.root)).read_bytes(), f
    assert again.pii == household.pii


def test_sample_mbox_members_and_charset(household, directory):
    loaded = read_mail(household.root / "mail" / "sam.mbox", directory)
    assert len(loaded.records) == 30 and not loaded.skipped
    family = [r for r in loaded.records if r.fields["sender"] in directory.members[0].emails]
    assert family and all(r.members == ["Alex", "Sam"] for r in family)  # mail between members concerns both
    assert any(r.members == ["Sam"] for r in loaded.records)
    latin1 = next(r for r in loaded.records if r.fields["body"].startswith("Hé"))
    assert latin1.fields["subject"] and "@" in latin1.fields["sender"]
    assert set(latin1.fields) == {"sender", "sender_name", "subject", "body", "date"}  # minimised


def test_unknown_charset_is_a_warning(tmp_path, directory):
    eml = tmp_path / "odd.eml"
    eml.write_bytes(b"From: A <a@example.org>\nTo: b@example.org\nSubject: hi\nDate: Mon, 02 Mar 2026 09:00:00 +0000\n"
                    b"Content-Type: text/plain; charset=x-klingon\n\nqapla\n")
    loaded = read_mail(eml, directory)
    assert len(loaded.records) == 1 and loaded.records[0].fields["body"] == "qapla"
    assert "unknown charset" in loaded.warnings[0].reason


def test_binary_eml_and_empty_files_are_skipped_with_reason(tmp_path, directory):
    (tmp_path / "photo.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "notes.mbox").write_text("just some notes\n")
    reasons = {p.name: read_mail(p, directory).skipped[0].reason for p in tmp_path.iterdir()}
    assert reasons == {"photo.eml": "binary content (NUL bytes), not an e-mail", "empty.eml": "empty file",
                       "notes.mbox": "not an mbox file (does not start with a 'From ' line)"}


def test_lists_and_a_csv_with_a_missing_column(tmp_path, household, directory):
    todos = read_list(household.root / "lists" / "todo.json", directory)
    assert len(todos.records) == 40 and all(r.members == ["Alex", "Sam"] for r in todos.records)
    bad = tmp_path / "shopping.csv"
    bad.write_text("thing,quantity\nmilk,2\n")
    skipped = read_list(bad, directory).skipped[0]
    assert skipped.source == str(bad) and "missing column 'item'" in skipped.reason and "'thing'" in skipped.reason


def test_public_datasets_need_no_consent(household):
    recipes = read_public(household.root / "public" / "recipes.jsonl")
    assert len(recipes.records) == 20 and not any(r.sensitive for r in recipes.records)
    assert recipes.records[0].fields["ingredients"]


def test_directory_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="no household.json"):
        Directory.load(tmp_path / "household.json")
    (tmp_path / "household.json").write_text(json.dumps({"members": [{"full_name": "x"}]}))
    with pytest.raises(DataError, match=str(tmp_path / "household.json")):
        Directory.load(tmp_path / "household.json")


def test_ingest_reports_every_file(household, directory):
    loaded, outcome = ingest(household.root, directory)
    assert set(outcome) == {"calendar/alex.ics", "calendar/sam.ics", "mail/alex.mbox", "mail/sam.mbox",
                            "lists/todo.json", "lists/shopping.csv", "public/recipes.jsonl",
                            "public/fitness.jsonl", "public/howto.jsonl"}
    assert all(v.endswith("records") or "records," in v for v in outcome.values()), outcome
    kinds = {r.kind for r in loaded.records}
    assert kinds == {"event", "email", "todo", "shopping", "recipe", "fitness", "howto"}


def test_real_world_mails_load_or_are_reported(directory):
    """CPython's test mails: every one is a message (multipart, odd charsets, a mailbox), so each gives
    exactly one record; what was odd about it is a warning that names the file."""
    warned = {}
    for path in sorted((REAL / "email").iterdir()):
        loaded = read_file(path, path.parent, directory)
        assert len(loaded.records) == 1 and not loaded.skipped, (path.name, loaded.skipped)
        assert all(w.source == str(path) and w.reason for w in loaded.warnings)
        warned[path.name] = len(loaded.warnings)
    assert len(warned) == 14
    assert {n for n, w in warned.items() if w} == {"mailbox_01.mbox", "msg_15.txt", "msg_35.txt", "msg_47.txt",
                                                     "msg_48.txt"}


def test_sample_calendar_expands_recurrences_in_household_time(household, directory):
    loaded = read_ics(household.root / "calendar" / "alex.ics", directory)
    assert not loaded.skipped and not loaded.warnings
    by_uid = {}
    for r in loaded.records:
        by_uid.setdefault(r.fields["uid"], []).append(r)
    weekly = [rs for rs in by_uid.values() if len(rs) > 1]
    assert weekly, "the RRULE series were not expanded"
    for rs in weekly:  # EXDATE: the second week is missing
        starts = sorted(r.fields["start"] for r in rs)
        assert len({s[11:] for s in starts}) == 1  # same local time every week (Europe/London)
    shared = [r for r in loaded.records if len(r.fields["attendees"]) == 2]
    assert shared and all(r.members == ["Alex", "Sam"] and r.fields["attendees"] == ["Alex", "Sam"] for r in shared)
    assert all("description" not in r.fields for r in loaded.records)  # minimised


def test_truncated_ics_is_skipped_with_reason(tmp_path, household, directory):
    data = (household.root / "calendar" / "alex.ics").read_bytes()
    cut = tmp_path / "cut.ics"
    cut.write_bytes(data[: len(data) // 2])
    loaded = read_ics(cut, directory)
    assert not loaded.records and loaded.skipped[0].source == str(cut)
    assert "missing END:VCALENDAR" in loaded.skipped[0].reason


def test_dense_rrule_is_dropped_not_hanging(tmp_path, directory):
    ics = tmp_path / "dense.ics"
    ics.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:d\nDTSTART:19900101T000000Z\n"
                   "DTEND:19900101T000100Z\nRRULE:FREQ=MINUTELY\nSUMMARY:tick\nEND:VEVENT\nEND:VCALENDAR\n")
    loaded = read_ics(ics, directory)
    assert not loaded.records and "FREQ=MINUTELY" in loaded.skipped[0].reason


def test_real_world_calendars_load_or_are_reported(directory):
    outcomes = {}
    for path in sorted((REAL / "ics").glob("*.ics")):
        loaded = read_ics(path, directory)
        assert bool(loaded.records) != bool(loaded.skipped), path.name  # loaded, or skipped with a reason
        for s in loaded.skipped:
            assert s.source == str(path) and s.reason
        outcomes[path.name] = len(loaded.records)
    assert outcomes["example.ics"] == 3 and outcomes["issue_466_convert_tzid_with_slash.ics"] > 10
    assert outcomes["broken_ical.ics"] == 0 and outcomes["big_bad_calendar.ics"] == 0


def test_mbox_splits_on_separator_lines_only(tmp_path, directory):
    box = tmp_path / "alex.mbox"
    box.write_bytes(b"From MAILER-DAEMON Sun Aug  7 11:40:37 2022\nFrom: Sam <sam@example.org>\nSubject: one\n\n"
                    b"Hello\n\nFrom time to time we meet.\n>From the archive.\n\n"
                    b"From sam@example.org Mon Aug  8 09:00:00 2022\nFrom: Sam <sam@example.org>\nSubject: two\n\nBye\n")
    loaded = read_mail(box, directory)
    assert [r.fields["subject"] for r in loaded.records] == ["one", "two"]
    assert "From time to time we meet.\nFrom the archive." in loaded.records[0].fields["body"]
    assert loaded.records[0].members == ["Alex"]  # the mailbox's owner


def test_headers_that_break_the_stdlib_parser_skip_only_that_message(tmp_path, directory):
    box = tmp_path / "odd.mbox"
    box.write_bytes(b"From x Mon Aug  8 09:00:00 2022\nFrom: a@\nMessage-ID: <\nContent-Type: text/plain;a*\n\nhi\n\n"
                    b"From y Mon Aug  8 09:00:00 2022\nFrom: B <b@example.org>\nSubject: fine\n\nok\n")
    loaded = read_mail(box, directory)
    assert [r.fields["subject"] for r in loaded.records] == ["fine"]
    assert len(loaded.skipped) + len(loaded.warnings) >= 1
