"""`hrmtrain retrieval` through the real CLI in a fresh folder (small settings; the pipeline's defaults are
timed in the slow README test): sample documents generated, models, index, manifests, results, report,
lineage; the judge wired to a real local endpoint; bad input answered with a message, not a traceback,
and an earlier result left whole."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import pytest

from helpers import read_jsonl, run_cli
from test_retrieval_judge import Scripted
from hrmtrain.lineage import content_hash

SMALL = ["retrieval.epochs=0.5", "retrieval.generated_per_chunk=0", "retrieval.mining.epochs=0.25",
         "retrieval.reranker.epochs=0.25", "retrieval.judge.pairs=6", "logging.wandb_mode=disabled"]


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Scripted.mode, Scripted.seen = "fair", []
    cwd = tmp_path_factory.mktemp("retrieval")
    try:
        res = run_cli(["retrieval", "run.name=rt", *SMALL,
                       f"retrieval.judge.endpoint.base_url=http://127.0.0.1:{httpd.server_address[1]}/v1"], cwd=cwd)
    finally:
        httpd.shutdown()
        httpd.server_close()
    return cwd, res


def test_stage_writes_models_index_results_and_report(stage):
    from sentence_transformers import CrossEncoder, SentenceTransformer

    cwd, res = stage
    assert res.returncode == 0, res.stderr[-3000:]
    # a fresh folder: the sample household is generated, its documents with it
    assert "hrmtrain data: generated the sample household in household/" in res.stdout
    assert (cwd / "household" / "documents" / "questions.jsonl").is_file()
    assert "held-out queries" in res.stdout and "MRR@10 gain over off-the-shelf" in res.stdout
    out = cwd / "runs" / "rt" / "retrieval"
    results = json.loads((out / "results.json").read_text())
    assert set(results["systems"]) == {"off-the-shelf embedder", "adapted embedder (round 1)", "adapted embedder",
                                       "off-the-shelf embedder + reranker", "adapted embedder + reranker"}
    for m in results["systems"].values():
        assert m["queries"] == results["queries"]["heldout"] > 0 and 0 <= m["mrr@10"] <= 1
    assert results["queries"]["train_by_source"] == {"household": results["queries"]["train"]}
    rr = results["reranker"]
    assert rr["used"] == (rr["mrr@10_with"] > rr["mrr@10_without"]) and rr["why"].startswith("the reranker ")
    # the judge ran against the endpoint and its agreement is reported
    assert results["judge"]["pairs"] == 6 and results["judge"]["agreement_with_gold"] is not None
    assert results["judge"]["error"] == ""
    # models load with their libraries; the index holds the corpus in corpus.jsonl's order
    import faiss

    chunks = read_jsonl(out / "corpus.jsonl")
    index = faiss.read_index(str(out / "index.faiss"))
    assert index.ntotal == len(chunks) == results["corpus"]["chunks"]
    embedder = SentenceTransformer(str(out / "embedder"), device="cpu")
    held = read_jsonl(out / "queries" / "heldout.jsonl")
    _, ids = index.search(embedder.encode([held[0]["text"]], normalize_embeddings=True), 10)
    assert any(chunks[i]["id"] in held[0]["positives"] for i in ids[0])
    reranker = CrossEncoder(str(out / "reranker"), device="cpu")
    assert len(reranker.predict([(held[0]["text"], chunks[0]["text"])])) == 1
    # manifests: what each model is, its use, and the corpus it was trained on

    emb_manifest = json.loads((out / "embedder" / "hrmtrain_manifest.json").read_text())
    rr_manifest = json.loads((out / "reranker" / "hrmtrain_manifest.json").read_text())
    assert emb_manifest["corpus_sha256"] == content_hash(out / "corpus.jsonl") == rr_manifest["corpus_sha256"]
    assert emb_manifest["use"] is True and rr_manifest["use"] == rr["used"]
    top = json.loads((out / "manifest.json").read_text())
    assert top["reranker"] == ("reranker" if rr["used"] else None)
    # no held-out document's chunk trained anything: held-out and train queries come from disjoint documents
    train = read_jsonl(out / "queries" / "train.jsonl")
    assert not {q["doc"] for q in train} & {q["doc"] for q in held}
    # the report page: table, plot, the reranker verdict, the files
    page = (out / "report.html").read_text()
    assert 'id="retrieval"' in page and 'alt="retrieval metrics per system"' in page
    assert "public/manuals/oven/" in page and "native text pipeline" in page


def test_stage_is_in_the_lineage_log_and_the_log_verifies(stage):
    cwd, res = stage
    assert res.returncode == 0
    entries = read_jsonl(cwd / "lineage" / "audit.jsonl")
    entry = [e for e in entries if e["stage"] == "retrieval"][-1]
    assert entry["members"] == ["Alex", "Sam"] and entry["consent"]["active"]["Sam"]
    assert entry["outputs"][0]["path"].endswith("runs/rt/retrieval")
    assert any(i["path"].endswith("documents/questions.jsonl") for i in entry["inputs"])
    assert any(i["path"].endswith(".eml") for i in entry["inputs"])
    check = run_cli(["lineage", "verify"], cwd=cwd)
    assert check.returncode == 0, check.stdout + check.stderr


def test_no_household_pii_reaches_the_outputs(stage):
    """The members' full names, first names, surnames and addresses, and the senders of the school letters
    (the teacher's names, phone number and address, from each .eml itself) are absent from what it writes."""
    import email
    import re
    from email import policy

    cwd, _ = stage
    household = json.loads((cwd / "household" / "household.json").read_text())
    out = cwd / "runs" / "rt" / "retrieval"
    # the text a model is trained on and retrieves (a chunk's `members` field is its consent record, as in the log)
    text = "\n".join(row["text"] for f in ("corpus.jsonl", "queries/train.jsonl", "queries/heldout.jsonl")
                     for row in read_jsonl(out / f))
    values = set()
    for m in household["members"]:
        values |= {m["full_name"], *m["emails"], *m["full_name"].split()}
    letters = sorted((cwd / "household" / "documents").rglob("*.eml"))
    for path in letters:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        sender = msg["From"].addresses[0]
        values |= {sender.display_name, sender.addr_spec, *sender.display_name.split()}
        values.add(re.search(r"call .+? on (.+?) or write", msg.get_content()).group(1))
    assert letters
    leaks = sorted(v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text))
    assert len(values) > 10 and leaks == []


def test_bad_input_is_a_message_and_the_earlier_result_stays(stage, tmp_path):
    cwd, _ = stage
    results = cwd / "runs" / "rt" / "retrieval" / "results.json"
    before = results.read_bytes()
    bad = tmp_path / "questions.jsonl"
    bad.write_text(json.dumps({"question": "what?", "document": "public/recipes/pancakes.html",
                               "answer": "no such words anywhere"}) + "\n")
    res = run_cli(["retrieval", "run.name=rt", f"retrieval.questions={bad}", *SMALL], cwd=cwd)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "hrmtrain retrieval: error: no household question has a relevant chunk in the corpus" in res.stderr
    assert results.read_bytes() == before
    empty = tmp_path / "docs"
    empty.mkdir()
    res = run_cli(["retrieval", "run.name=rt2", f"retrieval.docs={empty}", *SMALL], cwd=cwd)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{empty}: the corpus is empty: no document gave a chunk (the folder holds no documents)" in res.stderr
    res = run_cli(["retrieval", "retrieval.epoch=1"], cwd=cwd)
    assert res.returncode != 0 and "retrieval.epoch" in res.stderr
    res = run_cli(["retrieval", "retrieval.heldout_ratio=1.5"], cwd=cwd)
    assert res.returncode == 2 and "retrieval.heldout_ratio" in res.stderr
