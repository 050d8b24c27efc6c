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

An episode is a generator that yields an `Ask` (this policy, these messages and tools) whenever it
needs a turn and receives the `Turn`: `run_hrm`/`run_flat` drive one episode turn by turn, and
`run_episodes` drives many in lockstep, handing each policy all the turns waiting for it at once, so a
local model generates them as one batch (policies.LocalPolicy.act_batch). What each episode sees is
the same either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Protocol

from hrmtrain.agent.policies import Call, Policy
from hrmtrain.config import BudgetConfig
from hrmtrain.agent.tasks import Task
from hrmtrain.household.schemas import TOOLS
from hrmtrain.household.tools import execute, validation_errors

DONE = None


Budget = BudgetConfig  # an episode's budget: the config's dataclass (eval.budget), one set of defaults


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
    harness_s: float = 0.0  # time spent outside the policy (tools, checks, bookkeeping)
    policy_s: float = 0.0
    cycle_success: list[bool] = field(default_factory=list)  # the check after each H cycle
    steps: list[str] = field(default_factory=list)  # the planner's steps
    # a simulated user's turns (dialogue_episode): {"asked", "reply", "answered", "after_calls"}
    dialogue: list[dict] = field(default_factory=list)

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
    seconds: float = 0.0  # the planner's policy time


@dataclass
class Ask:
    """A turn an episode needs from a policy; the driver answers it with the policy's Turn."""

    policy: Policy
    messages: list[dict]
    tools: list[dict]
    max_new_tokens: int


EpisodeRun = Generator[Ask, object, Episode]


class Planner(Protocol):
    name: str

    def next_step(self, task: Task, history: list[tuple[str, str]]) -> PlanStep: ...


def _plan(planner, task: Task, history):
    """The planner's next step; a planner with `plan` (a generator) asks its policy through the driver."""
    if hasattr(planner, "plan"):
        return (yield from planner.plan(task, history))
    return planner.next_step(task, history)


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
        return _drive(self.plan(task, history))[0]

    def plan(self, task: Task, history: list[tuple[str, str]]):
        done = "\n".join(f"{i}. {step} -> {answer or '(no answer)'}" for i, (step, answer) in enumerate(history, 1))
        prompt = f"Request: {task.request}\nSteps done so far:\n{done or '(none)'}\nNext step, or DONE:"
        turn = yield Ask(self.policy, [{"role": "system", "content": PLANNER_PROMPT},
                                       {"role": "user", "content": prompt}], [], self.max_new_tokens)
        if turn.error:
            return PlanStep(DONE, turn.tokens, turn.error, turn.seconds)
        text = turn.content.strip()
        if not text or text.upper().startswith("DONE"):
            return PlanStep(DONE, turn.tokens, seconds=turn.seconds)
        return PlanStep(text.splitlines()[0].strip(), turn.tokens, seconds=turn.seconds)


class _Run:
    """Shared bookkeeping of one episode: budget counters, tool execution, timing."""

    def __init__(self, task: Task, policy: Policy, budget: Budget, loop: str):
        self.task, self.policy, self.budget = task, policy, budget
        self.household = task.start()
        self.episode = Episode(task.task_id, task.task_type, loop)
        self.errors = 0

    def act(self, messages: list[dict]):
        left = self.budget.tokens - self.episode.tokens
        turn = yield Ask(self.policy, messages, self.task.tools, min(self.budget.max_new_tokens, max(left, 1)))
        self.episode.policy_s += turn.seconds
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

    def finish(self, answer: str, stop_reason: str) -> Episode:
        e = self.episode
        e.answer, e.stop_reason = answer, stop_reason
        policy_error = e.why
        e.success, e.why = self.task.check(self.household, answer, e.calls, e.dialogue)
        if policy_error:
            e.why = f"policy error: {policy_error}" + (f"; {e.why}" if e.why else "")
        return e  # harness_s: set by the driver, which times the episode's own code between turns


def _assistant(turn) -> dict:
    msg = {"role": "assistant", "content": turn.content}
    if turn.calls:
        msg["tool_calls"] = [{"type": "function", "function": {"name": c.name, "arguments": c.arguments or {}}}
                             for c in turn.calls]
    return msg


def _react(run: _Run, messages: list[dict], max_calls: int):
    """Act until the policy answers without a call; (answer, stop reason or '')."""
    calls = 0
    while True:
        turn = yield from run.act(messages)
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
    return _drive(hrm_episode(task, policy, budget, planner))[0]


def run_flat(task: Task, policy: Policy, budget: Budget) -> Episode:
    """The single-level baseline: one ReAct loop on the request, with the episode's whole budget."""
    return _drive(flat_episode(task, policy, budget))[0]


def hrm_episode(task: Task, policy: Policy, budget: Budget, planner: Planner | None = None) -> EpisodeRun:
    planner = planner or PassthroughPlanner()
    run = _Run(task, policy, budget, f"hrm/{planner.name}")
    e = run.episode
    history: list[tuple[str, str]] = []
    answer = ""
    while True:
        plan = yield from _plan(planner, task, history)
        e.policy_s += plan.seconds
        e.tokens += plan.tokens
        if plan.error:
            e.why = f"planner: {plan.error}"
            return run.finish(answer, "policy_error")
        if plan.step is DONE:
            return run.finish(answer, "done")
        if e.h_cycles >= budget.h_cycles:
            return run.finish(answer, "budget_h_cycles")
        if reason := run.out_of_budget():
            return run.finish(answer, reason)
        e.h_cycles += 1
        e.steps.append(plan.step)
        messages = [{"role": "system", "content": task.system}, {"role": "user", "content": plan.step}]
        answer, reason = yield from _react(run, messages, budget.l_steps)
        history.append((plan.step, answer))
        e.cycle_success.append(task.check(run.household, answer, e.calls)[0])
        if reason and reason != "budget_l_steps":
            return run.finish(answer, reason)


def flat_episode(task: Task, policy: Policy, budget: Budget) -> EpisodeRun:
    run = _Run(task, policy, budget, "flat")
    messages = [{"role": "system", "content": task.system}, {"role": "user", "content": task.request}]
    answer, reason = yield from _react(run, messages, budget.tool_calls)
    return run.finish(answer, reason or "done")


class User(Protocol):
    def reply(self, text: str) -> tuple[str, list[str]] | None: ...


def dialogue_episode(task: Task, policy: Policy, budget: Budget, user: User, max_user_turns: int = 3) -> EpisodeRun:
    """The flat loop with a user in it: each answer of the agent goes to `user`; a reply (the agent asked
    something) comes back as the next user message, until the user has nothing to say, `max_user_turns`
    replies were given, or the budget runs out. The user's turns are kept in `Episode.dialogue`."""
    run = _Run(task, policy, budget, "dialogue")
    messages = [{"role": "system", "content": task.system}, {"role": "user", "content": task.request}]
    while True:
        answer, reason = yield from _react(run, messages, budget.tool_calls - len(run.episode.calls))
        if reason:
            return run.finish(answer, reason)
        said = user.reply(answer) if len(run.episode.dialogue) < max_user_turns else None
        if said is None:
            return run.finish(answer, "done")
        reply, answered = said
        run.episode.dialogue.append({"asked": answer, "reply": reply, "answered": answered,
                                     "after_calls": len(run.episode.calls)})
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": reply}]


# -- drivers -------------------------------------------------------------------------------------------
def _answer(policy, asks: list[Ask]) -> list:
    """The policy's turns for these asks: one call with all of them where the policy batches
    (`act_batch`: it sorts and batches them itself, LocalPolicy), else one call each; each Turn carries
    its share of the wall time."""
    if hasattr(policy, "act_batch"):
        started = time.perf_counter()
        turns = policy.act_batch([(a.messages, a.tools, a.max_new_tokens) for a in asks])
        for turn in turns:
            turn.seconds = (time.perf_counter() - started) / len(asks)
        return turns
    turns = []
    for ask in asks:
        started = time.perf_counter()
        turn = policy.act(ask.messages, ask.tools, ask.max_new_tokens)
        turn.seconds = time.perf_counter() - started
        turns.append(turn)
    return turns


def _drive(run) -> tuple:
    """Run one episode (or planner step) generator to its end, one turn at a time: (its value,)."""
    return (run_episodes([run])[0],)


def run_episodes(runs: list[EpisodeRun], progress: Callable[[int], None] | None = None) -> list[Episode]:
    """Drive many episodes in lockstep: each round, every episode waiting on a policy gets its turn from
    one batched call per policy. Results in the order of `runs`."""
    results: list = [None] * len(runs)
    waiting: dict[int, Ask] = {}
    own = [0.0] * len(runs)  # time in each episode's own code (tools, checks), between its turns

    def step(i: int, turn=None) -> None:
        started = time.perf_counter()
        try:
            waiting[i] = runs[i].send(turn) if turn is not None else next(runs[i])
            own[i] += time.perf_counter() - started
        except StopIteration as stop:
            own[i] += time.perf_counter() - started
            waiting.pop(i, None)
            results[i] = stop.value
            if isinstance(stop.value, Episode):
                stop.value.harness_s = own[i]
            if progress:
                progress(1)

    for i in range(len(runs)):
        step(i)
    while waiting:
        by_policy: dict[int, list[int]] = {}
        for i, ask in waiting.items():
            by_policy.setdefault(id(ask.policy), []).append(i)
        for ids in by_policy.values():
            asks = [waiting[i] for i in ids]
            for i, turn in zip(ids, _answer(asks[0].policy, asks)):
                step(i, turn)
    return results
