"""Queries with their relevant chunks: the household's questions, queries generated for chunks, and
the split by document.

A question (`questions.jsonl`: {"question", "document", "answer"}) is relevant to the chunks of its
document whose text holds the answer; that mapping survives any chunking. The held-out set is split
by document, per folder (public/manuals/oven, public/recipes, a member's letters...), so no document has
chunks on both sides and every kind of document with two or more is on both.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hrmtrain.errors import DataError, HrmError
from hrmtrain.jsonl import read_json_lines
from hrmtrain.retrieval.corpus import Chunk


@dataclass
class Query:
    id: str
    text: str
    doc: str
    positives: list[str]  # chunk ids
    source: str = "household"  # household | template | teacher

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "doc": self.doc, "positives": self.positives, "source": self.source}


@dataclass
class QuerySets:
    train: list[Query]
    heldout: list[Query]
    train_docs: list[str]
    heldout_docs: list[str]
    dropped: Counter = field(default_factory=Counter)  # reason -> household questions not used


def read_questions(path: str | Path, chunks: list[Chunk]) -> tuple[list[Query], Counter]:
    """The household's questions mapped to chunks; (queries, dropped reasons). Bad lines name the row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no questions file (retrieval.questions): one JSON object per line with "
                              "'question', 'document' (path under the documents folder) and 'answer'")
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc, []).append(c)
    queries, dropped = [], Counter()
    for n, row in read_json_lines(path):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) and row[k].strip()
                                                for k in ("question", "document", "answer")):
            raise DataError(path, "needs non-empty string fields 'question', 'document' and 'answer'", n)
        doc_chunks = by_doc.get(row["document"])
        if doc_chunks is None:
            dropped["its document is not in the corpus (skipped, excluded or absent)"] += 1
            continue
        answer = row["answer"].lower()
        positives = [c.id for c in doc_chunks if answer in c.text.lower()]
        if not positives:
            dropped["its answer is in none of its document's chunks (redacted, or not in the text)"] += 1
            continue
        queries.append(Query(f"q{n}", row["question"].strip(), row["document"], positives))
    return queries, dropped


def template_queries(chunks: list[Chunk], per_chunk: int, seed: int) -> list[Query]:
    """Queries written from a chunk's own headings and first sentence: cheap, weak training pairs for
    chunks no household question covers."""
    rng = random.Random(seed)
    out = []
    for c in chunks:
        lines = [ln.strip() for ln in c.text.splitlines() if ln.strip()]
        if not lines:
            continue
        title, heading = lines[0], (lines[1] if len(lines) > 2 else "")
        body = lines[-1] if len(lines) > 1 else lines[0]
        first = body.split(". ")[0].rstrip(".")
        words = first.split()
        snippet = " ".join(words[:8])
        candidates = [f"{title} {heading}".strip().lower(),
                      f"What does the {title.lower()} say about {heading.lower() or snippet.lower()}?",
                      f"{snippet.lower()} ({title.lower()})"]
        rng.shuffle(candidates)
        for i, text in enumerate(candidates[:per_chunk]):
            out.append(Query(f"t{c.id}-{i}", text, c.doc, [c.id], "template"))
    return out


TEACHER_PROMPT = ("Write one short question that a member of a household might ask and that this passage "
                  "answers. Use everyday words, not the passage's own. Reply with the question only.\n\nPassage:\n{passage}")


def teacher_queries(endpoint, chunks: list[Chunk], progress: bool = True) -> list[Query]:
    """One question per chunk from a teacher model behind an OpenAI-compatible endpoint
    (retrieval.teacher); an endpoint failure stops with the endpoint named."""
    from tqdm import tqdm

    from hrmtrain.retrieval.endpoint import EndpointError

    out = []
    for c in tqdm(chunks, desc="teacher queries", unit="chunk", disable=not progress):
        try:
            text = endpoint.ask(TEACHER_PROMPT.format(passage=c.text)).strip().splitlines()
        except EndpointError as exc:
            raise HrmError(f"retrieval.teacher: {exc}") from None
        if text and text[0].strip():
            out.append(Query(f"g{c.id}", text[0].strip(), c.doc, [c.id], "teacher"))
    return out


def document_kind(doc: str) -> str:
    """What kind of document it is, for a stratified split: the folder it sits in (public/manuals/oven,
    public/recipes, shared, a member's folder)."""
    return str(Path(doc).parent)


def split_documents(docs: list[str], heldout_ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held-out) documents: per kind, a seeded shuffle and round(ratio * n) held out (at least
    one of each kind with two or more documents)."""
    rng = random.Random(seed)
    kinds: dict[str, list[str]] = {}
    for d in sorted(docs):
        kinds.setdefault(document_kind(d), []).append(d)
    train, heldout = [], []
    for kind in sorted(kinds):
        group = kinds[kind]
        rng.shuffle(group)
        n = min(len(group) - 1, max(1, round(heldout_ratio * len(group)))) if len(group) > 1 else 0
        heldout += group[:n]
        train += group[n:]
    return sorted(train), sorted(heldout)


def build_query_sets(questions: list[Query], chunks: list[Chunk], heldout_ratio: float,
                     per_chunk: int, seed: int, dropped: Counter | None = None) -> QuerySets:
    """Training queries (household questions and generated ones, train documents only) and the held-out
    household questions. Raise when the held-out side would have no question."""
    if not questions:
        raise HrmError("no household question has a relevant chunk in the corpus"
                       + (f" ({', '.join(f'{n}: {r}' for r, n in dropped.items())})" if dropped else "")
                       + "; the retrieval stage needs questions with positives to train and to measure")
    train_docs, heldout_docs = split_documents(sorted({c.doc for c in chunks}), heldout_ratio, seed)
    held = set(heldout_docs)
    heldout = [q for q in questions if q.doc in held]
    if not heldout:
        raise HrmError(f"none of the {len(questions)} household questions is about a held-out document "
                       f"({len(heldout_docs)} held out at retrieval.heldout_ratio={heldout_ratio}); "
                       "add questions, or raise the ratio")
    train = [q for q in questions if q.doc not in held]
    train += template_queries([c for c in chunks if c.doc not in held], per_chunk, seed)
    return QuerySets(train, heldout, train_docs, heldout_docs, dropped or Counter())


def qrels(queries: list[Query]) -> dict[str, dict[str, float]]:
    return {q.id: {c: 1.0 for c in q.positives} for q in queries}
