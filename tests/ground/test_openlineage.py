"""OpenLineage events of stage runs: START, then COMPLETE with the datasets (dataSource, and schema for Parquet)
or FAIL with the error; job type and documentation; a nested run names its parent; the CLI's stages emit
them, a failed stage included, and the audit entry carries the run's id."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import run_cli
from hrmtrain.lineage import AuditLog
from hrmtrain.lineage.openlineage import stage_run

SPEC = "https://openlineage.io/spec/"


def events(lineage_dir) -> list[dict]:
    return [json.loads(line) for line in (lineage_dir / "openlineage.jsonl").read_text().splitlines()]


def _check_named_schemas(event: dict) -> None:
    """Every event and facet names the OpenLineage schema it follows, and says who produced it."""
    assert event["schemaURL"].startswith(SPEC + "2-0-") and event["producer"].startswith("https://pypi.org/project/hrmtrain/")
    facets = [*event["run"]["facets"].values(), *event["job"]["facets"].values()]
    for d in event.get("inputs", []) + event.get("outputs", []):
        facets += list(d["facets"].values())
    for facet in facets:
        assert facet["_schemaURL"].startswith(SPEC + "facets/") and facet["_producer"], facet


def test_a_stage_run_reports_start_then_complete_with_its_datasets(tmp_path):
    data = tmp_path / "sft"
    data.mkdir()
    table = pa.table({"messages": [[{"role": "user", "content": "hi"}]], "task_type": ["shopping"]})
    for split in ("train", "val"):
        pq.write_table(table, data / f"{split}.parquet")
    raw = tmp_path / "raw.txt"
    raw.write_text("household file")
    log = AuditLog(tmp_path / "lineage")
    with stage_run("data", tmp_path / "lineage", "household files -> SFT splits") as run:
        entry = log.append("data", inputs=[raw], outputs=[data])
    start, complete = events(tmp_path / "lineage")
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == run.run_id == entry["run_id"]
    assert start["inputs"] == [] and start["outputs"] == []
    job = complete["job"]
    assert job["name"] == "data" and job["facets"]["documentation"]["description"] == "household files -> SFT splits"
    assert job["facets"]["jobType"]["processingType"] == "BATCH" and job["facets"]["jobType"]["jobType"] == "JOB"
    (inp,), (out,) = complete["inputs"], complete["outputs"]
    assert inp["facets"]["dataSource"]["uri"] == raw.resolve().as_uri() and "schema" not in inp["facets"]
    fields = out["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields] == ["messages", "task_type"] and fields[1]["type"] == "string"
    assert complete["run"]["facets"]["processing_engine"]["name"] == "hrmtrain"
    for e in (start, complete):
        _check_named_schemas(e)


def test_a_failed_stage_run_reports_fail_with_the_error_and_raises(tmp_path):
    with pytest.raises(ValueError, match="broken .ics"):
        with stage_run("data", tmp_path, "d"):
            raise ValueError("broken .ics in household/calendar")
    start, fail = events(tmp_path)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: broken .ics in household/calendar"
    assert error["programmingLanguage"] == "python" and "raise ValueError" in error["stackTrace"]
    _check_named_schemas(fail)


def test_a_nested_run_names_its_parent(tmp_path):
    with stage_run("pipeline", tmp_path, "p") as outer:
        with stage_run("train", tmp_path, "t"):
            pass
    names = [(e["job"]["name"], e["eventType"]) for e in events(tmp_path)]
    assert names == [("pipeline", "START"), ("train", "START"), ("train", "COMPLETE"), ("pipeline", "COMPLETE")]
    train = events(tmp_path)[2]
    assert train["run"]["facets"]["parent"]["run"]["runId"] == outer.run_id
    assert train["run"]["facets"]["parent"]["job"]["name"] == "pipeline"
    assert train["job"]["facets"]["jobType"]["jobType"] == "TASK"


def test_cli_stages_emit_start_and_complete_or_fail(tmp_path):
    # the default data.raw (household/, relative): the sample household is generated there first
    ok = run_cli(["data", f"data.path={tmp_path / 'sft'}", f"lineage.dir={tmp_path / 'lineage'}"], cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = run_cli(["data", f"data.raw={tmp_path / 'nowhere'}", f"data.path={tmp_path / 'sft2'}",
                   f"lineage.dir={tmp_path / 'lineage'}"], cwd=tmp_path)
    assert bad.returncode == 2 and "nowhere" in bad.stderr
    got = events(tmp_path / "lineage")
    assert [(e["job"]["name"], e["eventType"]) for e in got] == [("data", "START"), ("data", "COMPLETE"),
                                                                  ("data", "START"), ("data", "FAIL")]
    complete, fail = got[1], got[3]
    assert complete["run"]["runId"] == AuditLog(tmp_path / "lineage").entries()[-1]["run_id"]
    (out,) = complete["outputs"]
    columns = [f["name"] for f in out["facets"]["schema"]["fields"]]
    assert out["name"] == str((tmp_path / "sft").resolve()) and {"messages", "tools", "task_type"} <= set(columns)
    assert len(complete["inputs"]) > 5  # the household's files
    assert "nowhere" in fail["run"]["facets"]["errorMessage"]["message"]
    assert got[2]["run"]["runId"] == fail["run"]["runId"] != complete["run"]["runId"]
