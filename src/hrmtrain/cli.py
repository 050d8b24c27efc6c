"""`hrmtrain <stage> [hydra overrides]`: dispatch a stage to its Hydra entry point."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

USAGE = """usage: hrmtrain <stage> [key=value ...] [hydra flags]

Stages and commands (`hrmtrain consent --help` for a command's options):
{stages}

Overrides use Hydra syntax, e.g.
  hrmtrain train trainer.max_steps=50 model.base=/path/to/Qwen3-8B
  hrmtrain train experiment=seed_lmodule model.base=tiny
  hrmtrain train model.lora.enabled=true trainer.precision=fp32
  hrmtrain train trainer.resume=true run.name=my-run
  hrmtrain train -m trainer.precision=bf16,fp16,fp32   (one run each; sweep report at the end)
  hrmtrain retrieval retrieval.epochs=1 retrieval.reranker.enabled=false
  hrmtrain export run.name=my-run export.repository=/srv/models
  hrmtrain export list | verify | promote lmodule 2 | rollback lmodule   (--repository DIR)
  hrmtrain plan model.base=qwen3-8b plan.gpu_memory_gb=32   (memory per GPU before renting one)
  hrmtrain train --cfg job          (print the composed config and exit)
  hrmtrain train --help             (Hydra's help: config groups and every key)

Multi-process: torchrun --nproc-per-node 2 -m hrmtrain train trainer.strategy=ddp
"""


@dataclass(frozen=True)
class Stage:
    entry: str  # "module:function" taking the composed DictConfig
    summary: str


STAGES: dict[str, Stage] = {
    "data": Stage("hrmtrain.data.stage:run", "household files -> consent, redaction, instruction examples, splits in data.path"),
    "train": Stage("hrmtrain.train.stage:run", "supervised fine-tuning of the L-Module (full or LoRA)"),
    "eval": Stage("hrmtrain.eval.stage:run",
                  "test, curated and safety tasks under the HRM loop and the flat baseline "
                  "(eval.policy=local|openai|scripted|noop)"),
    "loadtest": Stage("hrmtrain.eval.load_stage:run",
                      "latency/throughput/memory sweep over concurrency against an OpenAI-compatible server"),
    "retrieval": Stage("hrmtrain.retrieval.stage:run",
                       "household documents -> embedder and reranker adapted, measured on held-out questions"),
    "export": Stage("hrmtrain.commands:export_stage",
                    "a run's L-Module, embedder and reranker -> ONNX (checked against PyTorch), TensorRT where "
                    "a GPU exists, NVFP4 checkpoint -> versioned model repository (Triton layout)"),
    "plan": Stage("hrmtrain.train.memory_plan:run",
                  "memory per GPU for the configured base and trainer: full, LoRA, QLoRA, FSDP2 over N GPUs "
                  "(plan.gpu_memory_gb=96)"),
    "report": Stage("hrmtrain.run_report:run", "write runs/<name>/report.html for a finished run"),
    "pipeline": Stage("hrmtrain.pipeline:run",
                      "data, train, retrieval, eval (trained vs untrained base), loadtest, export and report, in order"),
}


EXPORT_ACTIONS = ("list", "verify", "promote", "rollback", "serve")


def _usage() -> str:
    from hrmtrain.commands import COMMANDS

    summaries = {**{n: s.summary for n, s in STAGES.items()}, **{n: c[1] for n, c in COMMANDS.items()}}
    width = max(map(len, summaries))
    lines = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in summaries.items())
    return USAGE.format(stages=lines)


def _load(entry: str):
    module, func = entry.split(":")
    return getattr(importlib.import_module(module), func)


# Libraries that log routine INFO lines ("will use `file` transport") under Hydra's INFO root logger.
QUIET_LOGGERS = ("openlineage", "faiss.loader", "presidio-analyzer", "presidio-anonymizer", "datasets", "httpx",
                 "onnx_ir", "onnxscript", "torch.onnx")


def run_stage(stage: str, cfg):
    """Validate the config, then run the stage; user errors become one message and exit 2. In a Hydra
    multirun (`-m`) each job runs as a child process and a failed job does not end the sweep
    (sweep.py reports all jobs at the end)."""
    import logging

    from hrmtrain import sweep
    from hrmtrain.config import check_values
    from hrmtrain.errors import HrmError

    job = sweep.multirun_job()
    if job is not None:
        return sweep.run_job_in_child(stage, job)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        check_values(cfg)
        _load(STAGES[stage].entry)(cfg)
    except (HrmError, OSError) as exc:
        from hrmtrain.errors import user_message

        message = user_message(exc)
        if message is None:
            raise
        print(f"hrmtrain {stage}: error: {message}", file=sys.stderr)
        sweep.record_outcome(stage, exc if isinstance(exc, HrmError) else HrmError(message))
        sys.exit(2)
    sweep.record_outcome(stage, None)
    return None


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if argv[0] in ("-V", "--version"):
        from hrmtrain import __version__

        print(f"hrmtrain {__version__}")
        return
    stage = argv[0]
    from hrmtrain.commands import COMMANDS, run_command

    if stage in COMMANDS:
        run_command(stage, argv[1:])
        return
    if stage == "data" and len(argv) > 1 and argv[1] in ("ingest", "redact"):
        run_command("data", argv[1:])
        return
    if stage == "export" and len(argv) > 1 and argv[1] in EXPORT_ACTIONS:
        run_command("export", argv[1:])
        return
    if stage not in STAGES:
        print(f"hrmtrain: unknown stage {stage!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)

    import hydra

    from hrmtrain.config import register

    register()

    def task(cfg):
        return run_stage(stage, cfg)

    sys.argv = [f"hrmtrain-{stage}", *argv[1:]]
    conf_dir = str(Path(__file__).resolve().parent / "conf")
    hydra.main(config_path=conf_dir, config_name="config", version_base="1.3")(task)()


if __name__ == "__main__":
    main()
