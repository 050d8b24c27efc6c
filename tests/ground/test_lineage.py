"""The audit log: a hash chain that names the edited or deleted entry; trace and affected; OpenLineage events."""

from __future__ import annotations

import json

import pytest

from helpers import run_cli
from hrmtrain.lineage import AuditLog, LineageError, content_hash, entry_hash


@pytest.fixture
def chain(tmp_path):
    """raw (Sam's and Alex's mail) -> dataset -> model, and an unrelated public dataset."""
    raw = tmp_path / "raw.mbox"
    raw.write_text("From sam@example.org\nSubject: hi\n\nhello\n")
    public = tmp_path / "recipes.jsonl"
    public.write_text('{"text": "pancakes"}\n')
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.parquet").write_bytes(b"rows from raw")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    pub_data = tmp_path / "public_data.jsonl"
    pub_data.write_text("public rows\n")
    log = AuditLog(tmp_path / "lineage")
    log.append("data", inputs=[raw], outputs=[data], members=["Sam", "Alex"], excluded={"no email consent": 3},
               consent={"active": {"Sam": ["email"], "Alex": ["email"]}})
    log.append("data", inputs=[public], outputs=[pub_data])
    log.append("train", inputs=[data], outputs=[model], config={"trainer": {"max_steps": 2}})
    return log, raw, data, model, pub_data


def test_intact_log_verifies_and_records_hashes(chain):
    log, raw, data, model, _ = chain
    assert log.verify() == []
    entries = log.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["inputs"][0]["sha256"] == content_hash(raw)
    assert entries[2]["inputs"][0]["sha256"] == entries[0]["outputs"][0]["sha256"] == content_hash(data)
    assert entries[1]["prev"] == entries[0]["hash"] and entries[2]["prev"] == entries[1]["hash"]
    assert entries[0]["excluded"] == {"no email consent": 3}


def test_editing_one_byte_names_the_entry(chain):
    log = chain[0]
    text = log.path.read_text()
    lines = text.splitlines(keepends=True)
    # change one digit inside entry 2's content ("max_steps" lives in entry 3; edit entry 2's stage name)
    assert '"stage": "data"' in lines[1]
    lines[1] = lines[1].replace('"stage": "data"', '"stage": "dbta"', 1)
    log.path.write_text("".join(lines))
    problems = log.verify()
    assert problems and problems[0].seq == 2 and "edited" in problems[0].message
    res = run_cli(["lineage", "--log", str(log.root), "verify"], cwd=log.root)
    assert res.returncode == 1 and "entry 2" in res.stderr


def test_every_single_byte_edit_is_detected(chain):
    """Flip each byte of entry 2 in turn: verify never passes."""
    log = chain[0]
    original = log.path.read_bytes()
    start = original.index(b"\n") + 1
    end = original.index(b"\n", start)
    for i in range(start, end, 7):
        edited = bytearray(original)
        edited[i] = ord("x") if edited[i] != ord("x") else ord("y")
        log.path.write_bytes(bytes(edited))
        problems = log.verify()
        assert problems, f"edit at byte {i} went unnoticed"
        assert any(p.seq in (2, None) and p.line == 2 for p in problems), [str(p) for p in problems]


def test_deleted_entry_is_named(chain):
    log = chain[0]
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text(lines[0] + lines[2])
    problems = log.verify()
    assert problems and problems[0].seq == 3 and "deleted" in problems[0].message


def test_entries_removed_from_the_end_are_caught_by_the_head(chain):
    log = chain[0]
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[:2]))
    problems = log.verify()
    assert problems and "removed from the end" in problems[0].message


def test_append_refuses_a_broken_log_and_repairs_a_torn_tail(chain):
    log = chain[0]
    with open(log.path, "a") as f:
        f.write('{"seq": 4, "stage": "tra')  # a crash mid-append: no newline, not in the head
    assert log.verify()  # the torn line shows
    entry = log.append("eval")
    assert entry["seq"] == 4 and log.verify() == []
    log.path.write_text(log.path.read_text().replace('"stage": "eval"', '"stage": "evil"'))
    with pytest.raises(LineageError, match="does not verify"):
        log.append("export")


def test_trace_walks_model_to_raw_data(chain):
    log, raw, data, model, _ = chain
    tree = log.trace(model)
    assert tree["entry"]["stage"] == "train"
    (data_node,) = tree["parents"]
    assert data_node["artifact"]["path"] == str(data.resolve()) and data_node["entry"]["members"] == ["Alex", "Sam"]
    (raw_node,) = data_node["parents"]
    assert raw_node["artifact"]["path"] == str(raw.resolve()) and raw_node["entry"] is None
    res = run_cli(["lineage", "--log", str(log.root), "trace", str(model)], cwd=log.root)
    assert res.returncode == 0 and str(raw.resolve()) in res.stdout and "members: Alex, Sam" in res.stdout


def test_trace_of_a_changed_artifact_says_so(chain):
    log, _, _, model, _ = chain
    (model / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(LineageError, match="changed after it was written"):
        log.trace(model)


def test_affected_lists_datasets_and_models_built_from_a_member(chain):
    log, _, data, model, pub_data = chain
    paths = [art["path"] for _, art in log.affected("Sam")]
    assert paths == [str(data.resolve()), str(model.resolve())]
    assert str(pub_data.resolve()) not in paths
    assert log.affected("Jordan") == []
    res = run_cli(["lineage", "--log", str(log.root), "affected", "--member", "Alex"], cwd=log.root)
    assert res.returncode == 0 and str(model.resolve()) in res.stdout


def test_openlineage_events_are_written(chain):
    log, raw, data, _, _ = chain
    events = [json.loads(line) for line in (log.root / "openlineage.jsonl").read_text().splitlines()]
    assert [e["job"]["name"] for e in events] == ["data", "data", "train"]
    assert all(e["eventType"] == "COMPLETE" for e in events)
    assert events[0]["inputs"][0]["name"] == str(raw.resolve())
    assert events[0]["outputs"][0]["name"] == str(data.resolve())
    assert events[0]["run"]["runId"] == log.entries()[0]["run_id"]


def test_missing_log_is_an_error_naming_it(tmp_path):
    res = run_cli(["lineage", "--log", str(tmp_path / "nowhere"), "verify"], cwd=tmp_path)
    assert res.returncode == 2 and str(tmp_path / "nowhere") in res.stderr


def _drop_last_entry(log):
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[:-1]))


@pytest.mark.parametrize("head", [None, "garbage{", "[]", '{"seq": "3"}'], ids=["deleted", "corrupt", "list", "wrong-type"])
def test_last_entry_removed_with_the_head_deleted_or_broken_is_a_problem(chain, head):
    log = chain[0]
    _drop_last_entry(log)
    if head is None:
        log.head_path.unlink()
    else:
        log.head_path.write_text(head)
    problems = log.verify()
    assert len(problems) == 1 and "head" in problems[0].message, problems
    res = run_cli(["lineage", "--log", str(log.root), "verify"], cwd=log.root)
    assert res.returncode == 1 and "Traceback" not in res.stderr and "audit.head.json" in res.stderr
    assert "intact" not in res.stdout


def _rewrite_entry_one(log):
    """What anyone with write access can do to an unkeyed chain: edit entry 1, recompute every hash and the head."""

    entries = log.entries()
    entries[0]["members"] = ["Alex"]  # hide that Sam's data went in
    prev = "0" * 64
    for e in entries:
        e.pop("mac", None)
        e["prev"] = prev
        e["hash"] = prev = entry_hash(e)
    log.path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    log.head_path.write_text(json.dumps({"seq": entries[-1]["seq"], "hash": entries[-1]["hash"]}))


def test_an_unkeyed_chain_cannot_tell_a_full_rewrite(chain):
    """What the README says: without a key the chain proves self-consistency only."""
    log = chain[0]
    _rewrite_entry_one(log)
    assert log.verify() == []
    res = run_cli(["lineage", "--log", str(log.root), "verify"], cwd=log.root)
    assert res.returncode == 0 and "unkeyed" in res.stdout


def test_a_keyed_chain_catches_a_rewrite_without_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HRMTRAIN_AUDIT_KEY", "s3cret household key")
    data = tmp_path / "data.jsonl"
    data.write_text("rows\n")
    log = AuditLog(tmp_path / "lineage")
    for _ in range(3):
        log.append("data", inputs=[data], outputs=[data], members=["Sam"])
    assert log.verify() == [] and all(e["mac"] for e in log.entries())
    res = run_cli(["lineage", "--log", str(log.root), "verify"], cwd=tmp_path,
                  env={"HRMTRAIN_AUDIT_KEY": "s3cret household key"})
    assert res.returncode == 0 and "HMAC" in res.stdout
    _rewrite_entry_one(log)
    problems = AuditLog(log.root).verify()
    assert [p.seq for p in problems[:3]] == [1, 2, 3] and "HMAC" in problems[0].message
    assert any("head" in p.message for p in problems)
    # the wrong key does not pass either, and neither does an unkeyed log checked with a key
    monkeypatch.setenv("HRMTRAIN_AUDIT_KEY", "another key")
    assert AuditLog(log.root).verify()
    with pytest.raises(LineageError, match="does not verify"):
        AuditLog(log.root).append("train", inputs=[data], outputs=[data])


def test_an_unkeyed_log_checked_with_a_key_reports_every_entry(chain, monkeypatch):
    log = chain[0]
    monkeypatch.setenv("HRMTRAIN_AUDIT_KEY", "k")
    problems = AuditLog(log.root).verify()
    assert [p.seq for p in problems if p.seq] == [1, 2, 3] and "without the audit key" in problems[0].message


def test_the_key_file_may_not_live_in_the_log_folder(chain, monkeypatch, tmp_path):
    log = chain[0]
    (log.root / "key").write_text("k")
    monkeypatch.setenv("HRMTRAIN_AUDIT_KEY_FILE", str(log.root / "key"))
    with pytest.raises(LineageError, match="inside the log folder"):
        AuditLog(log.root)
    outside = tmp_path / "audit.key"
    outside.write_text("k\n")
    monkeypatch.setenv("HRMTRAIN_AUDIT_KEY_FILE", str(outside))
    assert AuditLog(log.root).key == b"k"


def test_trace_and_affected_refuse_a_log_that_does_not_verify(chain):
    log, _, _, model, _ = chain
    _drop_last_entry(log)
    log.head_path.unlink()
    for args in (["trace", str(model)], ["affected", "--member", "Sam"]):
        res = run_cli(["lineage", "--log", str(log.root), *args], cwd=log.root)
        assert res.returncode == 2 and "does not verify" in res.stderr and "Traceback" not in res.stderr, res.stderr
