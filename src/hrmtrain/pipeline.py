"""`hrmtrain pipeline`: every stage that exists, in order, on the configured model and data.

data (the household's files, or the generated sample household) -> train -> retrieval adaptation
(embedder and reranker, into the run's retrieval/ folder) -> eval of the trained model and of the
untrained base on the held-out tasks (and, with eval.bfcl.in_pipeline, on BFCL's fixed subset) -> load sweep against a local server of the trained model ->
export of the models into the versioned model repository -> report. When data.path already holds SFT data that `hrmtrain data` did not write,
that data is used as it is. Under torchrun only rank 0 evaluates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from hrmtrain.errors import HrmError
from hrmtrain.run_report import write_report

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


class Steps:
    """`[n/N] name` for each of the pipeline's steps (the command table's PIPELINE), and each step as an
    OpenLineage run whose parent is the pipeline's (`run(name)`)."""

    def __init__(self, steps: dict[str, str], lineage_dir: str = "lineage"):
        self.names, self.descriptions, self.lineage_dir = list(steps), dict(steps), lineage_dir

    def __call__(self, name: str, detail: str = "") -> str:
        return f"[{self.names.index(name) + 1}/{len(self.names)}] {name}" + (f": {detail}" if detail else "")

    def run(self, name: str):
        from hrmtrain.lineage.openlineage import stage_run

        return stage_run(name, self.lineage_dir, self.descriptions.get(name, ""))


def run(cfg: HrmConfig, steps: dict[str, str]) -> None:
    """Every step, in order (module docstring); `steps`: the step names in that order, each with what it does."""
    from hrmtrain.train import distributed
    from hrmtrain.train.stage import train

    step = Steps(steps, cfg.lineage.dir)
    main = int(os.environ.get("RANK", "0")) == 0
    data = Path(cfg.data.path)
    if data.exists() and any(data.iterdir()) and not (data / "manifest.json").is_file():
        print(step("data", f"using the existing data at {data}"))
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise HrmError(f"{data}: under torchrun the pipeline needs its data written first: run `hrmtrain data`")
    else:
        from hrmtrain.data.stage import run as build_data

        print(step("data"))
        with step.run("data"):
            build_data(cfg)
    if main:
        print(step("train"))
    with step.run("train"):
        result = train(cfg)
    result.close(hard_exit=not main)  # rank 0 goes on alone: evaluation and the report need no group
    if main:
        _evaluate_and_report(cfg, result, step)
    distributed.exit_after_fsdp(result.dist)  # not on an error: os._exit(0) would hide it


def _evaluate_and_report(cfg: HrmConfig, result, step: Steps) -> None:
    from hrmtrain.eval.load_stage import loadtest, print_sweep
    from hrmtrain.eval.stage import base_model_dir, evaluate, print_results
    from hrmtrain.train.stage import print_summary

    if cfg.retrieval.in_pipeline:
        from hrmtrain.retrieval.stage import adapt, print_retrieval_results

        print(step("retrieval"))
        out = result.run_dir / "retrieval"
        with step.run("retrieval"):
            print_retrieval_results(adapt(cfg, out), out)
    eval_dir = result.run_dir / "eval"
    with step.run("eval"):
        print(step("eval", "trained model"))
        trained, _ = evaluate(cfg, result.model_dir, eval_dir / "results.json")
        print_results(trained)
        if cfg.eval.compare_base:
            print(step("eval", "untrained base") + (f" (a fixed subset: {cfg.eval.base_tasks} test tasks spread over "
                                                         "the split, plus the curated and safety tasks)"
                                                         if cfg.eval.base_tasks else ""))
            base, _ = evaluate(cfg, base_model_dir(cfg.model, result.run_dir), eval_dir / "base-results.json",
                               spread=cfg.eval.base_tasks)
            print_results(base)
        if cfg.eval.bfcl.in_pipeline:
            from hrmtrain.eval.bfcl.stage import evaluate_bfcl, print_bfcl

            print(step("eval", "BFCL's fixed subset, trained model"
                       + (" and untrained base" if cfg.eval.bfcl.compare_base else "")))
            bfcl_base = base_model_dir(cfg.model, result.run_dir) if cfg.eval.bfcl.compare_base else None
            print_bfcl(evaluate_bfcl(cfg, result.model_dir, bfcl_base, eval_dir / "bfcl.json"))
    if cfg.eval.load.in_pipeline:
        print(step("loadtest"))
        with step.run("loadtest"):
            sweep, _ = loadtest(cfg, result.model_dir, eval_dir / "load.json")
        print_sweep(sweep)
    if cfg.export.in_pipeline:
        from hrmtrain.export.stage import export, print_export_results

        print(step("export"))
        with step.run("export"):
            print_export_results(export(cfg, result.run_dir))
    with step.run("report"):
        report = write_report(result.run_dir)
    print(step("report", str(report)))
    print_summary(result.summary)
    print(f"model: {result.model_dir}\nreport: {report}")
