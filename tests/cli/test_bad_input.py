"""Bad input anywhere: a message that names the file, the line or row and the problem, exit 2, never a
traceback; an unwritable output folder is found before the work, not after it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import compose, run_cli
from hrmtrain.agent.policies import load_saved_model
from hrmtrain.agent.tasks import load_tasks
from hrmtrain.data.sources.public import read_public
from hrmtrain.errors import CheckpointError, DataError
from hrmtrain.jsonl import read_json_lines
from hrmtrain.models.base import ModelSource, load_tokenizer
from hrmtrain.privacy.directory import Directory
from hrmtrain.privacy.redact import Redactor
from hrmtrain.train.model import load_model


@pytest.fixture(scope="module")
def task_row(sample_data):
    import pyarrow.parquet as pq

    return pq.read_table(sample_data / "test.parquet").to_pylist()[0]


def _jsonl(path: Path, lines: list) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    return path


@pytest.mark.parametrize("bad, line, problem", [
    (b'{"task_type": "\xff\xfe"}', 2, "not UTF-8"),
    (b"not json at all", 2, "not valid JSON"),
    ("missing-task-type", 2, "missing 'task_type'"),
    (b"[1, 2]", 2, "a task is a JSON object"),
])
def test_a_bad_task_line_is_named(tmp_path, task_row, bad, line, problem):
    if bad == "missing-task-type":
        bad = json.dumps({k: v for k, v in task_row.items() if k != "task_type"}).encode()
    f = _jsonl(tmp_path / "tasks.jsonl", [task_row, bad, task_row])
    with pytest.raises(DataError, match=problem) as exc:
        load_tasks(f)
    assert (exc.value.path, exc.value.row) == (str(f), line)


def test_corrupt_parquet_and_empty_task_files_are_refused(tmp_path, sample_data):
    broken = tmp_path / "test.parquet"
    broken.write_bytes((sample_data / "test.parquet").read_bytes()[:300])
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_tasks(broken)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="holds no tasks"):
        load_tasks(empty)
    res = run_cli(["eval", "eval.policy=scripted", f"eval.tasks={empty}", f"run.dir={tmp_path}"], cwd=tmp_path)
    assert res.returncode == 2 and f"{empty}: holds no tasks" in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.glob("eval-*.json"))


def test_a_json_line_may_hold_line_separator_characters(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"text": "one\u2028two\u0085three\u000cfour"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_json_lines(f) == [(1, {"text": "one\u2028two\u0085three\u000cfour"})]


def test_public_jsonl_problems_name_the_line(tmp_path):
    good = {"title": "Pancakes", "ingredients": ["flour"]}
    cases = {"utf8.jsonl": [good, b"\xff oops"], "json.jsonl": [good, b"{oops"], "empty.jsonl": None,
             "list.jsonl": [good, [1]]}
    for name, lines in cases.items():
        f = tmp_path / name
        if lines is None:
            f.write_bytes(b"")
        else:
            _jsonl(f, lines)
    reasons = {n: read_public(tmp_path / n).skipped[0].reason for n in cases}
    assert reasons == {"utf8.jsonl": "line 2: not UTF-8 text (byte 0xff at column 1)",
                       "json.jsonl": "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
                       "empty.jsonl": "empty file",
                       "list.jsonl": "line 2: not a JSON object (one object per line expected)"}


@pytest.mark.parametrize("content, problem", [
    ('{"members": "Alex"}', "'members' is str"),
    ('{"members": [{"name": 3}]}', "member 1 is not"),
    ('[1]', "found list"),
    ('{"members": [{"name": "Alex"}], "now": 5}', "'now' must be a string"),
])
def test_household_json_of_the_wrong_shape(tmp_path, content, problem):
    f = tmp_path / "household.json"
    f.write_text(content)
    with pytest.raises(DataError, match=problem) as exc:
        Directory.load(f)
    assert exc.value.path == str(f)


def test_corrupt_model_config_or_weights(tmp_path, sample_data):
    tokenizer = load_tokenizer(ModelSource("tiny", None))
    model = load_model(ModelSource("tiny", None), compose([]).model, tokenizer)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert load_saved_model(str(folder))[1] is not None
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:1000])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_saved_model(str(folder))
    weights.write_bytes(good)
    (folder / "config.json").write_text('{"model_type": "qwen3", ')
    with pytest.raises(CheckpointError, match="config.json: corrupt"):
        load_saved_model(str(folder))
    res = run_cli(["eval", f"eval.model={folder}", f"data.path={sample_data}", "eval.max_tasks=1"], cwd=tmp_path)
    assert res.returncode == 2 and "config.json: corrupt" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody may write into, root included (CI runs as root: chmod alone stops no one)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is not supported here: no folder is read-only for root")
        yield folder
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_unwritable_output_folders_are_named_before_any_work(tmp_path, read_only, sample_data):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "Call Sam on 020 7946 0958."}])
    household = tmp_path / "hh"
    (household / "public").mkdir(parents=True)
    _jsonl(household / "public" / "r.jsonl", [{"title": "Pancakes", "ingredients": ["flour"]}])
    runs = [
        ["data", "redact", str(src), str(read_only / "out.jsonl")],
        ["data", "ingest", str(household), "--out", str(read_only / "out"), "--log", str(tmp_path / "lineage")],
        ["train", f"data.path={sample_data}", f"run.dir={read_only}", "run.name=r", "trainer.max_steps=1",
         f"lineage.dir={tmp_path / 'lineage'}", "logging.wandb_mode=disabled"],
        ["eval", "eval.policy=scripted", f"data.path={sample_data}", f"run.dir={read_only}", "eval.max_tasks=1"],
    ]
    for args in runs:
        res = run_cli(args, cwd=tmp_path)
        assert res.returncode == 2 and "Traceback" not in res.stderr, (args, res.stderr[-2000:])
        assert str(read_only) in res.stderr and "cannot be written" in res.stderr, (args, res.stderr)


def test_a_huge_line_is_refused_and_a_long_one_redacts_in_linear_time(tmp_path):
    huge = _jsonl(tmp_path / "huge.jsonl", [{"text": "x" * 1_000_001}])
    res = run_cli(["data", "redact", str(huge), str(tmp_path / "out.jsonl")], cwd=tmp_path)
    assert res.returncode == 2 and f"{huge}, row 1" in res.stderr and "at most 1,000,000" in res.stderr

    text = "Hi Sam Roberts, call 020 7946 0958 or mail sam@example.org. Alex Jones says hi to Maria in Leeds. " * 3000
    import time

    start = time.perf_counter()
    redacted, spans = Redactor().redact(text)
    # ~300k characters: a pairwise span resolution took minutes here; linear work takes seconds
    assert time.perf_counter() - start < 60 and len(spans) >= 4 * 3000
    assert "020 7946 0958" not in redacted and "sam@example.org" not in redacted
