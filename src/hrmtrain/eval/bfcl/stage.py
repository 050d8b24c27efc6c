"""`hrmtrain eval suite=bfcl`: the Berkeley Function Calling Leaderboard's own generation and checker on the
served L-Module and on its untrained base, per category, and the change between them (forgetting).

Each model is served by `transformers serve` on 127.0.0.1 (eval/server.py), BFCL's CLI answers and scores
its fixed subset from the separate environment (environment.py, runner.py), and the results go to
`<run>/eval/bfcl.json` (or `<run.dir>/bfcl.json` for a model outside a run), which the run's report shows.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hrmtrain import atomic
from hrmtrain.errors import HrmError
from hrmtrain.eval.bfcl import environment
from hrmtrain.eval.bfcl.capped_endpoint import CappedEndpoint
from hrmtrain.eval.bfcl.runner import BfclRun, score_served
from hrmtrain.eval.metrics import wilson

if TYPE_CHECKING:
    from hrmtrain.config import BfclConfig, HrmConfig

SUBSET = Path(__file__).resolve().parent / "subset.json"


def fixed_subset() -> dict[str, list[str]]:
    """The bundled fixed ids: 15 entries per category, taken evenly across each category's file of
    bfcl-eval 2026.3.23 (entry i * n // 15), 105 in all."""
    return json.loads(SUBSET.read_text())


def bfcl_ids(b: BfclConfig, env_python: Path) -> dict[str, list[str]]:
    """category -> ids: the fixed subset's, or (eval.bfcl.subset=full) every id of the category, read from
    the data files inside the BFCL environment; the first eval.bfcl.limit of each, if set."""
    ids = _all_ids(b, env_python)
    return {c: v[: b.limit] for c, v in ids.items()} if b.limit else ids


def _all_ids(b: BfclConfig, env_python: Path) -> dict[str, list[str]]:
    import subprocess

    if str(b.subset) == "fixed":
        subset = fixed_subset()
        unknown = [c for c in b.categories if c not in subset]
        if unknown:
            raise HrmError(f"eval.bfcl.categories: the fixed subset has no ids for {unknown}; it covers "
                           f"{sorted(subset)} (eval.bfcl.subset=full takes every entry of any category)")
        return {c: subset[c] for c in b.categories}
    code = ("import json, sys, pathlib, bfcl_eval; d = pathlib.Path(bfcl_eval.__file__).parent / 'data'\n"
            "print(json.dumps({c: [json.loads(l)['id'] for l in open(d / f'BFCL_v4_{c}.json') if l.strip()] "
            "for c in sys.argv[1:]}))")
    proc = subprocess.run([str(env_python), "-c", code, *b.categories], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HrmError(f"eval.bfcl.categories: BFCL has no data file for one of {list(b.categories)}:\n"
                       f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    return json.loads(proc.stdout)


def summarise(per_category: dict[str, dict]) -> dict:
    """BFCL's accuracy per category, with a Wilson interval, and two summaries: the unweighted mean over
    categories (BFCL's own way of averaging) and all entries pooled."""
    for r in per_category.values():
        r["ci95"] = list(wilson(r["correct"], r["total"]))
    correct = sum(r["correct"] for r in per_category.values())
    total = sum(r["total"] for r in per_category.values())
    return {"per_category": per_category,
            "mean_accuracy": sum(r["accuracy"] for r in per_category.values()) / max(1, len(per_category)),
            "pooled": {"correct": correct, "total": total, "accuracy": correct / max(1, total),
                       "ci95": list(wilson(correct, total))}}


def change(trained: dict, base: dict) -> dict:
    """Per category: trained minus base accuracy, and the entries only one of them got right (paired)."""
    out = {}
    for category, t in trained["per_category"].items():
        b = base["per_category"].get(category)
        if b is None:
            continue
        t_fail, b_fail = set(t["failed_ids"]), set(b["failed_ids"])
        out[category] = {"delta": t["accuracy"] - b["accuracy"], "gained": len(b_fail - t_fail),
                         "lost": len(t_fail - b_fail)}
    out["mean"] = {"delta": trained["mean_accuracy"] - base["mean_accuracy"]}
    return out


def score_model(b: BfclConfig, env_python: Path, model: Path, ids: dict, work: Path, label: str) -> dict:
    """One model: served, answered and scored by BFCL (work/ is its BFCL project folder, made afresh)."""
    from tqdm.auto import tqdm

    from hrmtrain.eval.server import ServedModel

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    run = BfclRun(env_python, work, b.handler, ids, b.timeout_s)
    total = sum(len(v) for v in ids.values())
    started = time.perf_counter()
    with ServedModel(model, work / "server.log", device=b.server_device, extra_args=list(b.server_args)) as server, \
            CappedEndpoint(f"http://{server.host}:{server.port}", b.max_new_tokens) as endpoint:
        with tqdm(total=total, desc=f"bfcl {label}", unit="entry") as bar:
            def progress(n: int) -> None:
                if min(n, total) > bar.n:
                    bar.update(min(n, total) - bar.n)
            scored = score_served(run, server.model, endpoint.host, endpoint.port, work / "bfcl.log", progress)
    return {"model": str(model), **summarise(scored["per_category"]), "generate_s": scored["generate_s"],
            "evaluate_s": scored["evaluate_s"], "wall_s": round(time.perf_counter() - started, 1),
            "answers": endpoint.summary(), "project": str(work)}


def env_dir(b: BfclConfig) -> Path:
    from hrmtrain.models.wheel_base import cache_root

    return Path(b.env_dir) if b.env_dir else environment.default_dir(cache_root())


def evaluate_bfcl(cfg: HrmConfig, model: Path, base: Path | None, out: Path) -> dict:
    """BFCL on `model` (and on `base`, if given): per-category results, the change, written to `out`."""
    b = cfg.eval.bfcl
    atomic.ensure_writable(out.parent, "results folder")
    env = env_dir(b)
    python = environment.ensure(env)
    ids = bfcl_ids(b, python)
    work = out.parent / "bfcl"
    results: dict = {"suite": "bfcl", "bfcl_eval": environment.bfcl_version(env), "handler": b.handler,
                     "subset": str(b.subset) + (f", first {b.limit} of each category" if b.limit else ""), "ids": ids,
                     "max_new_tokens": b.max_new_tokens, "entries": sum(len(v) for v in ids.values()),
                     "server": {"command": "transformers serve", "device": b.server_device,
                                "args": list(b.server_args)},
                     "models": {}}
    results["models"]["trained"] = score_model(b, python, model, ids, work / "trained", "trained")
    if base is not None:
        results["models"]["base"] = score_model(b, python, base, ids, work / "base", "base")
        results["change"] = change(results["models"]["trained"], results["models"]["base"])
    atomic.write_json(out, results)
    return results


def print_bfcl(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    models = results["models"]
    table = Table(title=f"BFCL ({results['bfcl_eval']}, handler {results['handler']}, {results['subset']} subset: "
                        f"{results['entries']} entries), accuracy by BFCL's checker")
    table.add_column("category")
    for name in models:
        table.add_column(name, justify="right")
    if "change" in results:
        table.add_column("change", justify="right")
    for category in results["ids"]:
        row = [category] + [f"{m['per_category'][category]['correct']}/{m['per_category'][category]['total']} "
                            f"({m['per_category'][category]['accuracy']:.0%})" for m in models.values()]
        if "change" in results:
            row.append(f"{results['change'][category]['delta']:+.0%}")
        table.add_row(*row)
    row = ["mean over categories"] + [f"{m['mean_accuracy']:.1%}" for m in models.values()]
    if "change" in results:
        row.append(f"{results['change']['mean']['delta']:+.1%}")
    table.add_row(*row, style="bold")
    Console().print(table)


def run(cfg: HrmConfig) -> dict:
    """Results (also in bfcl.json); `run_dir` in them is the run whose report gains the section, if any."""
    from hrmtrain import runs
    from hrmtrain.eval.stage import base_model_dir, model_path

    model = model_path(cfg)
    in_run = model.name == "model"
    if cfg.eval.bfcl.compare_base and not in_run:
        raise HrmError(f"{model}: eval.bfcl.compare_base needs a run's model (runs/<name>/model) to find its base; "
                       "set eval.bfcl.compare_base=false to score this model alone")
    out = (model.parent / "eval" / "bfcl.json") if in_run else Path(cfg.run.dir) / "bfcl.json"
    base = (base_model_dir(runs.trained_model_config(model.parent, cfg.model), model.parent)
            if cfg.eval.bfcl.compare_base else None)
    results = evaluate_bfcl(cfg, model, base, out)
    results["run_dir"] = str(model.parent) if in_run else None
    print_bfcl(results)
    print(f"hrmtrain eval suite=bfcl: results in {out}")
    return results
