"""`hrmtrain eval`: run the test tasks under the HRM loop and the flat baseline; write results JSON.

Results go to `<run>/eval/results.json` when a run's model is evaluated (so the run's report can
show them), else to `<run.dir>/eval-<policy>.json`. Every episode is kept, with its stop reason,
tool calls and timing, beside the summaries.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import OmegaConf

from hrmtrain import __version__, atomic
from hrmtrain.errors import HrmError
from hrmtrain.eval.loop import Budget, run_flat, run_hrm
from hrmtrain.eval.metrics import summarise
from hrmtrain.eval.tasks import load_tasks


def _value(x) -> str:
    return str(getattr(x, "value", x))


def model_path(cfg) -> Path:
    """eval.model, or the model of run.name, or the newest run's model under run.dir."""
    if cfg.eval.model:
        path = Path(cfg.eval.model)
    else:
        root = Path(cfg.run.dir)
        if cfg.run.name:
            path = root / cfg.run.name / "model"
        else:
            runs = sorted((p for p in root.glob("*/model") if (p / "config.json").is_file()),
                          key=lambda p: p.stat().st_mtime)
            if not runs:
                raise HrmError(f"{root}: no trained model to evaluate (train first, or set eval.model=PATH)")
            path = runs[-1]
    if not (path / "config.json").is_file():
        raise HrmError(f"{path}: not a model folder (no config.json); set eval.model=PATH")
    return path


def make_policy_factory(cfg, model: Path | None):
    from hrmtrain.eval.policies import LocalPolicy, NoopPolicy, ScriptedPolicy

    kind = _value(cfg.eval.policy)
    if kind == "scripted":
        return lambda task: ScriptedPolicy(task.gold_calls, task.gold_answer)
    if kind == "noop":
        policy = NoopPolicy()
        return lambda task: policy
    policy = LocalPolicy(str(model), temperature=cfg.eval.temperature, seed=cfg.eval.seed,
                         enable_thinking=cfg.data.enable_thinking)
    return lambda task: policy


def evaluate(cfg) -> tuple[dict, Path]:
    e = cfg.eval
    tasks = load_tasks(e.tasks or cfg.data.path)
    if e.max_tasks:
        tasks = tasks[: e.max_tasks]
    kind = _value(e.policy)
    model = model_path(cfg) if kind == "local" else None
    factory = make_policy_factory(cfg, model)
    budget = Budget(**OmegaConf.to_container(e.budget))
    loops = {"hrm": run_hrm, "flat": run_flat}
    wanted = ["hrm", "flat"] if _value(e.loop) == "both" else [_value(e.loop)]
    from tqdm.auto import tqdm

    results: dict = {"policy": kind, "model": str(model) if model else None, "planner": "passthrough",
                     "budget": OmegaConf.to_container(e.budget), "tasks": len(tasks),
                     "hrmtrain_version": __version__, "loops": {}}
    for name in wanted:
        started = time.perf_counter()
        episodes = [loops[name](t, factory(t), budget) for t in tqdm(tasks, desc=f"eval {name}", unit="task")]
        summary = summarise(episodes, tasks)
        summary["wall_s"] = time.perf_counter() - started
        summary["harness_s_per_step"] = (sum(ep.harness_s for ep in episodes)
                                         / max(1, sum(len(ep.calls) + 1 for ep in episodes)))
        results["loops"][name] = {"summary": summary, "episodes": [ep.to_dict() for ep in episodes]}
    out = (model.parent / "eval" / "results.json") if model and model.name == "model" \
        else Path(cfg.run.dir) / f"eval-{kind}.json"
    atomic.write_json(out, results)
    return results, out


def print_results(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hrmtrain eval: policy={results['policy']}, {results['tasks']} tasks")
    table.add_column("task type")
    loops = list(results["loops"])
    for name in loops:
        table.add_column(f"{name} success (95% CI)", justify="right")
    types = sorted({t for r in results["loops"].values() for t in r["summary"]["per_task_type"]})

    def cell(r):
        return f"{r['success']}/{r['n']} ({r['ci95'][0]:.2f}-{r['ci95'][1]:.2f})"

    for t in types:
        table.add_row(t, *(cell(results["loops"][n]["summary"]["per_task_type"][t]) for n in loops))
    table.add_row("overall", *(cell(results["loops"][n]["summary"]["overall"]) for n in loops), style="bold")
    Console().print(table)


def run(cfg):
    results, out = evaluate(cfg)
    print_results(results)
    print(f"hrmtrain eval: results in {out}")
    return results
