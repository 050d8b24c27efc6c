"""OpenLineage run events for every stage run: START when it begins, then COMPLETE (with the datasets it
read and wrote) or FAIL (with the error), written by openlineage-python's file transport to
`<lineage.dir>/openlineage.jsonl` for the lineage tools a team already runs (Marquez, DataHub, ...).

Facets, all from the standard set (openlineage-python's generated classes, each naming its schema):
- job: `jobType` (BATCH, integration HRMTRAIN, JOB for a command, TASK for a pipeline step) and
  `documentation` (what the command does);
- run: `processing_engine` (hrmtrain and its version), `parent` for a pipeline step (the pipeline's run),
  `errorMessage` on FAIL (message, language, stack trace);
- datasets: `dataSource` (file URI) on every input and output, `schema` (column names and Arrow types) on
  Parquet files and on folders of Parquet files that share one schema (the SFT splits).

A stage run is a context (`with stage_run("train", lineage_dir, doc):`): the audit log's entries appended
inside it (lineage/__init__.py) take its run id and become its COMPLETE event's datasets.
"""

from __future__ import annotations

import os
import traceback
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from hrmtrain import __version__

NAMESPACE = "hrmtrain"
OPENLINEAGE_NAME = "openlineage.jsonl"
PRODUCER = f"https://pypi.org/project/hrmtrain/{__version__}"


@dataclass
class StageRun:
    stage: str
    lineage_dir: Path
    description: str
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    parent: "StageRun | None" = None
    entries: list[dict] = field(default_factory=list)  # audit entries appended during the run


_current: ContextVar[StageRun | None] = ContextVar("hrmtrain_stage_run", default=None)


def current() -> StageRun | None:
    return _current.get()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parquet_schema(path: Path):
    """The schema facet of a Parquet file, or of a folder whose Parquet files share one schema; else None."""
    import pyarrow.parquet as pq

    from openlineage.client.facet_v2 import schema_dataset

    files = [path] if path.is_file() and path.suffix == ".parquet" else \
        sorted(path.glob("*.parquet")) if path.is_dir() else []
    if not files:
        return None
    try:
        schemas = [pq.read_schema(f) for f in files]
    except Exception:  # not readable as Parquet: no schema facet, the event still goes out
        return None
    if any(not s.equals(schemas[0]) for s in schemas[1:]):
        return None

    def fields(arrow_fields) -> list:
        out = []
        for f in arrow_fields:
            inner = list(f.type) if hasattr(f.type, "num_fields") and f.type.num_fields and \
                str(f.type).startswith("struct") else []
            out.append(schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type), fields=fields(inner)))
        return out

    return schema_dataset.SchemaDatasetFacet(fields=fields(schemas[0]))


def _dataset(cls, path_str: str):
    from openlineage.client.facet_v2 import datasource_dataset

    path = Path(path_str)
    facets = {"dataSource": datasource_dataset.DatasourceDatasetFacet(name="file", uri=path.resolve().as_uri())}
    schema = parquet_schema(path) if path.exists() else None
    if schema is not None:
        facets["schema"] = schema
    return cls(namespace="file", name=str(path), facets=facets)


def _job(run: StageRun):
    from openlineage.client.event_v2 import Job
    from openlineage.client.facet_v2 import documentation_job, job_type_job

    return Job(namespace=NAMESPACE, name=run.stage, facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="HRMTRAIN",
                                                jobType="TASK" if run.parent else "JOB"),
        "documentation": documentation_job.DocumentationJobFacet(description=run.description or run.stage)})


def _run_facets(run: StageRun, error: BaseException | None = None) -> dict:
    from openlineage.client.facet_v2 import error_message_run, parent_run, processing_engine_run

    facets = {"processing_engine": processing_engine_run.ProcessingEngineRunFacet(version=__version__, name="hrmtrain")}
    if run.parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.parent.run_id),
            job=parent_run.Job(namespace=NAMESPACE, name=run.parent.stage))
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}", programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error)))
    return facets


def emit(run: StageRun, state: str, error: BaseException | None = None) -> None:
    """One event of `run` (START, COMPLETE or FAIL) to the lineage folder's openlineage.jsonl."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.transport.file import FileConfig, FileTransport

    inputs, outputs = [], []
    if state == "COMPLETE":
        seen_in, seen_out = set(), set()
        for entry in run.entries:
            for a in entry.get("inputs", []):
                if a["path"] not in seen_in:
                    seen_in.add(a["path"])
                    inputs.append(_dataset(InputDataset, a["path"]))
            for a in entry.get("outputs", []):
                if a["path"] not in seen_out:
                    seen_out.add(a["path"])
                    outputs.append(_dataset(OutputDataset, a["path"]))
    run.lineage_dir.mkdir(parents=True, exist_ok=True)
    client = OpenLineageClient(transport=FileTransport(FileConfig(
        log_file_path=str(run.lineage_dir / OPENLINEAGE_NAME), append=True)))
    client.emit(RunEvent(eventType=RunState[state], eventTime=_now(),
                         run=Run(runId=run.run_id, facets=_run_facets(run, error)), job=_job(run),
                         producer=PRODUCER, inputs=inputs, outputs=outputs))


@contextmanager
def stage_run(stage: str, lineage_dir: str | Path, description: str = "") -> Iterator[StageRun]:
    """START now; COMPLETE when the block ends, FAIL (and the exception goes on) when it raises. A stage run
    started inside another (a pipeline's steps) names it as its parent. Under torchrun only rank 0 reports
    (the other ranks run the same stage as part of the same run)."""
    run = StageRun(stage, Path(lineage_dir), description, parent=current())
    if int(os.environ.get("RANK", "0")) != 0:
        yield run
        return
    emit(run, "START")
    token = _current.set(run)
    try:
        yield run
    except BaseException as exc:  # a user error, a bug, Ctrl-C: the run failed either way
        _current.reset(token)
        emit(run, "FAIL", exc)
        raise
    _current.reset(token)
    emit(run, "COMPLETE")


def record(lineage_dir: Path, entry: dict) -> bool:
    """An audit entry appended to the log in `lineage_dir`: it belongs to the current stage run if that run
    writes to the same folder (its COMPLETE event lists the entry's datasets; True), else False."""
    run = current()
    if run is None or run.lineage_dir.resolve() != Path(lineage_dir).resolve():
        return False
    run.entries.append(entry)
    return True


def complete_alone(lineage_dir: Path, entry: dict) -> None:
    """The COMPLETE event of an audit entry appended outside any stage run (library use)."""
    run = StageRun(entry["stage"], Path(lineage_dir), "", run_id=entry["run_id"], entries=[entry])
    emit(run, "COMPLETE")
