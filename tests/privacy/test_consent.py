"""The consent registry in SQLite: the both-users rule, revocation, bad registries, the CLI."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from helpers import run_cli
from hrmtrain.privacy.consent import ConsentError, ConsentRegistry


@pytest.fixture
def registry(tmp_path):
    reg = ConsentRegistry(tmp_path / "consent.sqlite", create=True)
    reg.add_member("Alex")
    reg.add_member("Sam")
    for c in ("calendar", "email"):
        reg.grant("Alex", c)
    reg.grant("Sam", "calendar")  # Sam has not consented to e-mail
    return reg


def test_a_shared_record_needs_every_member(registry):
    assert registry.decide(["Alex", "Sam"], "calendar").allowed
    d = registry.decide(["Alex", "Sam"], "email")
    assert not d.allowed and d.reason == "no email consent from Sam"
    assert registry.decide(["Alex"], "email").allowed
    assert registry.decide(["Alex", "Sam"], "fitness").reason == "no fitness consent from Alex, Sam"


def test_public_data_needs_no_consent_and_sensitive_data_needs_a_member(registry):
    assert registry.decide([], "documents", sensitive=False).allowed
    assert not registry.decide([], "email").allowed
    d = registry.decide(["Alex", "Jordan"], "calendar")
    assert not d.allowed and "Jordan" in d.reason


def test_revoke_takes_effect_and_history_is_kept(registry):
    assert registry.revoke("Alex", "email") is True
    assert registry.revoke("Alex", "email") is False
    assert not registry.decide(["Alex"], "email").allowed
    rows = [g for g in registry.grants() if g["member"] == "Alex" and g["category"] == "email"]
    assert len(rows) == 1 and rows[0]["revoked_at"] is not None
    assert registry.grant("Alex", "email") is True
    assert registry.decide(["Alex"], "email").allowed
    snap = registry.snapshot()
    assert snap["active"] == {"Alex": ["calendar", "email"], "Sam": ["calendar"]}


def test_what_held_at_an_earlier_time_is_answerable(registry):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    registry.add_member("Riley", at=t0)
    registry.grant("Riley", "todo", at=t0)
    registry.revoke("Riley", "todo", at=t0 + timedelta(days=10))
    assert registry.active("Riley", "todo", at=t0 + timedelta(days=5))
    assert not registry.active("Riley", "todo", at=t0 + timedelta(days=10))
    assert not registry.active("Riley", "todo", at=t0 - timedelta(seconds=1))
    assert registry.snapshot(at=t0 + timedelta(days=5))["active"]["Riley"] == ["todo"]


def test_grant_in_the_future_is_not_active_now(registry):
    later = datetime.now(timezone.utc) + timedelta(days=1)
    registry.grant("Sam", "fitness", at=later)
    assert not registry.active("Sam", "fitness")
    assert registry.active("Sam", "fitness", at=later + timedelta(seconds=1))


def test_unknown_member_or_category_is_refused(registry):
    with pytest.raises(ConsentError, match="unknown member 'Jordan'"):
        registry.grant("Jordan", "email")
    with pytest.raises(ConsentError, match="unknown data category 'mail'"):
        registry.grant("Sam", "mail")


def test_registry_naming_an_unknown_member_is_named_with_the_file(registry):
    with sqlite3.connect(registry.path) as db:  # written by another tool, past our checks
        db.execute("INSERT INTO grants(member, category, granted_at) VALUES ('Jordan', 'email', '2026-01-01T00:00:00+00:00')")
    with pytest.raises(ConsentError) as exc:
        ConsentRegistry(registry.path)
    assert str(registry.path) in str(exc.value) and "Jordan" in str(exc.value)


def test_not_a_registry(tmp_path):
    bad = tmp_path / "consent.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConsentError, match="not a consent registry"):
        ConsentRegistry(bad)
    with pytest.raises(ConsentError, match="no consent registry here"):
        ConsentRegistry(tmp_path / "missing.sqlite")


def test_cli_grant_revoke_list(tmp_path):
    db = str(tmp_path / "c.sqlite")
    for args in (["add-member", "Alex"], ["add-member", "Sam"], ["grant", "Alex", "email"], ["grant", "Sam", "email"]):
        res = run_cli(["consent", "--db", db, *args], cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    res = run_cli(["consent", "--db", db, "revoke", "Sam", "email"], cwd=tmp_path)
    assert res.returncode == 0 and "revoked" in res.stdout and "lineage affected --member Sam" in res.stdout
    assert ConsentRegistry(db).snapshot()["active"] == {"Alex": ["email"], "Sam": []}
    res = run_cli(["consent", "--db", db, "list"], cwd=tmp_path)
    assert res.returncode == 0 and "Alex" in res.stdout and "Sam" in res.stdout
    res = run_cli(["consent", "--db", db, "grant", "Jordan", "email"], cwd=tmp_path)
    assert res.returncode == 2 and "unknown member 'Jordan'" in res.stderr and db in res.stderr
    res = run_cli(["consent", "--db", db, "grant", "Sam", "mail"], cwd=tmp_path)
    assert res.returncode == 2 and "invalid choice" in res.stderr
