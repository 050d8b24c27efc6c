"""`data.mix`: general tool-calling rows in TRL's conversational format mixed into the training split only, at
their weight's share, recorded in the manifest and the audit log; BFCL's own data and bad sources refused
with a message naming the setting; the mixed split trains."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import compose, run_cli
from hrmtrain.data.build import build
from hrmtrain.errors import DataError, HrmError
from hrmtrain.lineage import AuditLog
from hrmtrain.sample.household import generate

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}}, "required": ["city"]}}}


def general_rows(n: int) -> list[dict]:
    """Rows of a general (non-household) tool-calling dataset, TRL conversational format."""
    cities = ["Lisbon", "Oslo", "Quito", "Hanoi", "Perth", "Accra", "Lima", "Riga"]
    rows = []
    for i in range(n):
        city = cities[i % len(cities)]
        rows.append({"messages": [
            {"role": "user", "content": f"What's the weather like in {city} right now? ({i})"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}]},
            {"role": "tool", "content": json.dumps({"city": city, "temp_c": 10 + i % 15})},
            {"role": "assistant", "content": f"It is {10 + i % 15} °C in {city}."}], "tools": [WEATHER]})
    return rows


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def household(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("mix")
    generate(tmp / "household", seed=0)
    return tmp


def _cfg(tmp: Path, out: str, mix: str):
    return compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / out}", f"lineage.dir={tmp / 'lineage'}",
                    f"data.mix={mix}"])


def test_mixed_rows_make_their_share_of_the_train_split_only(household, tmp_path):
    source = _jsonl(tmp_path / "weather.jsonl", general_rows(400))
    plain = build(_cfg(household, "plain", "[]"))
    mixed = build(_cfg(household, "mixed", f"[{{path: {source}, weight: 0.25, license: CC-BY-4.0}}]"))
    train_plain = sum(plain.counts["train"].values())
    assert mixed.counts["train"]["mix:weather"] == round(0.25 / 0.75 * train_plain)
    share = mixed.counts["train"]["mix:weather"] / sum(mixed.counts["train"].values())
    assert share == pytest.approx(0.25, abs=0.01)
    assert {k: v for k, v in mixed.counts["train"].items() if k != "mix:weather"} == plain.counts["train"]
    for split in ("val", "test"):  # validation and test stay household tasks
        assert mixed.counts[split] == plain.counts[split]
        assert not any(t.startswith("mix:") for t in pq.read_table(household / "mixed" / f"{split}.parquet")
                       .column("task_type").to_pylist())
    rows = pq.read_table(household / "mixed" / "train.parquet").to_pylist()
    weather = [r for r in rows if r["task_type"] == "mix:weather"]
    assert len({r["record_id"] for r in weather}) == len(weather)  # drawn without replacement
    assert json.loads(weather[0]["tools"]) == [WEATHER]
    manifest = json.loads((household / "mixed" / "manifest.json").read_text())
    (entry,) = manifest["mix"]
    assert entry["name"] == "weather" and entry["available"] == 400 and entry["used"] == len(weather)
    assert entry["license"] == "CC-BY-4.0" and list(entry["files"]) == [str(source)]
    last = AuditLog(household / "lineage").entries()[-1]
    assert str(source) in json.dumps(last) and last["details"]["mix"][0]["used"] == len(weather)


def test_a_small_source_is_used_whole_with_a_warning(household, tmp_path):
    source = _jsonl(tmp_path / "few.jsonl", general_rows(5))
    result = build(_cfg(household, "few", f"[{{path: {source}, weight: 0.5}}]"))
    assert result.counts["train"]["mix:few"] == 5
    assert any("has 5 rows, fewer than" in w for w in result.warnings)


def test_bad_sources_are_named_before_any_work(household, tmp_path):
    with pytest.raises(DataError, match=r"data.mix\[0\].path does not exist"):
        build(_cfg(household, "none", f"[{{path: {tmp_path / 'nope.jsonl'}, weight: 0.2}}]"))
    bad = _jsonl(tmp_path / "bad.jsonl", general_rows(3) + [{"prompt": "hi", "completion": "there"}])
    with pytest.raises(DataError, match="row 4: row has no 'messages'"):
        build(_cfg(household, "bad", f"[{{path: {bad}, weight: 0.2}}]"))
    assert not (household / "none").exists() and not (household / "bad").exists()


def test_bfcl_data_is_refused(household, tmp_path):
    rows = general_rows(3)
    rows[2]["id"] = "live_simple_17-3-13"
    bfcl_like = _jsonl(tmp_path / "general.jsonl", rows)
    with pytest.raises(HrmError, match=r"row 3 has a BFCL test id \(live_simple_17-3-13\)"):
        build(_cfg(household, "b1", f"[{{path: {bfcl_like}, weight: 0.2}}]"))
    named = tmp_path / "BFCL_v4_simple_python.jsonl"
    _jsonl(named, general_rows(2))
    with pytest.raises(HrmError, match="BFCL's own data"):
        build(_cfg(household, "b2", f"[{{path: {named}, weight: 0.2}}]"))


def test_cli_names_a_mix_weight_out_of_range(tmp_path):
    res = run_cli(["data", "data.mix=[{path: x.jsonl, weight: 0.7}, {path: y.jsonl, weight: 0.4}]"], cwd=tmp_path)
    assert res.returncode == 2 and "data.mix" in res.stderr and "add up to less than 1" in res.stderr, res.stderr
