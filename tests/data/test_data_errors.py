"""Bad `data.path`: a message naming the file and row, exit 2, and no run folder left behind."""

from __future__ import annotations

import json

import pytest

from helpers import conversation_rows, run_cli
from hrmtrain.errors import DataError
from hrmtrain.models.base import ModelSource, load_tokenizer
from hrmtrain.prompt.chat import ChatEncoder
from hrmtrain.prompt.rows import load_rows
from hrmtrain.train.dataset import encode_rows


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD = conversation_rows(3)


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="does not exist") as exc:
        load_rows(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(exc.value)


def test_empty_file(tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text("")
    with pytest.raises(DataError, match="empty") as exc:
        load_rows(f)
    assert exc.value.path == str(f)


def test_row_without_messages(tmp_path):
    f = _write(tmp_path / "train.jsonl", [GOOD[0], {"prompt": "hi", "completion": "hello"}, GOOD[1]])
    with pytest.raises(DataError, match="no 'messages'") as exc:
        load_rows(f)
    assert (exc.value.path, exc.value.row) == (str(f), 2)
    assert f"{f}, row 2" in str(exc.value)


def test_tool_call_arguments_not_json(tmp_path):
    bad = json.loads(json.dumps(GOOD[2]))
    bad["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{'title': 'dentist'"
    f = _write(tmp_path / "train.jsonl", [GOOD[0], GOOD[1], bad])
    with pytest.raises(DataError, match="arguments are not valid JSON") as exc:
        load_rows(f)
    assert exc.value.row == 3 and "tool call 1" in str(exc.value)


def test_invalid_json_line(tmp_path):
    f = _write(tmp_path / "train.jsonl", [GOOD[0], '{"messages": [', GOOD[1]])
    with pytest.raises(DataError, match="not valid JSON") as exc:
        load_rows(f)
    assert exc.value.row == 2


def test_parquet_rows_with_json_string_arguments(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for r in GOOD:
        r = json.loads(json.dumps(r))
        for m in r["messages"]:
            for c in m.get("tool_calls", []):
                c["function"]["arguments"] = json.dumps(c["function"]["arguments"])
        rows.append({"messages": json.dumps(r["messages"]) and r["messages"], "tools": json.dumps(r["tools"])})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    loaded = load_rows(tmp_path / "train.parquet")
    assert len(loaded) == 3
    call = loaded[0].messages[2]["tool_calls"][0]["function"]
    assert call["arguments"] == GOOD[0]["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert loaded[0].tools == GOOD[0]["tools"]


def test_prompt_longer_than_max_length_says_so(tmp_path):
    f = _write(tmp_path / "train.jsonl", GOOD)
    with pytest.raises(DataError, match="max_length=64 is shorter than the system\\+tools prompt") as exc:
        encode_rows(load_rows(f), ChatEncoder(load_tokenizer(ModelSource("tiny", None))), max_length=64)
    assert exc.value.row == 1


@pytest.mark.parametrize("content, expect", [
    (None, "does not exist"),
    ("", "empty"),
    ('{"text": "no messages here"}\n', "row 1: row has no 'messages'"),
])
def test_cli_bad_data_leaves_no_run_folder(tmp_path, content, expect):
    data = tmp_path / "bad.jsonl"
    if content is not None:
        data.write_text(content)
    res = run_cli(["train", f"data.path={data}", "logging.wandb_mode=disabled"], cwd=tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    assert str(data) in res.stderr and expect in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
