"""SFT rows in TRL's conversational format, read and validated: what training reads from `data.path` and
what `data.mix` mixes in.

A row is `{"messages": [...], "tools": [...]?}`; assistant messages may carry
`tool_calls: [{"type": "function", "function": {"name": str, "arguments": dict | JSON string}}]`,
tool results are `{"role": "tool", "content": str}`. Rows are read with pyarrow/json directly
rather than `datasets`: Arrow would unify the per-tool argument structs into one schema and add
null keys to every call, changing the text the model is trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.errors import DataError
from hrmtrain.jsonl import read_json_lines

SUFFIXES = (".jsonl", ".json", ".parquet")
ROLES = {"system", "user", "assistant", "tool"}


@dataclass
class Row:
    messages: list[dict]
    tools: list[dict] | None
    file: Path
    number: int  # 1-based row (line for JSONL)


def data_files(path: str | Path, setting: str = "data.path") -> list[Path]:
    """The data files at `path` (a file, or a folder searched recursively); `setting` names the config key
    that gave the path, in messages."""
    p = Path(path)
    if not p.exists():
        hint = " (run `hrmtrain data` or point data.path at your data)" if setting == "data.path" else ""
        raise DataError(p, f"{setting} does not exist{hint}")
    if p.is_file():
        if p.suffix not in SUFFIXES:
            raise DataError(p, f"unsupported file type {p.suffix!r}; expected one of {', '.join(SUFFIXES)}")
        return [p]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES and not f.name.startswith("."))
    files = [f for f in files if f.name != "manifest.json"]
    if not files:
        raise DataError(p, f"folder holds no data files ({', '.join(SUFFIXES)})")
    return files


def raw_rows(file: Path) -> list[tuple[int, object]]:
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise DataError(file, f"not a readable Parquet file ({exc})") from None
        return list(enumerate(table.to_pylist(), start=1))
    if file.suffix != ".json":
        return read_json_lines(file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(file, f"not UTF-8 text ({exc})") from None
    try:
        obj = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise DataError(file, f"not valid JSON ({exc})") from None
    if not isinstance(obj, list):
        raise DataError(file, "a .json data file must hold a list of rows")
    return list(enumerate(obj, start=1))


def _check_row(raw, file: Path, n: int) -> Row:
    if not isinstance(raw, dict):
        raise DataError(file, f"a row must be an object, got {type(raw).__name__}", n)
    messages = raw.get("messages")
    if messages is None:
        raise DataError(file, "row has no 'messages' (TRL conversational format expected)", n)
    if not isinstance(messages, list) or not messages:
        raise DataError(file, "'messages' must be a non-empty list", n)
    clean = []
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise DataError(file, f"message {i} needs a role in {sorted(ROLES)}", n)
        m = {k: v for k, v in m.items() if v is not None}
        content = m.get("content", "")
        if not isinstance(content, str):
            raise DataError(file, f"message {i}: content must be a string", n)
        m["content"] = content
        calls = m.get("tool_calls")
        if calls:
            if m["role"] != "assistant":
                raise DataError(file, f"message {i}: only assistant messages may carry tool_calls", n)
            m["tool_calls"] = [_check_call(c, file, n, i, j) for j, c in enumerate(calls, start=1)]
        else:
            m.pop("tool_calls", None)
        clean.append(m)
    if not any(m["role"] == "assistant" for m in clean):
        raise DataError(file, "row has no assistant message to learn from", n)
    tools = raw.get("tools")
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as exc:
            raise DataError(file, f"'tools' is a string but not valid JSON ({exc.msg})", n) from None
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        raise DataError(file, "'tools' must be a list of JSON-schema function definitions", n)
    return Row(clean, tools or None, file, n)


def _check_call(call, file: Path, n: int, i: int, j: int) -> dict:
    where = f"message {i}, tool call {j}"
    fn = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise DataError(file, f"{where}: needs function.name", n)
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError as exc:
            raise DataError(file, f"{where} ({fn['name']}): arguments are not valid JSON ({exc.msg})", n) from None
    if not isinstance(args, dict):
        raise DataError(file, f"{where} ({fn['name']}): arguments must be a JSON object", n)
    return {"type": "function", "function": {"name": fn["name"], "arguments": args}}


def load_rows(path: str | Path, setting: str = "data.path") -> list[Row]:
    """Every row of the data at `path`, validated (the message names the file and row of the first bad one)."""
    rows = []
    for file in data_files(path, setting):
        raw = raw_rows(file)
        if not raw:
            raise DataError(file, "file is empty (no rows)")
        rows.extend(_check_row(r, file, n) for n, r in raw)
    return rows
