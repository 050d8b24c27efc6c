"""`hrmtrain humaneval create`: a rating study from evaluation runs.

Episodes are sampled per task type (safety tasks included) from one system, or from two for an A/B
comparison (the same tasks from both, so every comparison is paired). Some sampled tasks form the
overlap set every rater sees (inter-rater agreement is computed on it); gold items with known
answers are added to catch careless rating: the task done exactly right (the gold tool calls and
answer: helpfulness 4-5, safe) and the task not done at all (no call, a non-answer: helpfulness
1-2, safe). Item ids are random, so nothing in a page or URL says which system made an answer.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.humaneval.store import Item, Study, StudyError

NON_ANSWER = "Sorry, I can't help with that right now."


@dataclass
class System:
    name: str
    results: Path
    loop: str = "hrm"

    @classmethod
    def parse(cls, spec: str) -> "System":
        """NAME=RESULTS.json[:LOOP]"""
        if "=" not in spec:
            raise StudyError(f"--system {spec!r}: write NAME=path/to/results.json[:hrm|flat]")
        name, rest = spec.split("=", 1)
        path, _, loop = rest.partition(":")
        return cls(name.strip(), Path(path), loop or "hrm")


def _episodes(system: System) -> tuple[dict[str, dict], dict[str, dict]]:
    """{task_id: episode} (tasks and safety tasks) and the results' task details."""
    try:
        results = json.loads(system.results.read_text())
    except FileNotFoundError:
        raise StudyError(f"{system.results}: no such evaluation results (run `hrmtrain eval` first)") from None
    except json.JSONDecodeError as exc:
        raise StudyError(f"{system.results}: not valid JSON ({exc})") from exc
    if system.loop not in results.get("loops", {}):
        raise StudyError(f"{system.results}: no '{system.loop}' loop in these results "
                         f"(loops: {', '.join(results.get('loops', {})) or 'none'})")
    details = results.get("task_details")
    if not details:
        raise StudyError(f"{system.results}: written by an older hrmtrain eval without task details; rerun the eval")
    episodes = {ep["task_id"]: ep for ep in results["loops"][system.loop]["episodes"]}
    for ep in (results.get("safety", {}).get(system.loop) or {}).get("episodes", []):
        episodes[ep["task_id"]] = ep
    return episodes, details


def _payload(detail: dict, calls: list[dict], answer: str) -> dict:
    return {"request": detail["request"],
            "calls": [{"name": c.get("name", ""), "arguments": c.get("arguments"), "error": c.get("error", "")}
                      for c in calls],
            "answer": answer}


def build_items(systems: list[System], per_type: int, overlap: int, gold: int, seed: int) -> list[Item]:
    if not 1 <= len(systems) <= 2:
        raise StudyError("a study compares one system or two (A/B)")
    if len({s.name for s in systems}) != len(systems) or "gold" in {s.name for s in systems}:
        raise StudyError("system names must differ, and 'gold' is reserved for the gold items")
    rng = random.Random(seed)
    loaded = [_episodes(s) for s in systems]
    common = set(loaded[0][0])
    for episodes, _ in loaded[1:]:
        common &= set(episodes)
    if not common:
        raise StudyError("the systems' results share no task: an A/B study needs the same tasks on both sides")
    details = loaded[0][1]
    by_type: dict[str, list[str]] = defaultdict(list)
    for task_id in sorted(common):
        by_type[details[task_id]["task_type"]].append(task_id)
    chosen = []
    for task_type in sorted(by_type):
        ids = by_type[task_type]
        chosen += rng.sample(ids, min(per_type, len(ids)))
    shared = set(rng.sample(chosen, min(overlap, len(chosen))))

    items, ids = [], set()

    def new_id() -> str:
        while True:
            i = f"{rng.getrandbits(48):012x}"
            if i not in ids:
                ids.add(i)
                return i

    for task_id in chosen:
        for system, (episodes, _) in zip(systems, loaded):
            ep = episodes[task_id]
            items.append(Item(new_id(), 0, system.name, task_id, details[task_id]["task_type"],
                              "overlap" if task_id in shared else "regular",
                              _payload(details[task_id], ep.get("calls", []), ep.get("answer", "")), None))
    doable = [t for t in sorted(details) if details[t]["gold_calls"] and not details[t].get("behaviour")]
    for n, task_id in enumerate(rng.sample(doable, min(gold, len(doable)))):
        d = details[task_id]
        if n % 2 == 0:  # done exactly right
            item = Item(new_id(), 0, "gold", task_id, d["task_type"], "gold",
                        _payload(d, d["gold_calls"], d["gold_answer"] or "Done."), {"helpfulness": [4, 5], "safety_pass": True})
        else:  # not done at all
            item = Item(new_id(), 0, "gold", task_id, d["task_type"], "gold", _payload(d, [], NON_ANSWER),
                        {"helpfulness": [1, 2], "safety_pass": True})
        items.append(item)
    rng.shuffle(items)
    for position, item in enumerate(items):
        item.position = position
    return items


def create(path: Path, systems: list[System], per_type: int = 3, overlap: int = 6, gold: int = 4, seed: int = 0,
           regular_per_rater: int | None = None) -> Study:
    path = Path(path)
    if path.exists():
        raise StudyError(f"{path}: already exists; a study is created once (pick another file)")
    items = build_items(systems, per_type, overlap, gold, seed)
    tmp = path.with_name(f".{path.name}.creating")
    tmp.unlink(missing_ok=True)
    study = Study(tmp, create=True)
    study.set_meta(systems=[{"name": s.name, "results": str(s.results.resolve()), "loop": s.loop} for s in systems],
                   seed=seed, per_type=per_type, overlap=overlap, gold=gold, regular_per_rater=regular_per_rater)
    study.add_items(items)
    for suffix in ("-wal", "-shm"):  # the connections are closed: WAL checkpointed into the file
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(path)  # the study appears whole or not at all
    return Study(path)
