"""The house's floors, checked on the source: the ground floor imports no stage and no entry module, no stage
imports another stage, and no import (lazy ones included) runs in a circle.

Floors, bottom up:
- ground: atomic, errors, jsonl, config, lineage, runs, household/, report/ (html and page), and the
  shared services: privacy/ (household directory, consent, redaction), models/ (resolve and load a base,
  precision, chat templates, the NVFP4 format and checkpoint), prompt/ (the L-Module's system prompt and
  chat encoding), sample/ (the seeded sample household and its documents), agent/ (tasks, policies and the
  HRM loop that runs an episode);
- stages: data, train, retrieval, eval, export, humaneval;
- entry: cli, commands, pipeline, run_report, sweep, __main__ (may import anything).
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT


SRC = ROOT / "src"
STAGES = ("data", "train", "retrieval", "eval", "export", "humaneval")
GROUND = ("hrmtrain.atomic", "hrmtrain.errors", "hrmtrain.jsonl", "hrmtrain.config", "hrmtrain.lineage",
          "hrmtrain.runs", "hrmtrain.household", "hrmtrain.report", "hrmtrain.privacy", "hrmtrain.models",
          "hrmtrain.prompt", "hrmtrain.sample", "hrmtrain.agent")
ENTRY = ("hrmtrain.cli", "hrmtrain.commands", "hrmtrain.pipeline", "hrmtrain.run_report", "hrmtrain.sweep",
         "hrmtrain.__main__")


def modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "hrmtrain").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, name: str, known: dict) -> set[str]:
    """Every hrmtrain module `path` imports, at module level or inside a function, resolved to a module
    (`from hrmtrain.x import y` is module `hrmtrain.x.y` where that exists, else `hrmtrain.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hrmtrain")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hrmtrain") and not node.level:
            for a in node.names:
                found.add(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imports(path, name, mods) if m in mods} for name, path in mods.items()}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def floor(module: str) -> str:
    if stage_of(module):
        return "stage"
    if any(module == g or module.startswith(g + ".") for g in GROUND):
        return "ground"
    if module in ENTRY:
        return "entry"
    return "package"  # hrmtrain/__init__.py


def test_every_module_has_a_floor():
    assert {m for m in graph() if floor(m) == "package"} == {"hrmtrain"}


def test_the_ground_floor_imports_no_stage_and_no_entry():
    up = sorted((a, b) for a, targets in graph().items() if floor(a) == "ground"
                for b in targets if floor(b) in ("stage", "entry"))
    assert up == []


def test_no_stage_imports_the_entry():
    up = sorted((a, b) for a, targets in graph().items() if floor(a) == "stage" for b in targets if floor(b) == "entry")
    assert up == []


def test_no_stage_imports_another_stage():
    crossings = sorted((a, b) for a, targets in graph().items() for b in targets
                       if stage_of(a) and stage_of(b) and stage_of(a) != stage_of(b))
    assert crossings == []


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_checks_notice_a_circle_and_an_upward_import():
    g = {"hrmtrain.report.page": {"hrmtrain.eval.stage"}, "hrmtrain.eval.stage": {"hrmtrain.report.page"}}
    assert _cycles(g) == [["hrmtrain.eval.stage", "hrmtrain.report.page"]]
    assert floor("hrmtrain.report.page") == "ground" and floor("hrmtrain.eval.stage") == "stage"


def test_no_import_runs_in_a_circle():
    assert _cycles(graph()) == []
