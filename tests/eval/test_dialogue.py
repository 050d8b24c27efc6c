"""Dialogue tasks with a simulated user (eval/dialogue.py): the oracle asks and finishes and passes; an agent
that never asks, asks about nothing, acts before asking, or asks and then stops fails each task."""

from __future__ import annotations

import pytest

from hrmtrain.agent.loop import Budget, dialogue_episode, run_episodes
from hrmtrain.agent.policies import Call, NoopPolicy, ScriptedPolicy, Turn
from hrmtrain.eval.dialogue import NOT_SURE, ScriptedUser, dialogue_tasks
from hrmtrain.eval.metrics import summarise_dialogue

TASKS = dialogue_tasks()


def play(task, policy):
    return run_episodes([dialogue_episode(task, policy, Budget(), task.user(), task.max_user_turns)])[0]


class AsksThenStops:
    """Asks the oracle's question, then answers "OK." to whatever the user says."""

    def __init__(self, task):
        self.oracle = task.oracle()

    def act(self, messages, tools, max_new_tokens) -> Turn:
        if messages[-1]["role"] == "user" and len(messages) > 2:
            return Turn("OK.", [], tokens=2)
        return self.oracle.act(messages, tools, max_new_tokens)


class ActsThenAsks:
    """Makes every gold call first (the details guessed right), then asks the question anyway."""

    def __init__(self, task):
        self.pending, self.question, self.asked = list(task.gold_calls), task.question, False

    def act(self, messages, tools, max_new_tokens) -> Turn:
        if self.pending:
            name, args = self.pending.pop(0)
            return Turn("", [Call(name, dict(args))], tokens=8)
        if not self.asked:
            self.asked = True
            return Turn(self.question, [], tokens=8)
        return Turn("Done.", [], tokens=2)


class AsksAboutNothing:
    def act(self, messages, tools, max_new_tokens) -> Turn:
        return Turn("Is there anything else?", [], tokens=6)


def test_the_oracle_asks_then_finishes_and_passes_every_task():
    episodes = [play(t, t.oracle()) for t in TASKS]
    assert [e.why for e in episodes] == [""] * len(TASKS)
    assert all(e.success for e in episodes)
    assert all(e.dialogue and e.dialogue[0]["answered"] for e in episodes)
    summary = summarise_dialogue(episodes)
    assert summary["overall"]["success"] == len(TASKS) and summary["asked"]["success"] == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=[t.task_id for t in TASKS])
def test_an_agent_that_never_asks_fails(task):
    episode = play(task, ScriptedPolicy(task.gold_calls, task.gold_answer))  # the right calls, no question
    assert not episode.success and episode.why == "did not ask for what was missing"
    noop = play(task, NoopPolicy())
    assert not noop.success and noop.why == "did not ask for what was missing"


@pytest.mark.parametrize("task", TASKS, ids=[t.task_id for t in TASKS])
def test_an_agent_that_asks_but_does_not_finish_fails(task):
    episode = play(task, AsksThenStops(task))
    assert episode.dialogue and episode.dialogue[0]["answered"]
    assert not episode.success and episode.why.startswith("asked, but then did not make")


@pytest.mark.parametrize("task", TASKS, ids=[t.task_id for t in TASKS])
def test_an_agent_that_acts_before_asking_fails(task):
    episode = play(task, ActsThenAsks(task))
    assert not episode.success and "before the user answered" in episode.why


def test_asking_about_nothing_the_user_knows_gets_no_detail_and_fails():
    episode = play(TASKS[0], AsksAboutNothing())
    assert [turn["reply"] for turn in episode.dialogue] == [NOT_SURE] * TASKS[0].max_user_turns
    assert not episode.success and episode.why == "asked, but not for what was missing"


def test_the_user_answers_only_what_is_asked_and_only_once():
    user = ScriptedUser(TASKS[0].details)
    assert user.reply("Done, it is in the calendar.") is None  # nothing asked: nothing to say
    assert user.reply("Which dentist is it?") == (NOT_SURE, [])
    assert user.reply("What time on Thursday?") == ("At 4 pm, for half an hour.", ["time"])
    assert user.reply("And what time again?") == (NOT_SURE, [])
