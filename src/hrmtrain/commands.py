"""Every `hrmtrain` command in one table: its name, what it does, and the function that runs it.

Each package declares its commands beside its code (`<package>/commands.py`); this table maps names to
them with real imports (the command modules are light: each imports its stage only when it runs). A
command is a stage (`run`: takes the composed Hydra config), a tool (`tool`: takes its argv, argparse), or
both: its `tool_actions` are the first words that go to the tool (`hrmtrain data redact ...`), anything
else composes the config for the stage (`hrmtrain data data.raw=...`). `cli.py` only dispatches;
`pipeline.py` takes its steps and their `[n/N]` labels from `PIPELINE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hrmtrain import pipeline, run_report
from hrmtrain.data import commands as data
from hrmtrain.eval import commands as evaluation
from hrmtrain.export import commands as export
from hrmtrain.humaneval import commands as humaneval
from hrmtrain.lineage import commands as lineage
from hrmtrain.privacy import commands as consent
from hrmtrain.retrieval import commands as retrieval
from hrmtrain.train import commands as train

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


@dataclass(frozen=True)
class Command:
    summary: str
    run: Callable | None = None  # a stage: run(cfg) with the composed config
    tool: Callable[[list[str]], int] | None = None  # a tool: tool(argv) -> exit code
    tool_actions: tuple[str, ...] = ()  # with both: the first words that go to the tool

    def takes_tool(self, argv: list[str]) -> bool:
        """Whether `hrmtrain <name> <argv>` runs the tool (else the stage)."""
        return self.run is None or bool(argv and argv[0] in self.tool_actions)


def export_stage(cfg: HrmConfig) -> None:
    """`hrmtrain export`, then the run's report (if it has one) gains or renews its export section."""
    run_report.refresh(export.run(cfg))


def eval_stage(cfg: HrmConfig) -> None:
    """`hrmtrain eval`; with suite=bfcl on a run's model, the run's report gains or renews its BFCL section."""
    run_dir = evaluation.run(cfg)
    if run_dir is not None:
        run_report.refresh(run_dir)


# `hrmtrain pipeline`: these commands' work, in this order ([n/N] in its output)
PIPELINE = ("data", "train", "retrieval", "eval", "loadtest", "export", "report")


def pipeline_stage(cfg: HrmConfig) -> None:
    pipeline.run(cfg, {name: COMMANDS[name].summary for name in PIPELINE})


def humaneval_tool(argv: list[str]) -> int:
    return humaneval.humaneval_main(argv, write_run_report=run_report.write_report)


COMMANDS: dict[str, Command] = {
    "data": Command("household files -> consent, redaction, instruction examples, splits in data.path; "
                    "tools: ingest DIR --out OUT | redact IN OUT",
                    run=data.run, tool=data.tools, tool_actions=data.TOOL_ACTIONS),
    "train": Command("supervised fine-tuning of the L-Module (full or LoRA)", run=train.run),
    "eval": Command("test, curated and safety tasks under the HRM loop and the flat baseline "
                    "(eval.policy=local|openai|scripted|noop); suite=bfcl: BFCL's own suite on the served model and its base",
                    run=eval_stage),
    "loadtest": Command("latency (TTFT, ITL, TPOT), throughput, goodput and memory of an OpenAI-compatible server: "
                        "closed-loop concurrency and open-loop rates, with the knee",
                        run=evaluation.loadtest),
    "retrieval": Command("household documents -> embedder and reranker adapted, measured on held-out questions",
                         run=retrieval.run),
    "export": Command("a run's L-Module, embedder and reranker -> ONNX (checked against PyTorch), TensorRT where a "
                      "GPU exists, NVFP4 checkpoint -> versioned model repository (Triton layout); tools: list | "
                      "verify | promote MODEL VERSION | rollback MODEL | serve",
                      run=export_stage, tool=export.tools, tool_actions=export.TOOL_ACTIONS),
    "plan": Command("memory per GPU for the configured base and trainer: full, LoRA, QLoRA, FSDP2 over N GPUs "
                    "(plan.gpu_memory_gb=96)", run=train.plan),
    "report": Command("write runs/<name>/report.html for a finished run", run=run_report.run),
    "pipeline": Command("data, train, retrieval, eval (trained vs untrained base), loadtest, export and report, "
                        "in order", run=pipeline_stage),
    "humaneval": Command("create | add-rater | raters | serve | report | export | import: human rating studies",
                         tool=humaneval_tool),
    "consent": Command("add-member | grant | revoke | list: the household's consent registry", tool=consent.main),
    "lineage": Command("verify | trace PATH | affected --member NAME | list: the audit log", tool=lineage.main),
}


def stage_names() -> list[str]:
    """Commands that compose a Hydra config (what `hrmtrain <name> key=value ...` accepts)."""
    return [n for n, c in COMMANDS.items() if c.run is not None]


def _check() -> None:
    """The pipeline's steps are commands; every command runs something (checked at import, as litgpt
    checks its PARSER_DATA)."""
    missing = [s for s in PIPELINE if s not in COMMANDS]
    idle = [n for n, c in COMMANDS.items() if c.run is None and c.tool is None]
    if missing or idle:
        raise RuntimeError(f"command table out of sync: pipeline steps {missing} unknown, {idle} run nothing")


_check()
