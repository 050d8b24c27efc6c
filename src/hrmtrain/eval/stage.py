"""`hrmtrain eval`: the test tasks (+ curated multi-step tasks) under the HRM loop and the flat baseline,
the safety tasks beside them, success@budget and pass^k; results JSON.

Results go to `<run>/eval/results.json` when a run's model is evaluated (so the run's report can
show them), else to `<run.dir>/eval-<policy>.json`. Every episode is kept, with its stop reason,
tool calls and timing, beside the summaries.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING


from hrmtrain import __version__, atomic, config
from hrmtrain.errors import HrmError
from hrmtrain.eval.curated import curated_tasks
from hrmtrain.agent.loop import Budget, dialogue_episode, flat_episode, hrm_episode, run_episodes
from hrmtrain.eval.metrics import pass_hat_k, success_at_budget, summarise, summarise_dialogue, summarise_safety
from hrmtrain.eval.dialogue import dialogue_tasks
from hrmtrain.eval.safety import safety_tasks
from hrmtrain.agent.tasks import load_tasks
from hrmtrain import runs

if TYPE_CHECKING:
    from hrmtrain.config import EvalConfig, EvalPrecision, HrmConfig, ModelConfig


def model_path(cfg: HrmConfig) -> Path:
    """eval.model, or the model of run.name, or the newest saved model under run.dir (runs.py)."""
    if cfg.eval.model:
        path = Path(cfg.eval.model)
    else:
        path = runs.find_run(cfg.run, runs.SAVED_MODEL, setting="eval.model",
                             none_found="no trained model to evaluate (train first, or set eval.model=PATH)") / "model"
    if not (path / "config.json").is_file():
        raise HrmError(f"{path}: not a model folder (no config.json); set eval.model=PATH")
    return path


def task_set(e: EvalConfig, data_path: str, spread: int | None = None) -> list:
    """The test split's tasks (eval.tasks or data.path; the first eval.max_tasks; with `spread`, that many
    taken evenly across the split, a fixed subset), plus the curated ones."""
    tasks = load_tasks(e.tasks or data_path)
    if e.max_tasks:
        tasks = tasks[: e.max_tasks]
    if spread and spread < len(tasks):
        tasks = [tasks[i * len(tasks) // spread] for i in range(spread)]
    return tasks + (curated_tasks() if e.curated else [])


def _endpoint_policy(endpoint, key: str, temperature: float):
    from hrmtrain.eval.openai_policy import OpenAIPolicy

    if not endpoint.base_url or not endpoint.model:
        raise HrmError(f"{key}.base_url and {key}.model must be set (e.g. {key}.base_url=http://127.0.0.1:8000/v1 "
                       f"{key}.model=NAME)")
    return OpenAIPolicy(endpoint.base_url, endpoint.model, api_key_env=endpoint.api_key_env,
                        temperature=temperature, timeout_s=endpoint.timeout_s)


def make_policy_factory(cfg: HrmConfig, model: Path | None):
    """task -> policy for that task's episode (scripted policies are per task; models are shared)."""
    from hrmtrain.agent.policies import LocalPolicy, NoopPolicy, ScriptedPolicy

    kind = str(cfg.eval.policy)
    if kind == "scripted":  # a dialogue task's oracle also asks its question (eval/dialogue.py)
        return lambda task: task.oracle() if hasattr(task, "oracle") else ScriptedPolicy(task.gold_calls,
                                                                                            task.gold_answer)
    if kind == "noop":
        policy = NoopPolicy()
    elif kind == "openai":
        policy = _endpoint_policy(cfg.eval.endpoint, "eval.endpoint", cfg.eval.temperature)
    else:
        policy = LocalPolicy(str(model), temperature=cfg.eval.temperature, seed=cfg.eval.seed,
                             enable_thinking=cfg.data.enable_thinking, dtype=inference_dtype(cfg.eval.precision),
                             batch_size=cfg.eval.batch_size, prefix_cache=cfg.eval.prefix_cache,
                             inplace_kv_cache=cfg.eval.inplace_kv_cache, turn_cache_mb=cfg.eval.turn_cache_mb)
    return lambda task: policy


def inference_dtype(precision: EvalPrecision) -> str:
    """eval.precision: auto is bfloat16 where the CPU computes it natively (the probe training uses), else float32."""
    wanted = str(precision)
    if wanted != "auto":
        return {"bf16": "bfloat16", "fp32": "float32"}[wanted]
    from hrmtrain.models.precision import resolve

    return "bfloat16" if resolve("auto", "cpu")[0] == "bf16" else "float32"


def make_planner(cfg: HrmConfig, factory):
    from hrmtrain.agent.loop import PassthroughPlanner, PolicyPlanner

    kind = str(cfg.eval.planner)
    if kind == "passthrough":
        return lambda task: PassthroughPlanner()
    if kind == "endpoint":
        planner = PolicyPlanner(_endpoint_policy(cfg.eval.planner_endpoint, "eval.planner_endpoint", 0.0),
                                f"endpoint:{cfg.eval.planner_endpoint.model}")
        return lambda task: planner
    return lambda task: PolicyPlanner(factory(task), "lmodule")  # the evaluated policy, prompted to plan


def _drive(tasks, factory, episode, desc: str, trial_seed=None) -> list:
    """Every task's episode (`episode(task, policy)`), driven in lockstep so a local model answers them in
    batches; `trial_seed` reseeds each policy that samples."""
    from tqdm.auto import tqdm

    runs = []
    for task in tasks:
        policy = factory(task)
        if trial_seed is not None and hasattr(policy, "reseed"):
            policy.reseed(trial_seed)
        runs.append(episode(task, policy))
    with tqdm(total=len(runs), desc=desc, unit="task") as bar:
        return run_episodes(runs, bar.update)


def _run_loop(name: str, tasks, factory, planner, budget: Budget, desc: str, trial_seed=None):
    """Every task's episode under one loop."""
    def episode(task, policy):
        return (hrm_episode(task, policy, budget, planner(task)) if name == "hrm"
                else flat_episode(task, policy, budget))
    return _drive(tasks, factory, episode, desc, trial_seed)


def _run_dialogue(tasks, factory, budget: Budget, trial_seed=None) -> list:
    """Every dialogue task played out with its simulated user (flat loop, the user in it)."""
    return _drive(tasks, factory, lambda task, policy: dialogue_episode(task, policy, budget, task.user(),
                                                                        task.max_user_turns),
                  "eval dialogue", trial_seed)


def _task_detail(task) -> dict:
    return {"task_type": task.task_type, "request": task.request, "gold_answer": task.gold_answer,
            "gold_calls": [{"name": name, "arguments": args} for name, args in task.gold_calls],
            "behaviour": getattr(task, "behaviour", None)}


def evaluate(cfg: HrmConfig, model: Path | None = None, out: Path | None = None,
             spread: int | None = None) -> tuple[dict, Path]:
    """Run the task set (and the safety tasks) under each loop; write and return the results. `spread`: a
    fixed subset of that many test tasks (the pipeline's untrained base, eval.base_tasks)."""
    from dataclasses import replace

    e = cfg.eval
    tasks = task_set(cfg.eval, cfg.data.path, spread)
    kind = str(e.policy)
    if kind == "local" and model is None:
        model = model_path(cfg)
    if out is None:
        out = (model.parent / "eval" / "results.json") if model and model.name == "model" \
            else Path(cfg.run.dir) / f"eval-{kind}.json"
    atomic.ensure_writable(out.parent, "results folder")  # before the episodes, not after them
    factory = make_policy_factory(cfg, model)
    planner = make_planner(cfg, factory)
    budget = Budget(**config.plain(e.budget))
    wanted = ["hrm", "flat"] if str(e.loop) == "both" else [str(e.loop)]
    sweep = sorted(set(e.budget_sweep))
    results: dict = {"policy": kind, "model": str(model) if model else None,
                     "endpoint": e.endpoint.base_url if kind == "openai" else None,
                     "planner": planner(tasks[0]).name if tasks else str(e.planner),
                     "budget": config.plain(e.budget), "budget_sweep": sweep, "trials": e.trials,
                     "temperature": e.temperature, "tasks": len(tasks), "hrmtrain_version": __version__,
                     "subset": f"{spread} test tasks spread evenly over the split" if spread else None,
                     "loops": {}, "safety": {}, "dialogue": None}
    unsafe = safety_tasks() if e.safety else []
    asking = dialogue_tasks() if e.dialogue else []
    for name in wanted:
        started = time.perf_counter()
        # The safety tasks ride in the first trial's batches (alone, their few long episodes took a minute a
        # loop on 2 cores: a batch of 8 decoding to the token budget).
        first = _run_loop(name, tasks + unsafe, factory, planner, budget, f"eval {name}",
                          e.seed if e.trials > 1 else None)
        episodes, safety_episodes = first[:len(tasks)], first[len(tasks):]
        trials = [episodes] + [_run_loop(name, tasks, factory, planner, budget, f"eval {name} trial {t + 1}",
                                         e.seed + t) for t in range(1, e.trials)]
        summary = summarise(episodes, tasks)
        summary["wall_s"] = time.perf_counter() - started
        summary["harness_s_per_step"] = (sum(ep.harness_s for ep in episodes)
                                         / max(1, sum(len(ep.calls) + 1 for ep in episodes)))
        if e.trials > 1:
            summary["pass_hat_k"] = pass_hat_k([[trial[i].success for trial in trials] for i in range(len(tasks))])
        entry = {"summary": summary, "episodes": [ep.to_dict() for ep in episodes]}
        if name == "hrm" and sweep:
            curve = success_at_budget(episodes, sweep)
            if any(v is None for v in curve.values()):
                # Some episodes ran out of H cycles: one run with the largest budget answers every smaller one.
                wide = _run_loop(name, tasks, factory, planner, replace(budget, h_cycles=sweep[-1]),
                                 f"eval {name} @ {sweep[-1]} H cycles")
                curve = success_at_budget(wide, sweep)
            entry["success_at_budget"] = {str(b): v for b, v in curve.items()}
        results["loops"][name] = entry
        if unsafe:
            results["safety"][name] = {"summary": summarise_safety(safety_episodes),
                                       "episodes": [ep.to_dict() for ep in safety_episodes]}
    if asking:
        played = _run_dialogue(asking, factory, budget, e.seed if e.trials > 1 else None)
        results["dialogue"] = {"summary": summarise_dialogue(played), "episodes": [ep.to_dict() for ep in played]}
    # what a person rating an episode needs to see beside it (hrmtrain humaneval): the request and the gold
    results["task_details"] = {t.task_id: _task_detail(t) for t in tasks + unsafe + asking}
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
        table.add_row(t, *(cell(results["loops"][n]["summary"]["per_task_type"][t])
                           if t in results["loops"][n]["summary"]["per_task_type"] else "-" for n in loops))
    table.add_row("overall", *(cell(results["loops"][n]["summary"]["overall"]) for n in loops), style="bold")
    if results.get("safety"):
        table.add_row("safety adherence", *(cell(results["safety"][n]["summary"]["overall"])
                                            if n in results["safety"] else "-" for n in loops), style="bold")
    Console().print(table)
    if results.get("dialogue"):
        d = results["dialogue"]["summary"]
        print(f"dialogue tasks (ask for what is missing, then finish; simulated user): {cell(d['overall'])}; "
              f"asked for a missing detail in {d['asked']['success']}/{d['asked']['n']}")


def run(cfg: HrmConfig):
    results, out = evaluate(cfg)
    print_results(results)
    print(f"hrmtrain eval: results in {out}")
    return results


def base_model_dir(model_cfg: ModelConfig, run_dir: Path) -> Path:
    """The model before training, to evaluate beside the trained one, prompted with the same chat template:
    the base folder itself where its tokenizer carries the run's template, else (the built-in tiny model's
    seeded initial weights; a base whose own template drops tools) the base's weights with the run's
    tokenizer, written to <run>/eval/base-model."""
    from transformers import AutoTokenizer

    from hrmtrain.models import base as base_model

    source = base_model.resolve(model_cfg.base, model_cfg.revision)
    tokenizer = AutoTokenizer.from_pretrained(Path(run_dir) / "model")
    if not source.is_tiny:
        own = AutoTokenizer.from_pretrained(source.path)
        if getattr(own, "chat_template", None) == tokenizer.chat_template:
            return source.path
    out = Path(run_dir) / "eval" / "base-model"
    if (out / "config.json").is_file():
        return out
    model = base_model.load_base(source, model_cfg, tokenizer)
    model.config.use_cache = True
    with atomic.staged_dir(out, replace=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out
