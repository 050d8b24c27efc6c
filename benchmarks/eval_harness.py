"""Harness overhead of the evaluation loop: time per loop step spent outside the model.

    python benchmarks/eval_harness.py [--repeats 5] [--data data/sft]

Runs every test task of the sample household (built in a temporary folder unless --data points at
splits written by `hrmtrain data`) with the scripted oracle policy, whose turns cost nothing, so
almost all measured time is the harness: starting the household from its JSON state, validating
and executing tool calls, message bookkeeping, and the final state-hash check. Reports, per loop,
the median over repeats of the harness time per loop step (a step = one policy turn), and as the
baseline in the same run the time of the bare tool executions alone (`execute` on the same calls),
so the ratio says what the loop adds on top of the tools themselves.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def sample_splits(tmp: Path) -> Path:
    from hrmtrain.config import compose
    from hrmtrain.data.build import build
    from hrmtrain.sample.household import generate

    generate(tmp / "household", seed=0)
    build(compose([f"data.raw={tmp / 'household'}", f"data.path={tmp / 'sft'}", f"lineage.dir={tmp / 'lineage'}"]))
    return tmp / "sft"


def bare_tools_s(tasks) -> float:
    from hrmtrain.household.tools import execute

    started = time.perf_counter()
    for t in tasks:
        h = t.start()
        for name, args in t.gold_calls:
            execute(h, name, args)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", help="splits folder written by `hrmtrain data` (default: build the sample household)")
    args = ap.parse_args()

    from hrmtrain.agent.loop import Budget, run_flat, run_hrm
    from hrmtrain.agent.policies import ScriptedPolicy
    from hrmtrain.agent.tasks import load_tasks

    with tempfile.TemporaryDirectory() as tmp:
        tasks = load_tasks(args.data or sample_splits(Path(tmp)))
    steps = sum(len(t.gold_calls) + 1 for t in tasks)  # one turn per gold call, plus the answer
    print(f"{len(tasks)} tasks, {steps} loop steps per pass, {args.repeats} repeats")
    base = statistics.median(bare_tools_s(tasks) for _ in range(args.repeats)) / steps
    print(f"{'loop':<8}{'harness us/step':>18}{'bare tools us/step':>21}{'ratio':>8}")
    for name, loop in (("hrm", run_hrm), ("flat", run_flat)):
        per_step = []
        for _ in range(args.repeats):
            episodes = [loop(t, ScriptedPolicy(t.gold_calls, t.gold_answer), Budget()) for t in tasks]
            assert all(e.success for e in episodes), "the oracle must succeed"
            per_step.append(sum(e.harness_s for e in episodes) / steps)
        median = statistics.median(per_step)
        print(f"{name:<8}{median * 1e6:>18.0f}{base * 1e6:>21.0f}{median / base:>7.1f}x")


if __name__ == "__main__":
    main()
