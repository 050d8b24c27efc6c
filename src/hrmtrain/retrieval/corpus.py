"""The household's documents -> Docling -> consent gate -> chunks (HybridChunker) -> redaction.

Who a document concerns is where it lies under the documents folder:

    public/...      not personal (manuals, recipes, guides): no consent needed, not redacted
    shared/...      the whole household: every member needs an active `documents` grant
    <member>/...    that member (the first name in household.json, any case)

A file Docling cannot read is skipped with the reason, like a file the data stage cannot read; the
stage stops only when no chunk is left. PDFs go through Docling's standard pipeline when its layout
models can be had; where they cannot (offline, as here) the model-free native text pipeline reads them
and the file's outcome says so.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hrmtrain.privacy.consent import ConsentRegistry
from hrmtrain.privacy.directory import Directory
from hrmtrain.errors import DataError

CATEGORY = "documents"
SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".docx": "docx",
            ".eml": "email", ".pdf": "pdf"}
OWN_FILES = {"questions.jsonl"}


@dataclass
class Chunk:
    id: str
    doc: str  # path relative to the documents folder
    text: str  # Docling's contextualized chunk (headings + text), redacted where the document is personal
    members: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Corpus:
    root: Path
    chunks: list[Chunk]
    files: dict[str, str]  # relative path -> outcome
    excluded: Counter  # reason -> documents kept out by consent
    members: list[str]  # members whose documents went in

    @property
    def documents(self) -> list[str]:
        return sorted({c.doc for c in self.chunks})


def owners(rel: Path, directory: Directory) -> tuple[bool, list[str]] | None:
    """(personal, members) for a document at `rel`, or None when its folder says nobody."""
    top = rel.parts[0].lower() if len(rel.parts) > 1 else ""
    if top == "public":
        return False, []
    if top == "shared":
        return True, list(directory.names)
    for name in directory.names:
        if name.lower() == top:
            return True, [name]
    return None


class _Converter:
    """Docling's DocumentConverter for the formats read offline; PDF falls back to the native pipeline."""

    def __init__(self, pdf_pipeline: str):
        from docling.datamodel.base_models import InputFormat
        from docling.document_converter import DocumentConverter

        logging.getLogger("docling").setLevel(logging.ERROR)
        self.formats = [InputFormat.MD, InputFormat.HTML, InputFormat.DOCX, InputFormat.EMAIL, InputFormat.PDF]
        self.converter = DocumentConverter(allowed_formats=self.formats, format_options=self._pdf_options(False))
        self.native = None
        self.pdf_pipeline = pdf_pipeline
        self.standard_failed = ""

    @staticmethod
    def _pdf_options(native: bool) -> dict:
        from docling.datamodel.base_models import InputFormat
        from docling.document_converter import PdfFormatOption

        try:
            from docling.backend.pypdfium2_backend import PyPdfiumDocumentBackend
        except ImportError:  # pypdfium2/rtree absent: Docling's default backend, which says what to install
            return {}
        if not native:
            return {InputFormat.PDF: PdfFormatOption(backend=PyPdfiumDocumentBackend)}
        from docling.datamodel.pipeline_options import NativePdfPipelineOptions
        from docling.pipeline.native_pdf_pipeline import NativePdfPipeline

        return {InputFormat.PDF: PdfFormatOption(pipeline_cls=NativePdfPipeline, backend=PyPdfiumDocumentBackend,
                                                 pipeline_options=NativePdfPipelineOptions())}

    def _native(self):
        if self.native is None:
            from docling.document_converter import DocumentConverter

            self.native = DocumentConverter(allowed_formats=self.formats, format_options=self._pdf_options(True))
        return self.native

    def convert(self, path: Path):
        """(DoclingDocument, note) or raise ValueError with Docling's reason."""
        note = ""
        if path.suffix.lower() == ".pdf" and (self.pdf_pipeline == "native" or self.standard_failed):
            converter, note = self._native(), "native text pipeline" + (
                f" (standard pipeline unavailable: {self.standard_failed})" if self.standard_failed else "")
        else:
            converter = self.converter
        try:
            result = converter.convert(path, raises_on_error=False)
        except Exception as exc:  # noqa: BLE001 - Docling raises many kinds; each becomes the file's outcome
            if path.suffix.lower() == ".pdf" and converter is self.converter and self.pdf_pipeline == "auto":
                # the standard pipeline's layout models cannot be had (offline): native text from now on
                self.standard_failed = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                return self.convert(path)
            raise ValueError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        status = result.status.value  # docling's ConversionStatus
        if status not in ("success", "partial_success") or result.document is None:
            reasons = "; ".join(e.error_message for e in result.errors) or f"conversion {status}"
            raise ValueError(reasons)
        return result.document, note


def make_chunker(tokenizer_dir: str, max_tokens: int):
    """Docling's HybridChunker sized by the embedder's own tokenizer (an explicit max_tokens: no hub lookup)."""
    from docling.chunking import HybridChunker
    from docling_core.transforms.chunker.tokenizer.huggingface import HuggingFaceTokenizer
    from transformers import AutoTokenizer

    tokenizer = HuggingFaceTokenizer(tokenizer=AutoTokenizer.from_pretrained(tokenizer_dir), max_tokens=max_tokens)
    return HybridChunker(tokenizer=tokenizer)


def _context(chunker, chunk, path: Path) -> str:
    """Docling's contextualized chunk (headings, then text). A chunk with no heading (a PDF read by the
    native pipeline has none) is prefixed with the file's name, so that it still says what it is about."""
    text = chunker.contextualize(chunk)
    if not chunk.meta.headings and text.strip():
        text = f"{path.stem.replace('-', ' ').replace('_', ' ')}\n{text}"
    return text


def read_corpus(root: str | Path, directory: Directory, registry: ConsentRegistry, tokenizer_dir: str,
                max_tokens: int, pdf_pipeline: str = "auto", progress: bool = True,
                snapshot: dict | None = None) -> Corpus:
    """`snapshot`: the consent snapshot every document is decided against (default: one taken now)."""
    from hrmtrain.privacy.consent import decide
    from tqdm import tqdm

    from hrmtrain.privacy.redact import Placeholders, Redactor

    snapshot = snapshot or registry.snapshot()
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "no documents folder (retrieval.docs): put the household's documents here "
                              "(public/, shared/ or <member>/ subfolders)")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts) and p.name not in OWN_FILES)
    files: dict[str, str] = {}
    excluded: Counter = Counter()
    converter = _Converter(pdf_pipeline)
    chunker = make_chunker(tokenizer_dir, max_tokens)
    raw: list[tuple[str, str, list[str], bool]] = []  # (doc, text, members, personal)
    members_used: set[str] = set()
    for path in tqdm(paths, desc="documents", unit="doc", disable=not progress):
        rel = path.relative_to(root)
        if path.suffix.lower() not in SUFFIXES:
            files[str(rel)] = f"skipped: not a document format read here ({', '.join(sorted(SUFFIXES))})"
            continue
        owner = owners(rel, directory)
        if owner is None:
            files[str(rel)] = ("skipped: not under public/, shared/ or a member's folder "
                               f"({', '.join(n.lower() for n in directory.names)})")
            continue
        personal, members = owner
        decision = decide(snapshot, members, CATEGORY, personal)
        if not decision.allowed:
            files[str(rel)] = f"excluded: {decision.reason}"
            excluded[decision.reason] += 1
            continue
        try:
            document, note = converter.convert(path)
        except ValueError as exc:
            files[str(rel)] = f"skipped: Docling could not read it ({exc})"
            continue
        texts = [_context(chunker, c, path) for c in chunker.chunk(document)]
        texts = [t for t in texts if t.strip()]
        if not texts:
            files[str(rel)] = "skipped: no text in it"
            continue
        raw += [(str(rel), t, members, personal) for t in texts]
        members_used.update(members)
        files[str(rel)] = f"{len(texts)} chunks" + (f"; {note}" if note else "")

    personal_idx = [i for i, r in enumerate(raw) if r[3]]
    if personal_idx:
        known = [n for m in directory.members for n in (m.name, m.full_name)]
        per_doc: dict[str, Placeholders] = {}
        texts = [raw[i][1] for i in personal_idx]
        holders = [per_doc.setdefault(raw[i][0], Placeholders()) for i in personal_idx]
        for i, (text, _spans) in zip(personal_idx, Redactor(known_names=known).redact_many(texts, holders)):
            raw[i] = (raw[i][0], text, raw[i][2], True)
    chunks = []
    for n, (doc, text, members, _) in enumerate(raw):
        cid = hashlib.sha256(f"{doc}\0{n}\0{text}".encode()).hexdigest()[:16]
        chunks.append(Chunk(cid, doc, text, members))
    if not chunks:
        reasons = Counter(o.split(" (")[0] for o in files.values())
        raise DataError(root, "the corpus is empty: no document gave a chunk"
                              + (f" ({', '.join(f'{n} {r}' for r, n in reasons.items())})" if files else
                                 " (the folder holds no documents)"))
    return Corpus(root, chunks, files, excluded, sorted(members_used))
