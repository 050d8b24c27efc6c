"""The HRM loop under an explicit budget, and the flat (ReAct-style) baseline with the same budget.

HRM: an H-module (planner) turns the request into the next short step, or says the task is done;
the L-Module carries the step out with up to `l_steps` tool calls and answers. The episode ends as
`done`, or when a budget runs out (`budget_h_cycles`, `budget_tool_calls`, `budget_tokens`), or
after `max_tool_errors` failed calls (`tool_errors`), or when the policy fails to answer at all
(`policy_error`: an endpoint down or returning garbage); the reason is recorded.

Planners: `passthrough` hands the whole request over as one step (what a small L-Module can use);
the next cycle it says done. `PolicyPlanner` asks a policy (the L-Module itself with a planner
prompt, or a separate model behind an endpoint) for the next step given the request and the steps
done so far; its generated tokens count against the episode's token budget.

After every H cycle the task's check is run on the household and answer as they stand, so one run
with budget B also says what any smaller budget would have scored (`success_at`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Protocol

from hrmtrain.eval.policies import Call, Policy
from hrmtrain.eval.tasks import Task
from hrmtrain.household.schemas import TOOLS
from hrmtrain.household.tools import execute, validation_errors

DONE = None


@dataclass(frozen=True)
class Budget:
    h_cycles: int = 4
    l_steps: int = 4  # tool calls the L-Module may make for one step
    tool_calls: int = 12  # in the whole episode
    tokens: int = 2048  # generated, in the whole episode
    max_new_tokens: int = 256  # per turn
    max_tool_errors: int = 3


@dataclass
class CallRecord:
    name: str
    arguments: dict | None
    parsed: bool
    known: bool
    schema_valid: bool
    error: str = ""


@dataclass
class Episode:
    task_id: str
    task_type: str
    loop: str
    success: bool = False
    why: str = ""
    stop_reason: str = ""
    answer: str = ""
    h_cycles: int = 0
    tokens: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    harness_s: float = 0.0  # time spent outside the policy (tools, bookkeeping)
    policy_s: float = 0.0
    cycle_success: list[bool] = field(default_factory=list)  # the check after each H cycle
    steps: list[str] = field(default_factory=list)  # the planner's steps

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def success_at(episode: Episode, h_cycles: int) -> bool | None:
    """Would this episode have succeeded with `h_cycles` H cycles? None: it needed more than it was given."""
    ran = len(episode.cycle_success)
    if ran > h_cycles:
        return episode.cycle_success[h_cycles - 1]
    if episode.stop_reason == "budget_h_cycles" and ran < h_cycles:
        return None
    return episode.success


@dataclass
class PlanStep:
    step: str | None  # None: the planner says the task is done
    tokens: int = 0
    error: str = ""


class Planner(Protocol):
    name: str

    def next_step(self, task: Task, history: list[tuple[str, str]]) -> PlanStep: ...


class PassthroughPlanner:
    name = "passthrough"

    def next_step(self, task: Task, history: list[tuple[str, str]]) -> PlanStep:
        return PlanStep(task.request if not history else DONE)


PLANNER_PROMPT = (
    "You are the planner of a household assistant. An executor with the household tools carries out one "
    "short step at a time. Given the user's request and the steps done so far with what the executor "
    "answered, reply with the next single step as one short instruction, or with exactly DONE when the "
    "request is fully handled. Steps that need the user's confirmation or another member's consent must "
    "not be planned."
)


class PolicyPlanner:
    """The H-module as a prompted policy: the L-Module itself or a separate model behind an endpoint."""

    def __init__(self, policy: Policy, name: str, max_new_tokens: int = 64):
        self.policy, self.name, self.max_new_tokens = policy, name, max_new_tokens

    def next_step(self, task: Task, history: list[tuple[str, str]]) -> PlanStep:
        done = "\n".join(f"{i}. {step} -> {answer or '(no answer)'}" for i, (step, answer) in enumerate(history, 1))
        prompt = f"Request: {task.request}\nSteps done so far:\n{done or '(none)'}\nNext step, or DONE:"
        turn = self.policy.act([{"role": "system", "content": PLANNER_PROMPT}, {"role": "user", "content": prompt}],
                               [], self.max_new_tokens)
        if turn.error:
            return PlanStep(DONE, turn.tokens, turn.error)
        text = turn.content.strip()
        if not text or text.upper().startswith("DONE"):
            return PlanStep(DONE, turn.tokens)
        return PlanStep(text.splitlines()[0].strip(), turn.tokens)


class _Run:
    """Shared bookkeeping of one episode: budget counters, tool execution, timing."""

    def __init__(self, task: Task, policy: Policy, budget: Budget, loop: str):
        self.task, self.policy, self.budget = task, policy, budget
        self.household = task.start()
        self.episode = Episode(task.task_id, task.task_type, loop)
        self.errors = 0

    def act(self, messages: list[dict]):
        started = time.perf_counter()
        left = self.budget.tokens - self.episode.tokens
        turn = self.policy.act(messages, self.task.tools, min(self.budget.max_new_tokens, max(left, 1)))
        self.episode.policy_s += time.perf_counter() - started
        self.episode.tokens += turn.tokens
        return turn

    def call(self, call: Call) -> dict:
        """Run one call on the household; the tool message to append."""
        schema_errors = validation_errors(call.name, call.arguments) if call.arguments is not None else ["unparsed"]
        record = CallRecord(call.name, call.arguments, call.arguments is not None, call.name in TOOLS,
                            not schema_errors)
        if call.arguments is None:
            content = {"error": f"could not parse the tool call: {call.parse_error}"}
        else:
            result = execute(self.household, call.name, call.arguments)
            content = result.content
        if "error" in content:
            record.error = content["error"]
            self.errors += 1
        self.episode.calls.append(record)
        return {"role": "tool", "name": call.name or "unknown", "content": json.dumps(content, ensure_ascii=False,
                                                                                     sort_keys=True)}

    def out_of_budget(self) -> str:
        b, e = self.budget, self.episode
        if self.errors >= b.max_tool_errors:
            return "tool_errors"
        if len(e.calls) >= b.tool_calls:
            return "budget_tool_calls"
        if e.tokens >= b.tokens:
            return "budget_tokens"
        return ""

    def finish(self, answer: str, stop_reason: str, started: float) -> Episode:
        e = self.episode
        e.answer, e.stop_reason = answer, stop_reason
        policy_error = e.why
        e.success, e.why = self.task.check(self.household, answer, e.calls)
        if policy_error:
            e.why = f"policy error: {policy_error}" + (f"; {e.why}" if e.why else "")
        e.harness_s = time.perf_counter() - started - e.policy_s
        return e


def _assistant(turn) -> dict:
    msg = {"role": "assistant", "content": turn.content}
    if turn.calls:
        msg["tool_calls"] = [{"type": "function", "function": {"name": c.name, "arguments": c.arguments or {}}}
                             for c in turn.calls]
    return msg


def _react(run: _Run, messages: list[dict], max_calls: int) -> tuple[str, str]:
    """Act until the policy answers without a call; (answer, stop reason or '')."""
    calls = 0
    while True:
        turn = run.act(messages)
        if turn.error:
            run.episode.why = turn.error
            return "", "policy_error"
        if not turn.calls:
            return turn.content, ""
        messages.append(_assistant(turn))
        for call in turn.calls:
            messages.append(run.call(call))
            calls += 1
        if reason := run.out_of_budget():
            return turn.content, reason
        if calls >= max_calls:
            return turn.content, "budget_l_steps"


def run_hrm(task: Task, policy: Policy, budget: Budget, planner: Planner | None = None) -> Episode:
    planner = planner or PassthroughPlanner()
    started = time.perf_counter()
    run = _Run(task, policy, budget, f"hrm/{planner.name}")
    e = run.episode
    history: list[tuple[str, str]] = []
    answer = ""
    while True:
        planned = time.perf_counter()
        plan = planner.next_step(task, history)
        e.policy_s += time.perf_counter() - planned
        e.tokens += plan.tokens
        if plan.error:
            e.why = f"planner: {plan.error}"
            return run.finish(answer, "policy_error", started)
        if plan.step is DONE:
            return run.finish(answer, "done", started)
        if e.h_cycles >= budget.h_cycles:
            return run.finish(answer, "budget_h_cycles", started)
        if reason := run.out_of_budget():
            return run.finish(answer, reason, started)
        e.h_cycles += 1
        e.steps.append(plan.step)
        messages = [{"role": "system", "content": task.system}, {"role": "user", "content": plan.step}]
        answer, reason = _react(run, messages, budget.l_steps)
        history.append((plan.step, answer))
        e.cycle_success.append(task.check(run.household, answer, e.calls)[0])
        if reason and reason != "budget_l_steps":
            return run.finish(answer, reason, started)


def run_flat(task: Task, policy: Policy, budget: Budget) -> Episode:
    """The single-level baseline: one ReAct loop on the request, with the episode's whole budget."""
    started = time.perf_counter()
    run = _Run(task, policy, budget, "flat")
    messages = [{"role": "system", "content": task.system}, {"role": "user", "content": task.request}]
    answer, reason = _react(run, messages, budget.tool_calls)
    return run.finish(answer, reason or "done", started)
