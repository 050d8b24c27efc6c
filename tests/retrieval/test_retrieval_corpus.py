"""The retrieval corpus: Docling over the sample household's documents, the consent gate, redaction,
per-file outcomes for what cannot be read, the questions' positives and the split by document."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from hrmtrain.errors import DataError, HrmError
from hrmtrain.privacy.consent import ConsentRegistry
from hrmtrain.privacy.directory import Directory
from hrmtrain.retrieval.corpus import read_corpus
from hrmtrain.retrieval.embed import default_embedder
from hrmtrain.retrieval.queries import build_query_sets, read_questions, split_documents, template_queries
from hrmtrain.sample.household import generate


@pytest.fixture(scope="module")
def household(tmp_path_factory):
    root = tmp_path_factory.mktemp("hh") / "household"
    hh = generate(root, seed=0)
    return root, hh


def _read(root, docs=None, **kw):
    return read_corpus(docs or root / "documents", Directory.load(root / "household.json"),
                       ConsentRegistry(root / "consent.sqlite"), default_embedder(), 128, **kw, progress=False)


@pytest.fixture(scope="module")
def corpus(household):
    return _read(household[0])


def test_every_format_converts_and_each_file_says_how(corpus):
    suffixes = {name.rsplit(".", 1)[1] for name in corpus.files}
    assert suffixes == {"md", "html", "docx", "eml", "pdf"}
    assert all(re.fullmatch(r"\d+ chunks(; .*)?", o) for o in corpus.files.values()), corpus.files
    pdf = [o for n, o in corpus.files.items() if n.endswith(".pdf")]
    # offline, Docling's layout models cannot be had: the native text pipeline reads the PDF, and says so
    assert pdf and all("native text pipeline" in o for o in pdf)
    assert 250 <= len(corpus.chunks) <= 300 and len(corpus.documents) == 62
    # chunks carry their headings (Docling's contextualisation); a heading-less PDF chunk its file's name
    oven = [c.text for c in corpus.chunks if c.doc.startswith("public/manuals/oven/")]
    assert any("Error codes" in t and "oven" in t for t in oven)
    assert all(c.text.splitlines()[0] for c in corpus.chunks)


def test_personal_documents_are_redacted_and_attributed(household, corpus):
    _, hh = household
    letters = [c for c in corpus.chunks if c.doc.startswith(("alex/", "sam/"))]
    shared = [c for c in corpus.chunks if c.doc.startswith("shared/")]
    assert letters and all(c.members == [c.doc.split("/")[0].capitalize()] for c in letters)
    assert shared and all(c.members == ["Alex", "Sam"] for c in shared)
    assert all(c.members == [] for c in corpus.chunks if c.doc.startswith("public/"))
    text = "\n".join(c.text for c in letters)
    assert "<PERSON_1>" in text and "<EMAIL_1>" in text and "<PHONE_1>" in text
    for member in hh.members.values():
        assert member["full_name"] not in text and member["emails"][0] not in text
    # the school's own people and numbers: every e-mail address and phone-like run in the letters is gone
    assert not re.search(r"[\w.]+@[\w.]+\.\w+", text)
    assert not re.search(r"\d{4}\s?\d{3}\s?\d{3,4}", text)


def test_consent_gate_keeps_a_members_documents_out(household, tmp_path):
    root, _ = household
    copy = tmp_path / "household"
    shutil.copytree(root, copy)
    ConsentRegistry(copy / "consent.sqlite").revoke("Sam", "documents")
    corpus = _read(copy)
    out = {n: o for n, o in corpus.files.items() if o.startswith("excluded")}
    # Sam's letters and the shared documents (both members) are out; Alex's and the public ones stay
    assert out and all(n.startswith(("sam/", "shared/")) for n in out)
    assert all("no documents consent from Sam" in o for o in out.values())
    assert not [c for c in corpus.chunks if c.doc.startswith(("sam/", "shared/"))]
    assert corpus.members == ["Alex"]
    qs, dropped = read_questions(copy / "documents" / "questions.jsonl", corpus.chunks)
    assert dropped["its document is not in the corpus (skipped, excluded or absent)"] == 4 + 12
    assert not [q for q in qs if q.doc.startswith(("sam/", "shared/"))]


def test_unreadable_and_misplaced_files_are_skipped_with_the_reason(household, tmp_path):
    root, _ = household
    docs = tmp_path / "documents"
    (docs / "public").mkdir(parents=True)
    shutil.copy(root / "documents" / "public" / "recipes" / "pancakes.html", docs / "public")
    (docs / "public" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf \x00\x01")
    (docs / "public" / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (docs / "public" / "notes.xyz").write_text("what")
    (docs / "strangers").mkdir()
    (docs / "strangers" / "letter.md").write_text("# Hi\n\nHello.")
    corpus = _read(root, docs)
    f = corpus.files
    assert f["public/pancakes.html"] == "4 chunks"
    assert f["public/broken.pdf"].startswith("skipped: Docling could not read it (")
    assert f["public/broken.docx"].startswith("skipped: Docling could not read it (")
    assert f["public/notes.xyz"].startswith("skipped: not a document format read here")
    assert f["strangers/letter.md"].startswith("skipped: not under public/, shared/ or a member's folder (alex, sam)")


def test_an_empty_corpus_or_a_missing_folder_is_a_clear_error(household, tmp_path):
    root, _ = household
    with pytest.raises(DataError, match=r"documents: no documents folder"):
        _read(root, tmp_path / "documents")
    (tmp_path / "documents" / "public").mkdir(parents=True)
    with pytest.raises(DataError, match=r"the corpus is empty: no document gave a chunk \(the folder holds no documents\)"):
        _read(root, tmp_path / "documents")
    (tmp_path / "documents" / "public" / "bad.pdf").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"the corpus is empty: no document gave a chunk \(1 skipped: Docling could not read it\)"):
        _read(root, tmp_path / "documents")


def test_questions_map_to_the_chunks_holding_their_answer(household, corpus):
    root, _ = household
    qs, dropped = read_questions(root / "documents" / "questions.jsonl", corpus.chunks)
    assert len(qs) == 250 and not dropped
    text = {c.id: c for c in corpus.chunks}
    for q in qs:
        assert q.positives and all(text[p].doc == q.doc for p in q.positives)
    rows = [json.loads(line) for line in (root / "documents" / "questions.jsonl").read_text().splitlines()]
    for q, row in zip(qs, rows):
        assert all(row["answer"].lower() in text[p].text.lower() for p in q.positives)


def test_bad_question_lines_name_the_row(corpus, tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "q", "document": "d", "answer": "a"}\n{"question": 3}\n')
    with pytest.raises(DataError, match=r"questions.jsonl, row 2: needs non-empty string fields"):
        read_questions(path, corpus.chunks)
    path.write_text("{not json\n")
    with pytest.raises(DataError, match=r"row 1: not valid JSON"):
        read_questions(path, corpus.chunks)
    with pytest.raises(DataError, match="no questions file"):
        read_questions(tmp_path / "absent.jsonl", corpus.chunks)


def test_a_query_set_without_positives_is_refused(corpus, tmp_path):
    path = tmp_path / "questions.jsonl"
    doc = corpus.chunks[0].doc
    path.write_text(json.dumps({"question": "anything?", "document": doc, "answer": "words nowhere in it"}) + "\n")
    qs, dropped = read_questions(path, corpus.chunks)
    assert qs == [] and sum(dropped.values()) == 1
    with pytest.raises(HrmError, match=r"no household question has a relevant chunk in the corpus \(1: its answer is in none"):
        build_query_sets(qs, corpus.chunks, 0.3, 2, 0, dropped)


def test_split_is_by_document_per_folder_and_seeded(household, corpus):
    root, _ = household
    qs, dropped = read_questions(root / "documents" / "questions.jsonl", corpus.chunks)
    sets = build_query_sets(qs, corpus.chunks, 0.3, 2, seed=0, dropped=dropped)
    train_docs, held_docs = set(sets.train_docs), set(sets.heldout_docs)
    assert not train_docs & held_docs and train_docs | held_docs == set(corpus.documents)
    assert all(q.doc in held_docs for q in sets.heldout) and all(q.doc in train_docs for q in sets.train)
    assert {q.source for q in sets.heldout} == {"household"} and {q.source for q in sets.train} == {"household", "template"}
    # every folder with two or more documents is on both sides: each appliance's second manual is held out
    folders = {d.rsplit("/", 1)[0] for d in corpus.documents}
    for folder in folders:
        inside = [d for d in corpus.documents if d.rsplit("/", 1)[0] == folder]
        if len(inside) > 1:
            assert any(d in held_docs for d in inside) and any(d in train_docs for d in inside), folder
    assert split_documents(corpus.documents, 0.3, 0) == split_documents(corpus.documents, 0.3, 0)
    assert split_documents(corpus.documents, 0.3, 0) != split_documents(corpus.documents, 0.3, 1)


def test_template_queries_come_from_the_chunk_and_point_at_it(corpus):
    qs = template_queries(corpus.chunks[:20], 2, seed=0)
    assert len(qs) == 40
    for q in qs:
        chunk = next(c for c in corpus.chunks if c.id == q.positives[0])
        title = chunk.text.splitlines()[0].lower()
        assert title in q.text.lower() and q.source == "template"
