"""One model through BFCL's own CLI: `bfcl generate` against a local OpenAI-compatible server of it, then
`bfcl evaluate`, both run by the separate environment's Python; the per-category accuracy is read back
from BFCL's score files.

How BFCL addresses a locally served model (its README, "For Pre-existing OpenAI-compatible Endpoints"):
an open-weights handler (`--model Qwen/Qwen3-8B-FC`) with `--skip-server-setup` formats each prompt
itself with the model family's chat template and sends it to `/v1/completions` at
`LOCAL_SERVER_ENDPOINT:LOCAL_SERVER_PORT` (read from `$BFCL_PROJECT_ROOT/.env`); `--local-model-path`
names the folder its tokenizer is read from, and is also the `model` of every request, which is what
`transformers serve` expects. The L-Module speaks Qwen3's format (models/chat_templates.py), so the
Qwen3 function-calling handler is the default. `--run-ids` limits generation to the ids in
`$BFCL_PROJECT_ROOT/test_case_ids_to_generate.json`, and `evaluate --partial-eval` scores only those.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.errors import HrmError

VERSION_PREFIX = "BFCL_v4"


@dataclass
class BfclRun:
    """Where one model's BFCL run happens and how (`project` is BFCL_PROJECT_ROOT)."""

    python: Path  # the separate environment's Python
    project: Path
    handler: str
    ids: dict[str, list[str]]  # category -> test ids
    timeout_s: float


def _write_project(run: BfclRun, host: str, port: int) -> None:
    run.project.mkdir(parents=True, exist_ok=True)
    atomic.write_text(run.project / ".env", f"LOCAL_SERVER_ENDPOINT={host}\nLOCAL_SERVER_PORT={port}\n")
    atomic.write_json(run.project / "test_case_ids_to_generate.json", run.ids)


def _bfcl(run: BfclRun, args: list[str], log_path: Path, what: str) -> None:
    # absolute: BFCL runs in the project folder, where a relative run.dir would point elsewhere
    env = {**os.environ, "BFCL_PROJECT_ROOT": str(run.project.resolve()), "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)  # hrmtrain's environment must not leak into BFCL's
    with open(log_path, "ab") as log:
        log.write(f"$ bfcl {' '.join(args)}\n".encode())
        log.flush()
        try:
            proc = subprocess.run([str(run.python), "-m", "bfcl_eval", *args], stdout=log, stderr=subprocess.STDOUT,
                                  env=env, cwd=run.project, timeout=run.timeout_s)
        except subprocess.TimeoutExpired:
            raise HrmError(f"`bfcl {args[0]}` ran longer than eval.bfcl.timeout_s={run.timeout_s:.0f} s; "
                           f"log {log_path}") from None
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise HrmError(f"`bfcl {args[0]}` ({what}) exited with {proc.returncode}; log {log_path}:\n{tail}")


def result_dir(run: BfclRun) -> Path:
    return run.project / "result" / run.handler.replace("/", "_")


def generated(run: BfclRun) -> int:
    """How many test entries have a response so far (BFCL appends one line per entry)."""
    n = 0
    for path in result_dir(run).rglob(f"{VERSION_PREFIX}_*_result.json"):
        with open(path, "rb") as f:
            n += sum(1 for _ in f)
    return n


def read_scores(run: BfclRun) -> dict[str, dict]:
    """category -> {accuracy, correct, total, failed_ids} from BFCL's score files (first line: the
    summary; each further line: one entry that failed, with its id and BFCL's reason)."""
    root = run.project / "score" / run.handler.replace("/", "_")
    out = {}
    for category in run.ids:
        found = list(root.rglob(f"{VERSION_PREFIX}_{category}_score.json"))
        if not found:
            raise HrmError(f"{root}: BFCL wrote no score file for {category} (see bfcl.log beside it)")
        lines = [json.loads(line) for line in found[0].read_text().splitlines() if line.strip()]
        head = lines[0]
        failed = sorted(str(entry.get("id")) for entry in lines[1:] if isinstance(entry, dict) and "id" in entry)
        out[category] = {"accuracy": float(head["accuracy"]), "correct": int(head["correct_count"]),
                         "total": int(head["total_count"]), "failed_ids": failed}
    return out


def score_served(run: BfclRun, model_dir: str, host: str, port: int, log_path: Path, progress=None) -> dict:
    """Generate and evaluate with BFCL against a server already answering for `model_dir` at host:port.
    `progress(n)` is called with the number of entries answered so far while generation runs."""
    _write_project(run, host, port)
    categories = ",".join(run.ids)
    started = time.perf_counter()
    args = ["generate", "--model", run.handler, "--test-category", categories, "--skip-server-setup",
            "--local-model-path", model_dir, "--run-ids", "--num-threads", "1", "--temperature", "0.0",
            "--allow-overwrite"]
    if progress is None:
        _bfcl(run, args, log_path, "answering the test entries")
    else:
        import threading

        done = threading.Event()

        def watch():
            while not done.wait(2.0):
                progress(generated(run))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            _bfcl(run, args, log_path, "answering the test entries")
        finally:
            done.set()
            watcher.join()
            progress(generated(run))
    generate_s = time.perf_counter() - started
    _bfcl(run, ["evaluate", "--model", run.handler, "--test-category", categories, "--partial-eval"], log_path,
          "scoring the answers with BFCL's checker")
    scores = read_scores(run)
    missing = {c: len(ids) - scores[c]["total"] for c, ids in run.ids.items() if scores[c]["total"] != len(ids)}
    if missing:
        raise HrmError(f"BFCL scored fewer entries than were asked for ({missing}); log {log_path}")
    return {"per_category": scores, "generate_s": round(generate_s, 1),
            "evaluate_s": round(time.perf_counter() - started - generate_s, 1)}
