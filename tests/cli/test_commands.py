"""The command table (commands.py): every name maps to functions, not strings; `hrmtrain --help` lists them
all; each tool answers `--help`; a stage's first word that is one of its tool actions reaches the tool;
starting the CLI loads no stage (torch stays unimported until a stage runs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import run_cli
from hrmtrain.commands import COMMANDS, PIPELINE, Command


def test_every_command_runs_a_function_and_the_pipeline_steps_are_commands():
    for name, c in COMMANDS.items():
        assert callable(c.run) or callable(c.tool), name
        assert not isinstance(c.run, str) and not isinstance(c.tool, str), name
        assert all(a and " " not in a for a in c.tool_actions), name
    assert set(PIPELINE) <= set(COMMANDS) and PIPELINE[0] == "data" and PIPELINE[-1] == "report"


def test_a_tool_action_goes_to_the_tool_and_anything_else_to_the_stage():
    data = COMMANDS["data"]
    assert data.takes_tool(["redact", "in.jsonl", "out.jsonl"]) and data.takes_tool(["ingest", "dir"])
    assert not data.takes_tool(["data.raw=x"]) and not data.takes_tool([])
    assert COMMANDS["consent"].takes_tool([])  # a tool without a stage takes everything
    assert not Command("x", run=print).takes_tool(["list"])


def test_help_lists_every_command_with_its_summary(tmp_path):
    res = run_cli(["--help"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for name, c in COMMANDS.items():
        assert f"  {name} " in res.stdout and c.summary[:40] in res.stdout, name


@pytest.mark.parametrize("argv", [["consent", "--help"], ["lineage", "--help"], ["humaneval", "--help"],
                                  ["data", "redact", "--help"], ["export", "list", "--help"]])
def test_each_tool_answers_help(tmp_path, argv):
    res = run_cli(argv, cwd=tmp_path, tiny=False)
    assert res.returncode == 0 and "usage: hrmtrain" in res.stdout, res.stderr[-1000:]


def test_an_unknown_command_names_itself_and_lists_the_commands(tmp_path):
    res = run_cli(["trian"], cwd=tmp_path, tiny=False)
    assert res.returncode == 2 and "unknown stage 'trian'" in res.stderr and "  train " in res.stderr


def test_the_table_loads_no_stage():
    code = ("import sys, hrmtrain.commands, hrmtrain.cli; "
            "heavy = sorted(m for m in ('torch', 'transformers', 'hrmtrain.train.stage', 'hrmtrain.eval.stage') "
            "if m in sys.modules); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr[-1000:]
