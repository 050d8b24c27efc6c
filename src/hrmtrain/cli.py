"""`hrmtrain <command> ...`: dispatch to the command table (commands.py): a stage through Hydra, a tool with
its argv."""

from __future__ import annotations

import sys
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


def _usage() -> str:
    from hrmtrain.commands import COMMANDS

    width = max(map(len, COMMANDS))
    lines = "\n".join(f"  {name.ljust(width)}  {c.summary}" for name, c in COMMANDS.items())
    return USAGE.format(stages=lines)


# Libraries that log routine INFO lines ("will use `file` transport") under Hydra's INFO root logger.
QUIET_LOGGERS = ("openlineage", "faiss.loader", "presidio-analyzer", "presidio-anonymizer", "datasets", "httpx",
                 "onnx_ir", "onnxscript", "torch.onnx")


class _UserErrors:
    """Around a command: an HrmError or OSError that `errors.user_message` can word becomes one line on
    stderr, `hrmtrain NAME: error: ...`, kept in `.error` (the caller exits 2); anything else propagates."""

    def __init__(self, name: str):
        self.name, self.error = name, None

    def __enter__(self) -> "_UserErrors":
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        from hrmtrain.errors import HrmError, user_message

        if exc is None or not isinstance(exc, (HrmError, OSError)):
            return False
        message = user_message(exc)
        if message is None:
            return False
        print(f"hrmtrain {self.name}: error: {message}", file=sys.stderr)
        self.error = exc if isinstance(exc, HrmError) else HrmError(message)
        return True


def run_tool(name: str, tool, argv: list[str]) -> None:
    """Run a tool; user errors become one message and exit 2; exit with the tool's code."""
    code = 2
    with _UserErrors(name):
        code = tool(argv)
    sys.exit(code)


def run_stage(stage: str, cfg):
    """Validate the config, then run the stage as an OpenLineage run; user errors become one message and exit 2. In a Hydra
    multirun (`-m`) each job runs as a child process and a failed job does not end the sweep
    (sweep.py reports all jobs at the end)."""
    import logging

    from hrmtrain import sweep
    from hrmtrain.commands import COMMANDS
    from hrmtrain.config import check_values, typed

    job = sweep.multirun_job()
    if job is not None:
        return sweep.run_job_in_child(stage, job)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    from hrmtrain.lineage.openlineage import stage_run

    with _UserErrors(stage) as failed:
        check_values(cfg)
        cfg = typed(cfg)  # the dataclasses of config.py from here on
        # OpenLineage START now, COMPLETE or FAIL when the stage ends (lineage/openlineage.py)
        with stage_run(stage, cfg.lineage.dir, COMMANDS[stage].summary):
            COMMANDS[stage].run(cfg)
    if failed.error is not None:
        sweep.record_outcome(stage, failed.error)
        sys.exit(2)
    sweep.record_outcome(stage, None)
    return None


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (`kill`, a scheduler's stop) ends the command as SystemExit, so that what it started and wrote
    is cleaned up as on Ctrl-C: a model server it started is stopped (eval/server.py: otherwise it goes on
    generating, orphaned), staged output is rolled back, and the stage's OpenLineage run ends as FAIL."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if argv[0] in ("-V", "--version"):
        from hrmtrain import __version__

        print(f"hrmtrain {__version__}")
        return
    _exit_cleanly_on_sigterm()
    stage = argv[0]
    from hrmtrain.commands import COMMANDS

    command = COMMANDS.get(stage)
    if command is None:
        print(f"hrmtrain: unknown stage {stage!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    if command.takes_tool(argv[1:]):
        run_tool(stage, command.tool, argv[1:])
        return

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
