"""`hrmtrain data` end to end on the sample household: splits, no PII in the output, consent, lineage."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import compose, run_cli
from hrmtrain.data.build import MANIFEST_KIND, build
from hrmtrain.data.sources.ics import read_ics
from hrmtrain.lineage import AuditLog
from hrmtrain.privacy.consent import ConsentError, ConsentRegistry
from hrmtrain.privacy.directory import Directory
from hrmtrain.sample.household import generate
from hrmtrain.train.stage import train


def _cfg(tmp: Path, out: str = "sft", extra: list[str] | None = None):
    return compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / out}", f"lineage.dir={tmp / 'lineage'}",
                    *(extra or [])])


def _output_text(folder: Path) -> str:
    import pyarrow.parquet as pq

    parts = []
    for f in sorted(folder.rglob("*")):
        if f.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(f).to_pylist(), ensure_ascii=False))
        elif f.is_file():
            parts.append(f.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    household = generate(tmp / "household", seed=0)
    result = build(_cfg(tmp))
    return tmp, household, result


def test_splits_and_manifest(built):
    tmp, _, result = built
    out = tmp / "sft"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.parquet", "train.parquet", "val.parquet"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == MANIFEST_KIND and manifest["counts"] == result.counts
    assert len(manifest["counts"]["train"]) == 11  # every task type trains
    assert len(set(manifest["counts"]["train"].values())) == 1  # oversampled to balance
    # Sam has not consented to e-mail: Sam's mail and the family mail between the two are excluded
    assert manifest["excluded"] == {"no email consent from every member concerned": 36}


def test_the_test_split_is_large_enough_to_tell_and_half_of_it_is_phrased_anew(built):
    """>= 120 held-out tasks over every task type, from records training never saw; about half asked in
    templates training never used (data.heldout_phrasing_ratio), the rest in trained ones."""
    tmp, _, _ = built
    rows = {name: pq.read_table(tmp / "sft" / f"{name}.parquet").to_pylist() for name in ("train", "val", "test")}
    test = rows["test"]
    assert len(test) >= 120 and {r["task_type"] for r in test} == {r["task_type"] for r in rows["train"]}
    assert not {r["record_id"] for r in test} & {r["record_id"] for r in rows["train"]}
    assert not any(r["held_out_phrasing"] for r in rows["train"] + rows["val"])
    share = sum(r["held_out_phrasing"] for r in test) / len(test)
    assert 0.35 <= share <= 0.65, share
    assert {r["phrasing"] for r in test if r["held_out_phrasing"]}.isdisjoint({r["phrasing"] for r in rows["train"]})


def test_no_seeded_pii_value_in_any_output_file(built):
    tmp, household, _ = built
    text = _output_text(tmp / "sft")
    digit_runs = set(re.findall(r"\d[\d ()+.-]{5,}\d", text))
    digit_runs = {re.sub(r"\D", "", d) for d in digit_runs}
    leaks = []
    for kind, values in household.pii.items():
        for value in values:
            if kind == "PHONE_DIGITS":
                leaks += [value for d in digit_runs if len(value) >= 7 and value in d]
            elif re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text):
                leaks.append(value)
    assert leaks == []
    assert "<PERSON_1>" in text and "<EMAIL_1>" in text  # redacted, not dropped


def test_the_splits_train(built, tmp_path):
    tmp, _, _ = built
    result = train(compose([f"data.path={tmp / 'sft'}", f"run.dir={tmp_path / 'runs'}", "run.name=t",
                            f"lineage.dir={tmp / 'lineage'}", "trainer.max_steps=2", "trainer.eval_every=2",
                            "logging.wandb_mode=disabled"]))
    assert (result.model_dir / "model.safetensors").is_file()
    assert result.summary["data"]["val_sequences"] > 0


def test_revoking_consent_removes_records_and_lineage_names_what_to_retrain(built):
    tmp, _, _ = built
    log = AuditLog(tmp / "lineage")
    first = next(e for e in log.entries() if e["stage"] == "data")
    assert "Sam" in first["members"] and first["consent"]["active"]["Sam"]
    registry = ConsentRegistry(tmp / "household" / "consent.sqlite")
    registry.revoke("Sam", "calendar")
    try:
        second = build(_cfg(tmp, out="sft_after"))
    finally:
        registry.grant("Sam", "calendar")
    before = sum(second.counts["train"].values())
    assert second.excluded["no calendar consent from every member concerned"] > 0
    entry = log.entries()[-1]
    assert entry["consent"]["active"]["Sam"] and "calendar" not in entry["consent"]["active"]["Sam"]
    # the rebuilt data has none of Sam's calendar records: every event example concerns Alex alone

    sam_ids = {r.record_id for r in read_ics(tmp / "household" / "calendar" / "sam.ics",
                                             Directory.load(tmp / "household" / "household.json")).records}
    import pyarrow.parquet as pq

    ids = {r for s in ("train", "val", "test") for r in pq.read_table(tmp / "sft_after" / f"{s}.parquet")["record_id"].to_pylist()}
    assert ids and not ids & sam_ids
    assert before > 0
    affected = [a["path"] for _, a in log.affected("Sam")]
    assert str((tmp / "sft").resolve()) in affected  # the earlier dataset, and what was trained on it
    assert any(p.endswith("/model") for p in affected)
    res = run_cli(["lineage", "--log", str(tmp / "lineage"), "affected", "--member", "Sam"], cwd=tmp)
    assert res.returncode == 0 and str((tmp / "sft").resolve()) in res.stdout


def test_registry_naming_an_unknown_member_stops_before_writing(built, tmp_path):
    tmp, _, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    with sqlite3.connect(tmp_path / "household" / "consent.sqlite") as db:
        db.execute("INSERT INTO members(name, added_at) VALUES ('Jordan', '2026-01-01T00:00:00+00:00')")
    with pytest.raises(ConsentError, match="Jordan") as exc:
        build(_cfg(tmp_path))
    assert str(tmp_path / "household" / "consent.sqlite") in str(exc.value)
    assert not (tmp_path / "sft").exists()


def test_missing_registry_is_named_and_nothing_written(built, tmp_path):
    tmp, _, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    (tmp_path / "household" / "consent.sqlite").unlink()
    res = run_cli(["data", f"data.raw={tmp_path / 'household'}", f"data.path={tmp_path / 'sft'}",
                   f"lineage.dir={tmp_path / 'lineage'}"], cwd=tmp_path)
    assert res.returncode == 2 and "consent.sqlite: no consent registry here" in res.stderr
    assert not (tmp_path / "sft").exists()


def test_a_log_that_does_not_verify_stops_the_build_before_anything_is_written(built, tmp_path):
    tmp, _, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    shutil.copytree(tmp / "lineage", tmp_path / "lineage")
    (tmp_path / "lineage" / "audit.head.json").unlink()
    res = run_cli(["data", f"data.raw={tmp_path / 'household'}", f"data.path={tmp_path / 'sft'}",
                   f"lineage.dir={tmp_path / 'lineage'}"], cwd=tmp_path)
    assert res.returncode == 2 and "does not verify" in res.stderr and "audit.head.json" in res.stderr
    assert not (tmp_path / "sft").exists()


def test_a_failed_log_entry_leaves_the_earlier_dataset_and_no_new_one(built, tmp_path, monkeypatch):
    tmp, _, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    cfg = _cfg(tmp_path)
    build(cfg)
    before = {p.name: p.read_bytes() for p in (tmp_path / "sft").iterdir()}
    entries = len(AuditLog(tmp_path / "lineage").entries())

    def failing(self, *a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(AuditLog, "append", failing)
    with pytest.raises(OSError, match="disk full"):
        build(_cfg(tmp_path, extra=["data.seed=5"]))
    assert {p.name: p.read_bytes() for p in (tmp_path / "sft").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["household", "lineage", "sft"]  # no staging left
    assert len(AuditLog(tmp_path / "lineage").entries()) == entries
    monkeypatch.undo()
    shutil.rmtree(tmp_path / "sft")
    with pytest.raises(OSError, match="disk full"):
        monkeypatch.setattr(AuditLog, "append", failing)
        build(cfg)
    assert not (tmp_path / "sft").exists()


def test_every_record_is_decided_against_the_snapshot_the_log_records(built, tmp_path, monkeypatch):
    """A revoke while the build runs: the recorded snapshot is the one the records were decided by."""
    import hrmtrain.data.build as build_module

    tmp, _, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    registry = ConsentRegistry(tmp_path / "household" / "consent.sqlite")
    redact = build_module.redact_records

    def revoking(records, directory):
        registry.revoke("Alex", "calendar")  # after the decisions, before the entry
        return redact(records, directory)

    monkeypatch.setattr(build_module, "redact_records", revoking)
    result = build(_cfg(tmp_path))
    entry = AuditLog(tmp_path / "lineage").entries()[-1]
    used_calendar = "no calendar consent from every member concerned" not in result.excluded
    assert used_calendar and "calendar" in entry["consent"]["active"]["Alex"]


def test_an_attendee_named_by_cn_at_an_unknown_address_needs_consent(built, tmp_path):
    """CN="Sam Roberts" at a work address is Sam, possibly: with Sam's calendar consent revoked the event
    stays out although the only known address on it is Alex's."""
    import pyarrow.parquet as pq

    tmp, household, _ = built
    shutil.copytree(tmp / "household", tmp_path / "household")
    hh = json.loads((tmp_path / "household" / "household.json").read_text())
    alex, sam = (next(m for m in hh["members"] if m["name"] == n) for n in ("Alex", "Sam"))
    ConsentRegistry(tmp_path / "household" / "consent.sqlite").revoke("Sam", "calendar")
    (tmp_path / "household" / "calendar" / "sam.ics").unlink()
    (tmp_path / "household" / "calendar" / "family.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:onc-1@t\r\n"
        f"DTSTAMP:{hh['now'][:10].replace('-', '')}T080000Z\r\nDTSTART:{hh['now'][:10].replace('-', '')}T100000Z\r\n"
        "DTEND:{d}T110000Z\r\nSUMMARY:Oncology appointment\r\n".replace("{d}", hh["now"][:10].replace("-", ""))
        + f"ATTENDEE;CN=\"{alex['full_name']}\":mailto:{alex['emails'][0]}\r\n"
        + f"ATTENDEE;CN=\"{sam['full_name']}\":mailto:sam.r@work.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    result = build(_cfg(tmp_path))
    assert result.excluded.get("member possibly concerned, not consented", 0) >= 1
    text = json.dumps([pq.read_table(tmp_path / "sft" / f"{s}.parquet").to_pylist() for s in ("train", "val", "test")])
    assert "Oncology" not in text and "oncology" not in text
