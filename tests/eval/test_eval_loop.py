"""Evaluation: the oracle scores 100%, doing nothing 0%; budgets stop episodes with a reason; Wilson intervals."""

from __future__ import annotations

import pytest

from helpers import compose, run_cli

from hrmtrain.agent.loop import Budget, flat_episode, hrm_episode, run_episodes, run_flat, run_hrm
from hrmtrain.agent.policies import Call, LocalPolicy, NoopPolicy, ScriptedPolicy, Turn, parse_turn
from hrmtrain.agent.tasks import load_tasks
from hrmtrain.eval.metrics import argument_match, summarise, wilson
from hrmtrain.eval.report_section import eval_section
from hrmtrain.eval.stage import evaluate
from hrmtrain.models import base as base_model
from hrmtrain.train import model as models


@pytest.fixture(scope="module")
def tasks(sample_data):
    return load_tasks(sample_data)


def test_test_split_becomes_tasks(tasks):
    assert len(tasks) >= 20 and len({t.task_type for t in tasks}) >= 8
    assert any(t.multi_step and len(t.gold_calls) >= 2 for t in tasks)
    lookups = [t for t in tasks if t.task_type in ("query_calendar", "triage_mail", "recipe_question")]
    assert lookups and all(t.must_mention for t in lookups)


@pytest.mark.parametrize("loop", [run_hrm, run_flat])
def test_oracle_scores_100_and_noop_0(tasks, loop):
    oracle = [loop(t, ScriptedPolicy(t.gold_calls, t.gold_answer), Budget()) for t in tasks]
    noop = [loop(t, NoopPolicy(), Budget()) for t in tasks]
    assert all(e.success for e in oracle), [(e.task_id, e.why) for e in oracle if not e.success]
    assert not any(e.success for e in noop), [(e.task_id, e.task_type) for e in noop if e.success]
    s = summarise(oracle, tasks)
    assert s["overall"]["rate"] == 1.0 and s["tool_calls"]["argument_match"] == 1.0
    assert s["stop_reasons"] == {"done": len(tasks)}
    assert summarise(noop, tasks)["overall"]["rate"] == 0.0


def test_budgets_stop_with_a_reason(tasks):
    multi = next(t for t in tasks if len(t.gold_calls) >= 2)
    e = run_flat(multi, ScriptedPolicy(multi.gold_calls, multi.gold_answer), Budget(tool_calls=1))
    assert e.stop_reason == "budget_tool_calls" and not e.success
    e = run_flat(multi, ScriptedPolicy(multi.gold_calls, multi.gold_answer), Budget(tokens=5))
    assert e.stop_reason == "budget_tokens"

    class Flailing:
        name = "flailing"

        def act(self, messages, tools, max_new_tokens):
            return Turn("", [Call("calendar_fly", {})], tokens=3)

    e = run_hrm(multi, Flailing(), Budget(max_tool_errors=2))
    assert e.stop_reason == "tool_errors" and [c.known for c in e.calls] == [False, False]


def test_parse_turn_hermes_calls():
    text = ('<think>\n\n</think>\n\n<tool_call>\n{"name": "shopping_add", "arguments": {"item": "eggs"}}\n</tool_call>'
            '<tool_call>\n{"name": "x", "arguments": {bad}}\n</tool_call><|im_end|>')
    content, calls = parse_turn(text)
    assert content == "" and calls[0].name == "shopping_add" and calls[0].arguments == {"item": "eggs"}
    assert calls[1].arguments is None and "not JSON" in calls[1].parse_error


def test_wilson_interval():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


def test_eval_cli_writes_results(sample_data, tmp_path):
    import json

    for policy, expected in (("scripted", 1.0), ("noop", 0.0)):
        res = run_cli(["eval", f"eval.policy={policy}", f"data.path={sample_data}", f"run.dir={tmp_path}"],
                      cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
        results = json.loads((tmp_path / f"eval-{policy}.json").read_text())
        for loop in ("hrm", "flat"):
            summary = results["loops"][loop]["summary"]
            assert summary["overall"]["rate"] == expected
            assert len(results["loops"][loop]["episodes"]) == results["tasks"]
        assert "overall" in res.stdout and "95% CI" in res.stdout
        dialogue = results["dialogue"]["summary"]  # the simulated user's tasks: asked, then finished
        assert dialogue["overall"]["rate"] == expected and dialogue["overall"]["n"] == 3
        assert "dialogue tasks" in res.stdout

    section = eval_section(tmp_path / "eval-scripted.json")
    assert 'id="eval"' in section and "(100%, " in section and "argument match" in section


def test_eval_without_a_model_says_so(sample_data, tmp_path):
    res = run_cli(["eval", f"data.path={sample_data}", f"run.dir={tmp_path / 'runs'}"], cwd=tmp_path)
    assert res.returncode == 2 and "no trained model to evaluate" in res.stderr


def test_endpoint_without_url_is_named(sample_data, tmp_path):
    res = run_cli(["eval", "eval.policy=openai", f"data.path={sample_data}", f"run.dir={tmp_path}"], cwd=tmp_path)
    assert res.returncode == 2 and "eval.endpoint.base_url" in res.stderr
    res = run_cli(["eval", "eval.policy=noop", "eval.planner=endpoint", f"data.path={sample_data}",
                   f"run.dir={tmp_path}"], cwd=tmp_path)
    assert res.returncode == 2 and "eval.planner_endpoint.base_url" in res.stderr


def test_argument_match_follows_bfcl_types_alternatives_and_no_extras():
    gold = {"title": "Dentist", "start": "2026-03-06T19:45", "attendees": ["Alex"], "quantity": 2}
    assert argument_match({"title": " dentist ", "start": "2026-03-06 19:45:00", "attendees": ["alex"], "quantity": 2}, gold)
    assert not argument_match({**gold, "quantity": "2"}, gold)  # a string is not an integer
    assert not argument_match({**gold, "quantity": True}, gold)  # nor is a bool
    assert not argument_match({**gold, "start": "2026-03-06T19:46"}, gold)
    assert not argument_match({**gold, "location": "home"}, gold)  # an unexpected parameter
    assert not argument_match({k: v for k, v in gold.items() if k != "attendees"}, gold)  # a missing one
    assert not argument_match({**gold, "attendees": ["Alex", "Sam"]}, gold)
    assert not argument_match(None, gold)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """The built-in tiny Qwen3 (seeded random init) saved as a model folder: cheap to run, its greedy
    turns are arbitrary but deterministic."""
    out = tmp_path_factory.mktemp("tiny-model")
    source = base_model.ModelSource("tiny", None)
    tok = base_model.load_tokenizer(source)
    model = models.load_model(source, compose([]).model, tok)
    model.config.use_cache = True
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_batched_shared_prefix_episodes_equal_one_at_a_time_and_repeats_are_memoised(tiny_model_dir, sample_data):
    tasks = load_tasks(sample_data)[:10]
    budget = Budget(max_new_tokens=12, tool_calls=3)
    alone = LocalPolicy(str(tiny_model_dir), batch_size=1, prefix_cache=False)
    together = LocalPolicy(str(tiny_model_dir), batch_size=8, prefix_cache=True)
    calls = []
    generate = together._generate
    together._generate = lambda prompts, limits, known=None: calls.append(len(prompts)) or generate(prompts, limits, known)
    one = run_episodes([flat_episode(t, alone, budget) for t in tasks])
    many = run_episodes([flat_episode(t, together, budget) for t in tasks])
    assert max(calls) > 1  # turns really were generated together
    for a, b in zip(one, many):
        assert (a.answer, [(c.name, c.arguments) for c in a.calls], a.stop_reason) == \
               (b.answer, [(c.name, c.arguments) for c in b.calls], b.stop_reason)
    # the HRM loop with the passthrough planner asks the same first turns: answered from the memo
    before = len(calls)
    run_episodes([hrm_episode(t, together, budget) for t in tasks])
    assert sum(calls[before:]) < sum(calls[:before])


def test_a_task_file_of_json_lines_in_the_test_splits_row_format_runs(tmp_path, sample_data):
    """`hrmtrain eval eval.tasks=FILE`: hand-phrased requests in the test split's row format (messages,
    tools, initial_state, task_type; nothing else needed) are scored like the split itself."""
    import json

    import pyarrow.parquet as pq

    rows = pq.read_table(sample_data / "test.parquet").to_pylist()[:4]
    lines = []
    for row in rows:
        messages = [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]
        messages[1]["content"] = "Hand-phrased: " + messages[1]["content"]
        lines.append(json.dumps({"messages": messages, "tools": json.loads(row["tools"]),
                                 "initial_state": row["initial_state"], "task_type": row["task_type"]}))
    path = tmp_path / "hand.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for policy, rate in (("scripted", 1.0), ("noop", 0.0)):
        results, _ = evaluate(compose([f"eval.tasks={path}", f"eval.policy={policy}", "eval.curated=false",
                                       "eval.safety=false", f"run.dir={tmp_path}", "eval.budget_sweep=[4]"]))
        assert results["tasks"] == 4
        assert all(results["loops"][loop]["summary"]["overall"]["rate"] == rate for loop in ("hrm", "flat"))
