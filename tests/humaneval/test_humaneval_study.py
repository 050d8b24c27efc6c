"""Rating studies over real evaluation results (scripted and no-op policies on the sample household): set-up
(paired A/B items, overlap, gold, blind ids), rater tokens and assignments, validated append-only ratings
in a real SQLite file that survive a killed writer, and the command line with CSV/JSONL/Label Studio."""

from __future__ import annotations

import csv
import json
import re
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from helpers import run_cli
from hrmtrain.humaneval import exchange
from hrmtrain.humaneval.store import Study, StudyError
from hrmtrain.humaneval.study import System, create


@pytest.fixture(scope="module")
def results(eval_results):
    return eval_results


def _ab(results, tmp_path, **kw) -> Study:
    return create(tmp_path / "study.sqlite", [System("oracle", results["scripted"]), System("noop", results["noop"])],
                  **{"per_type": 2, "overlap": 4, "gold": 4, "seed": 7, **kw})


def test_ab_study_pairs_the_same_tasks_with_overlap_and_gold(results, tmp_path):
    study = _ab(results, tmp_path)
    items = study.items()
    regular = [i for i in items if i.kind != "gold"]
    by_task = {}
    for i in regular:
        by_task.setdefault(i.task_id, set()).add(i.system)
    assert all(s == {"oracle", "noop"} for s in by_task.values())  # every task from both systems
    assert sum(1 for i in items if i.kind == "overlap") == 2 * 4
    assert any(i.task_type.startswith("safety/") for i in regular)  # safety tasks are sampled too
    tasks_per_type = {}
    for i in regular:
        tasks_per_type.setdefault(i.task_type, set()).add(i.task_id)
    assert max(len(t) for t in tasks_per_type.values()) <= 2  # --per-type
    gold = [i for i in items if i.kind == "gold"]
    assert len(gold) == 4 and {tuple(g.gold["helpfulness"]) for g in gold} == {(4, 5), (1, 2)}
    assert all(g.system == "gold" for g in gold)
    # what a rater sees names no system, and ids are random hex
    for i in items:
        assert set(i.payload) == {"request", "calls", "answer"} and i.payload["request"]
        assert re.fullmatch(r"[0-9a-f]{12}", i.id), i.id
        assert i.task_id not in i.id and i.system not in i.id
    assert len({i.id for i in items}) == len(items)
    oracle = next(i for i in regular if i.system == "oracle" and not i.task_type.startswith("safety/"))
    assert oracle.payload["calls"]  # the scripted oracle made the gold calls
    with pytest.raises(StudyError, match="already exists"):
        _ab(results, tmp_path)
    assert not list(tmp_path.glob(".study.sqlite.creating*"))


def test_rater_tokens_are_stored_hashed_and_assignments_are_shuffled_per_rater(results, tmp_path):
    study = _ab(results, tmp_path, regular_per_rater=3)
    ann, bob = study.add_rater("ann", 3), study.add_rater("bob", 3)
    assert ann != bob and len(ann) >= 32
    assert study.rater_for_token(ann) == "ann" and study.rater_for_token(bob) == "bob"
    assert study.rater_for_token("wrong") is None and study.rater_for_token("") is None
    raw = (tmp_path / "study.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("study.sqlite-*"))
    assert ann.encode() not in raw  # only the hash is kept
    items = study.items()
    shared = {i.id for i in items if i.kind != "regular"}
    a, b = study.assignments("ann"), study.assignments("bob")
    assert shared <= set(a) and shared <= set(b)
    assert len(set(a) - shared) == 3 and len(set(b) - shared) == 3
    assert not (set(a) - shared) & (set(b) - shared)  # the regular items go to whoever has fewest
    assert a != sorted(a, key=lambda i: [x.id for x in items].index(i))  # shuffled, not in study order
    with sqlite3.connect(study.path) as db:
        seeds = dict(db.execute("SELECT name, seed FROM raters"))
    import random

    mine = [i.id for i in items if i.kind != "regular"] + sorted(set(a) - shared, key=[x.id for x in items].index)
    random.Random(seeds["ann"]).shuffle(mine)
    assert mine == a  # the stored seed reproduces the rater's order
    with pytest.raises(StudyError, match="already exists"):
        study.add_rater("ann")
    with pytest.raises(StudyError, match="rater name"):
        study.add_rater("<script>")


def test_ratings_are_validated_and_append_only(results, tmp_path):
    study = _ab(results, tmp_path)
    study.add_rater("ann")
    item = study.assignments("ann")[0]
    for bad, message in (((7, "pass"), "helpfulness 7: must be a whole number from 1 to 5"),
                         (("abc", "pass"), "helpfulness 'abc'"), ((2.5, "pass"), "helpfulness 2.5"),
                         ((3, "maybe"), "safety 'maybe'"), ((3, "fail"), "needs a severity"),
                         ((3, "pass", "major"), "a pass has severity none")):
        with pytest.raises(StudyError, match=message):
            study.rate("ann", item, *bad)
    with pytest.raises(StudyError, match="not assigned"):
        study.rate("ann", "000000000000", 3, "pass")
    first = study.rate("ann", item, 2, "fail", "minor", "sent without asking")
    second = study.rate("ann", item, 4, "pass")  # an edit: a new row
    assert second > first
    assert [(r.helpfulness, r.safety_pass) for r in study.ratings()] == [(4, True)]
    assert len(study.ratings(latest=False)) == 2
    with sqlite3.connect(study.path) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE ratings SET helpfulness = 1")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM ratings")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO ratings (rater, item, helpfulness, safety_pass, severity, created) "
                       "VALUES ('ann', ?, 7, 1, 'none', 'x')", (item,))
    assert study.progress("ann") == (1, len(study.assignments("ann")))


def test_a_killed_writer_loses_no_acknowledged_rating(results, tmp_path):
    study = _ab(results, tmp_path)
    study.add_rater("ann")
    script = textwrap.dedent(f"""
        import time
        from hrmtrain.humaneval.store import Study
        s = Study({str(study.path)!r})
        for n, item in enumerate(s.assignments("ann")):
            s.rate("ann", item, 1 + n % 5, "pass")
            print(item, flush=True)
            if n == 4:
                time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acknowledged = [proc.stdout.readline().strip() for _ in range(5)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [r.item for r in Study(study.path).ratings()] == acknowledged


def test_cli_create_rate_report_and_exchange(results, tmp_path, sample_data):
    db = tmp_path / "s.sqlite"
    base = ["--study", str(db)]
    res = run_cli(["humaneval", "create", *base, "--system", f"oracle={results['scripted']}",
                   "--system", f"noop={results['noop']}", "--per-type", "2", "--overlap", "4", "--seed", "3"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "overlap" in res.stdout and "gold" in res.stdout
    tokens = {}
    for name in ("ann", "bob"):
        res = run_cli(["humaneval", "add-rater", name, *base], cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        tokens[name] = res.stdout.strip().splitlines()[-1]
    study = Study(db)
    items = {i.id: i for i in study.items()}
    for rater in ("ann", "bob"):
        for item in study.assignments(rater):
            good = items[item].system in ("oracle",) or (items[item].gold or {}).get("helpfulness") == [4, 5]
            study.rate(rater, item, 5 if good else 1, "pass")
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("run: {}\n")
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "train/loss": 2.5}\n')
    res = run_cli(["humaneval", "report", *base, "--json", str(tmp_path / "r.json"), "--html",
                   str(tmp_path / "h.html"), "--run", str(run_dir)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for page in (tmp_path / "h.html", run_dir / "report.html"):
        html = page.read_text()
        assert 'id="humaneval"' in html and "Krippendorff" in html and 'alt="human helpfulness ratings"' in html
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["helpfulness"]["oracle"]["all"]["mean"] == 5 and summary["helpfulness"]["noop"]["all"]["mean"] == 1
    assert summary["alpha"]["helpfulness_ordinal"] == pytest.approx(1.0)
    assert summary["ab"]["a_win_rate"] == 1.0
    assert all(g["accuracy"] == 1.0 for g in summary["gold_accuracy"].values())
    assert "Krippendorff's alpha" in res.stdout and "oracle win rate 100%" in res.stdout

    res = run_cli(["humaneval", "export", str(tmp_path / "r.csv"), *base], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(study.ratings()) and set(rows[0]) == set(exchange.FIELDS)
    assert run_cli(["humaneval", "export", str(tmp_path / "r.jsonl"), *base], cwd=tmp_path).returncode == 0
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == len(rows)

    # Label Studio round trip: exported, then imported into a study with the same items
    res = run_cli(["humaneval", "export", str(tmp_path / "ls.json"), *base], cwd=tmp_path)
    assert res.returncode == 0 and (tmp_path / "ls.label_config.xml").is_file()
    tasks = json.loads((tmp_path / "ls.json").read_text())
    assert len(tasks) == len(items) and "system" not in json.dumps([t["data"] for t in tasks])
    db2 = tmp_path / "s2.sqlite"
    assert run_cli(["humaneval", "create", "--study", str(db2), "--system", f"oracle={results['scripted']}",
                    "--system", f"noop={results['noop']}", "--per-type", "2", "--overlap", "4", "--seed", "3"],
                   cwd=tmp_path).returncode == 0
    res = run_cli(["humaneval", "import", str(tmp_path / "ls.json"), "--study", str(db2)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    key = lambda r: (r.rater, r.item, r.helpfulness, r.safety_pass, r.severity, r.note)  # noqa: E731
    assert sorted(map(key, Study(db2).ratings())) == sorted(map(key, study.ratings()))
    # a bad rating in an import is refused with its place, and nothing of the file is appended
    tasks[1]["annotations"][0]["result"][0]["value"]["rating"] = 7
    (tmp_path / "bad.json").write_text(json.dumps(tasks))
    before = len(Study(db2).ratings(latest=False))
    res = run_cli(["humaneval", "import", str(tmp_path / "bad.json"), "--study", str(db2)], cwd=tmp_path)
    assert res.returncode == 2 and "task 1, annotation 0: helpfulness 7" in res.stderr
    assert len(Study(db2).ratings(latest=False)) == before
    res = run_cli(["humaneval", "report", "--study", str(tmp_path / "none.sqlite")], cwd=tmp_path)
    assert res.returncode == 2 and "no such study" in res.stderr
