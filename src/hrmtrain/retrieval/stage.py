"""`hrmtrain retrieval`: adapt the embedder and the reranker to the household's documents and questions.

documents (Docling, consent, redaction) -> queries (household questions, generated queries) split by
document -> off-the-shelf embedder measured -> round 1: MNRL -> hard negatives mined -> (judge labels)
-> reranker (RankNet) -> round 2: MNRL with the hard negatives -> everything measured on the held-out
queries -> models, FAISS index, manifests and results written at once (or not at all) -> lineage.

The reranker is switched on in the manifest only when the adapted embedder + reranker beats the adapted
embedder alone on MRR@10 over the held-out queries; the results say which and by how much.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING


from hrmtrain import __version__, atomic, config
from hrmtrain.config import DataConfig, RetrievalConfig
from hrmtrain.jsonl import write_json_lines
from hrmtrain import runs

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

RESULTS = "results.json"


def ensure_documents(cfg: HrmConfig) -> Path:
    """The documents folder; the sample household (with its documents) is generated where the defaults
    point and nothing is there yet."""
    from hrmtrain.sample import ensure_household

    docs = Path(cfg.retrieval.docs)
    default = cfg.data.raw == DataConfig.raw and docs == Path(DataConfig.raw) / "documents"
    ensure_household(cfg.data)
    if not docs.exists() and default:
        from hrmtrain.sample.documents import generate_documents

        household = json.loads((Path(cfg.data.raw) / "household.json").read_text())
        generate_documents(docs, {m["name"]: m for m in household["members"]}, seed=cfg.data.seed)
        print(f"hrmtrain retrieval: generated the sample household's documents in {docs}/")
    return docs


def _redact_personal_questions(queries, corpus, directory) -> None:
    """Questions about a personal document may name people too: same redaction as its chunks."""
    from hrmtrain.privacy.redact import Redactor

    personal = {c.doc for c in corpus.chunks if c.members}
    todo = [q for q in queries if q.doc in personal]
    if todo:
        known = [n for m in directory.members for n in (m.name, m.full_name)]
        for q, (text, _) in zip(todo, Redactor(known_names=known).redact_many([q.text for q in todo])):
            q.text = text


def _metrics(run, qrels) -> dict:
    from hrmtrain.retrieval.metrics import evaluate_run

    return evaluate_run(run, qrels)


class _Laps:
    """Seconds per phase, as `results["timings_s"]` reports them."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._since, 2)
        self._since = now


@dataclass
class _Inputs:
    """What every phase reads: the consented, redacted corpus and the query sets split by document."""

    docs: Path
    snapshot: dict  # the consent registry's snapshot every document was decided against
    embedder_path: str
    corpus: object  # corpus.Corpus
    sets: object  # queries.QuerySets
    train_chunks: list
    text: dict[str, str]  # chunk id -> text
    qrels: dict
    query_text: dict[str, str]  # held-out query id -> text


@dataclass
class _Trained:
    """What the training phases leave for the measurement and the results."""

    rule: object = None  # mine.MiningRule
    mined: list = field(default_factory=list)
    judged: object = None
    reranker: object = None
    losses: dict[str, list[float]] = field(default_factory=dict)


def adapt(cfg: HrmConfig, out: Path, progress: bool = True) -> dict:
    """Run the whole adaptation; write `out` (replacing an earlier one only when complete); return the results."""
    from hrmtrain.lineage import AuditLog
    from hrmtrain.retrieval import embed

    r = cfg.retrieval
    started = time.perf_counter()
    log = AuditLog(cfg.lineage.dir)
    log.check()  # before any work
    laps = _Laps()
    inputs = _read_inputs(cfg, progress)
    laps.lap("corpus_and_queries")

    depth = max(10, r.reranker.candidates)
    model = embed.load_embedder(inputs.embedder_path)
    base_run, _ = embed.search(model, inputs.sets.heldout, inputs.corpus.chunks, depth, progress=progress)
    systems = {"off-the-shelf embedder": _metrics(base_run, inputs.qrels)}
    laps.lap("measure_off_the_shelf")

    results: dict = {}
    commit = _lineage_record(log, r, inputs, systems, results)
    with tempfile.TemporaryDirectory(prefix="hrmtrain-retrieval-") as work, \
            atomic.staged_dir(out, replace=True, commit=commit) as tmp:
        trained = _train(r, model, inputs, Path(work), systems, depth, laps, progress)
        index = _measure_adapted(r, model, inputs, trained.reranker, systems, base_run, depth)
        laps.lap("measure_adapted")
        results.update(_results(r, inputs, systems, trained, laps.timings))
        _write_outputs(tmp, cfg, inputs.corpus, inputs.sets, model, index, trained.reranker, results, inputs.snapshot)
        results["timings_s"]["total"] = round(time.perf_counter() - started, 2)
        atomic.write_json(tmp / RESULTS, results)
    return results


def _read_inputs(cfg: HrmConfig, progress: bool) -> _Inputs:
    """Documents under the consent snapshot (read, chunked, redacted), the household's and generated queries
    split by document, and a teacher's queries for the training chunks where one is configured."""
    from hrmtrain.privacy.consent import ConsentRegistry
    from hrmtrain.privacy.directory import Directory
    from hrmtrain.retrieval import embed, queries as Q
    from hrmtrain.retrieval.corpus import read_corpus

    r = cfg.retrieval
    docs = ensure_documents(cfg)
    directory = Directory.load(Path(cfg.data.raw) / "household.json")
    registry = ConsentRegistry(cfg.data.consent_db)
    snapshot = registry.snapshot()  # every document is decided against it, and it is what the log records
    embedder_path = r.embedder or embed.default_embedder()
    corpus = read_corpus(docs, directory, registry, embedder_path, r.chunk_tokens,
                         str(r.pdf_pipeline), progress, snapshot)
    questions, dropped = Q.read_questions(r.questions, corpus.chunks)
    _redact_personal_questions(questions, corpus, directory)
    sets = Q.build_query_sets(questions, corpus.chunks, r.heldout_ratio, r.generated_per_chunk, r.seed, dropped)
    held = set(sets.heldout_docs)
    train_chunks = [c for c in corpus.chunks if c.doc not in held]
    if r.teacher.base_url:
        from hrmtrain.retrieval.endpoint import ChatEndpoint

        sets.train += Q.teacher_queries(ChatEndpoint.from_config(r.teacher, 64), train_chunks, progress)
    return _Inputs(docs=docs, snapshot=snapshot, embedder_path=embedder_path, corpus=corpus, sets=sets,
                   train_chunks=train_chunks, text={c.id: c.text for c in corpus.chunks}, qrels=Q.qrels(sets.heldout),
                   query_text={q.id: q.text for q in sets.heldout})


def _lineage_record(log, r, inputs: _Inputs, systems: dict, results: dict):
    """The audit entry, written as the models are put in place (if it fails, no models); `results` is
    filled in by then."""
    def record(final: Path) -> None:
        questions = Path(r.questions)
        read = [inputs.docs / f for f in inputs.corpus.files] + ([questions] if questions.is_file() else [])
        log.append(
            "retrieval", inputs=read,
            # the models' own folders too: a report written beside them later must not break their trace
            outputs=[final, *(final / m for m in ("embedder", "reranker") if (final / m).is_dir())],
            config=config.plain(r), consent=inputs.snapshot, members=inputs.corpus.members,
            excluded={k: v for k, v in inputs.corpus.excluded.items()},
            details={"files": inputs.corpus.files, "systems": {k: v["mrr@10"] for k, v in systems.items()},
                     "reranker_used": results["reranker"]["used"]})
    return record


def _train(r, model, inputs: _Inputs, work: Path, systems: dict, depth: int, laps: _Laps, progress: bool) -> _Trained:
    """Round 1 (MNRL), hard negatives, the judge's grades, the reranker, round 2 (MNRL with the negatives)."""
    from hrmtrain.retrieval import embed, mine, rerank

    rng = random.Random(r.seed)
    trained = _Trained()
    rows = [(q.text, inputs.text[rng.choice(q.positives)]) for q in inputs.sets.train]
    print(f"hrmtrain retrieval: round 1, MNRL on {len(rows)} (query, chunk) pairs")
    trained.losses["embedder_round1"] = embed.fine_tune(model, rows, work / "round1", r.epochs, r.batch_size, r.lr,
                                                        r.seed)
    laps.lap("embedder_round1")
    run1, _ = embed.search(model, inputs.sets.heldout, inputs.corpus.chunks, depth)
    systems["adapted embedder (round 1)"] = _metrics(run1, inputs.qrels)

    wanted = max(r.mining.num_negatives, r.reranker.negatives)
    trained.rule = mine.MiningRule(r.mining.range_min, r.mining.range_max, r.mining.relative_margin, wanted)
    trained.mined = mine.mine(model, inputs.sets.train, inputs.train_chunks, trained.rule)
    laps.lap("mining")

    if r.judge.endpoint.base_url:
        from hrmtrain.retrieval.judge import Judge, judge_mined

        trained.judged = judge_mined(Judge.from_config(r.judge.endpoint, r.judge.max_tokens), trained.mined,
                                     inputs.text, r.judge.pairs, progress)
        laps.lap("judge")

    if r.reranker.enabled:
        trained.reranker = rerank.new_reranker(inputs.embedder_path, r.reranker.max_length)
        lists = rerank_lists(trained.mined, inputs.text, r.reranker.negatives, trained.judged)
        print(f"hrmtrain retrieval: reranker, RankNet on {len(lists)} queries")
        trained.losses["reranker"] = rerank.train_reranker(trained.reranker, lists, work / "reranker",
                                                           r.reranker.epochs, r.reranker.batch_size, r.reranker.lr,
                                                           r.seed)
        laps.lap("reranker")

    if r.mining.enabled:
        if r.mining.rescore and trained.reranker is not None:
            trained.rule.num_negatives = r.mining.num_negatives
            trained.mined = mine.mine(model, inputs.sets.train, inputs.train_chunks, trained.rule,
                                      reranker=trained.reranker)
        for m in trained.mined:
            m.negatives = m.negatives[:r.mining.num_negatives]
        rows2 = mine.tuples(trained.mined, inputs.text, rng)
        if rows2:
            print(f"hrmtrain retrieval: round 2, MNRL on {len(rows2)} (query, chunk, hard negatives) rows")
            trained.losses["embedder_round2"] = embed.fine_tune(model, rows2, work / "round2", r.mining.epochs,
                                                                r.batch_size, r.mining.lr, r.seed)
        laps.lap("embedder_round2")
    return trained


def _measure_adapted(r, model, inputs: _Inputs, reranker, systems: dict, base_run, depth: int):
    """The adapted embedder, and the reranker over both embedders' candidates, on the held-out queries;
    returns the FAISS index of the corpus."""
    from hrmtrain.retrieval import embed, rerank

    index = embed.build_index(embed.encode(model, [c.text for c in inputs.corpus.chunks]))
    final_run, _ = embed.search(model, inputs.sets.heldout, inputs.corpus.chunks, depth, index=index)
    systems["adapted embedder"] = _metrics(final_run, inputs.qrels)
    if reranker is not None:
        k = r.reranker.candidates
        systems["off-the-shelf embedder + reranker"] = _metrics(
            rerank.rerank(reranker, inputs.query_text, base_run, inputs.text, k), inputs.qrels)
        systems["adapted embedder + reranker"] = _metrics(
            rerank.rerank(reranker, inputs.query_text, final_run, inputs.text, k), inputs.qrels)
    return index


def _results(r, inputs: _Inputs, systems: dict, trained: _Trained, timings: dict) -> dict:
    corpus, sets, reranker = inputs.corpus, inputs.sets, trained.reranker
    adapted, base = systems["adapted embedder"]["mrr@10"], systems["off-the-shelf embedder"]["mrr@10"]
    with_reranker = systems.get("adapted embedder + reranker", {}).get("mrr@10")
    helps = with_reranker is not None and with_reranker > adapted
    return {
        "systems": systems,
        "mrr@10_gain": adapted - base,
        "reranker": {"trained": reranker is not None, "helps": helps, "used": helps,
                     "mrr@10_with": with_reranker, "mrr@10_without": adapted,
                     "why": _reranker_verdict(reranker is not None, with_reranker, adapted)},
        "corpus": {"documents": len(corpus.documents), "chunks": len(corpus.chunks), "files": corpus.files,
                   "excluded": dict(corpus.excluded), "members": corpus.members},
        "queries": {"train": len(sets.train), "heldout": len(sets.heldout),
                    "train_by_source": dict(Counter(q.source for q in sets.train)),
                    "train_documents": len(sets.train_docs), "heldout_documents": len(sets.heldout_docs),
                    "questions_dropped": dict(sets.dropped)},
        "mining": {"rule": {**vars(trained.rule), "num_negatives": r.mining.num_negatives},
                   "reranker_negatives": r.reranker.negatives,
                   "queries_with_negatives": sum(1 for m in trained.mined if m.negatives),
                   "rescored_by_reranker": bool(r.mining.rescore and reranker is not None)},
        "judge": trained.judged.summary() if trained.judged else None,
        "losses": trained.losses,
        "embedder_base": inputs.embedder_path,
        "timings_s": timings,
    }


def _reranker_verdict(trained: bool, with_reranker, without: float) -> str:
    if not trained:
        return "not trained (retrieval.reranker.enabled=false)"
    verb = "helps" if with_reranker > without else "does not help"
    return (f"the reranker {verb}: MRR@10 {with_reranker:.3f} with it vs {without:.3f} for the adapted embedder "
            f"alone on the held-out queries; it is {'used' if with_reranker > without else 'saved but not used'}")


def rerank_lists(mined, text: dict[str, str], negatives: int, judged=None) -> list[tuple[str, list[str], list[float]]]:
    """(query, [positives..., negatives...], [labels]) for RankNet: positives 1, mined negatives 0, or the
    judge's grade / 2 where the judge graded that (query, chunk)."""
    grades = judged.grades if judged else {}
    out = []
    for m in mined:
        negs = m.negatives[:negatives]
        if not negs:
            continue
        labels = [1.0] * len(m.query.positives) + [grades.get((m.query.id, n), 0) / 2 for n in negs]
        out.append((m.query.text, [text[p] for p in m.query.positives] + [text[n] for n in negs], labels))
    return out


def _write_outputs(tmp: Path, cfg, corpus, sets, model, index, reranker, results: dict, snapshot: dict) -> None:
    import faiss

    from hrmtrain.lineage import content_hash

    write_json_lines(tmp / "corpus.jsonl", (c.to_dict() for c in corpus.chunks), ensure_ascii=False)
    for name, qs in (("train", sets.train), ("heldout", sets.heldout)):
        write_json_lines(tmp / "queries" / f"{name}.jsonl", (q.to_dict() for q in qs), ensure_ascii=False)
    faiss.write_index(index, str(tmp / "index.faiss"))  # rows in corpus.jsonl's order
    common = {"hrmtrain_version": __version__, "corpus_sha256": content_hash(tmp / "corpus.jsonl"),
              "heldout_documents": sets.heldout_docs, "consent_snapshot_at": snapshot.get("at"),
              "config": config.plain(cfg.retrieval),
              "created": datetime.now().astimezone().isoformat(timespec="seconds")}
    model.save(str(tmp / "embedder"))
    atomic.write_json(tmp / "embedder" / "hrmtrain_manifest.json", {
        "kind": "embedder", "base": results["embedder_base"], "use": True,
        "heldout": {k: v for k, v in results["systems"].items() if k.endswith("embedder")
                    or k.startswith("adapted embedder (")}, **common})
    if reranker is not None:
        reranker.save(str(tmp / "reranker"))
        atomic.write_json(tmp / "reranker" / "hrmtrain_manifest.json", {
            "kind": "reranker", "base": results["embedder_base"], "use": results["reranker"]["used"],
            "why": results["reranker"]["why"], "candidates": cfg.retrieval.reranker.candidates,
            "heldout": {k: v for k, v in results["systems"].items() if "reranker" in k}, **common})
    atomic.write_json(tmp / "manifest.json", {
        "kind": "hrmtrain retrieval models", "embedder": "embedder", "index": "index.faiss", "corpus": "corpus.jsonl",
        "reranker": "reranker" if reranker is not None and results["reranker"]["used"] else None, **common})


def print_retrieval_results(results: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"retrieval on {results['queries']['heldout']} held-out queries ({out})")
    for col in ("system", "MRR@10", "Recall@5", "Recall@10", "nDCG@10"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for name, m in results["systems"].items():
        table.add_row(name, *(f"{m[k]:.3f}" for k in ("mrr@10", "recall@5", "recall@10", "ndcg@10")))
    Console().print(table)
    print(f"MRR@10 gain over off-the-shelf: {results['mrr@10_gain']:+.3f}; {results['reranker']['why']}")
    print(f"{results['corpus']['chunks']} chunks from {results['corpus']['documents']} documents; "
          f"{results['timings_s'].get('total', 0):.0f} s")


def default_out(cfg: HrmConfig) -> Path:
    name = cfg.run.name or runs.new_run_name("retrieval")
    return Path(cfg.run.dir) / name / "retrieval"


def run(cfg: HrmConfig) -> dict:
    from hrmtrain.retrieval.report_section import write_standalone

    out = default_out(cfg)
    results = adapt(cfg, out)
    print_retrieval_results(results, out)
    page = write_standalone(out)
    print(f"models: {out}/embedder, {out}/reranker; index: {out}/index.faiss\nreport: {page}")
    return results


__all__ = ["adapt", "run", "RetrievalConfig"]
