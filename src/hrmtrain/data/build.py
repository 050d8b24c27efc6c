"""`hrmtrain data`: raw household files -> consent gate -> redaction -> instruction examples -> splits.

Everything that can stop the build (no household.json, no consent registry, a registry naming an
unknown member, a gold call the tools reject) happens before anything is written; the output folder
appears whole (train/val/test Parquet + manifest) or not at all. The manifest holds counts only:
per split and task type, and exclusions by reason code. Which member's data went in, and per-file
outcomes, go to the lineage log, never into the dataset folder.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING


from hrmtrain import __version__, atomic, config
from hrmtrain.privacy.consent import POSSIBLY_CONCERNED, ConsentError, ConsentRegistry, decide
from hrmtrain.data import phrasing
from hrmtrain.data.instruct import build_examples
from hrmtrain.data.mix import check_sources, mix_rows
from hrmtrain.data.sources.ingest import ingest
from hrmtrain.data.sources.records import Record
from hrmtrain.privacy.directory import Directory
from hrmtrain.data.split import SPLITS, assign
from hrmtrain.errors import DataError, HrmError

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

MANIFEST_KIND = "hrmtrain household SFT splits"
# The fields of each record kind that can hold PII and are redacted (the rest are dates, numbers, ids).
REDACTED_FIELDS = {
    "event": ("title", "location", "attendees"),
    "email": ("sender", "sender_name", "subject", "body"),
    "todo": ("title", "assignee"),
    "shopping": ("item",),
}


@dataclass
class BuildResult:
    out: Path
    counts: dict[str, dict[str, int]]
    excluded: dict[str, int]  # reason code -> records
    files: dict[str, str]  # relative path -> outcome
    members: list[str]
    records_used: int
    warnings: list[str] = field(default_factory=list)


def redact_records(records: list[Record], directory: Directory) -> list[Record]:
    """Every PII span in the redactable fields becomes a typed placeholder, consistent per record."""
    from hrmtrain.privacy.redact import Placeholders, Redactor

    known = [n for m in directory.members for n in (m.name, m.full_name)]
    redactor = Redactor(known_names=known, locale=directory.locale or None)
    jobs: list[tuple[Record, str, int | None, Placeholders]] = []
    texts: list[str] = []
    out = []
    for rec in records:
        fields = dict(rec.fields)
        placeholders = Placeholders()
        for name in REDACTED_FIELDS.get(rec.kind, ()) if rec.sensitive else ():
            value = fields.get(name)
            if isinstance(value, list):
                fields[name] = list(value)
                for i, item in enumerate(value):
                    jobs.append((fields, name, i, placeholders))
                    texts.append(str(item))
            elif value:
                jobs.append((fields, name, None, placeholders))
                texts.append(str(value))
        out.append(Record(rec.kind, rec.category, rec.source, rec.key, fields, rec.members, rec.possible))
    results = redactor.redact_many(texts, [job[3] for job in jobs])
    for (fields, name, index, _), (text, _spans) in zip(jobs, results):
        if index is None:
            fields[name] = text
        else:
            fields[name][index] = text
    return out


def _reason_code(reason: str, category: str) -> str:
    """A consent decision as a code without names (names stay in the lineage log)."""
    if reason.startswith("no ") and "consent" in reason:
        return f"no {category} consent from every member concerned"
    if "not a registered member" in reason:
        return "concerns someone not registered in the household"
    if reason.startswith(POSSIBLY_CONCERNED):
        return POSSIBLY_CONCERNED
    return reason


def _parquet_rows(rows: list[dict]) -> list[dict]:
    """Tool-call arguments and tool schemas as JSON strings: Arrow would otherwise merge every
    tool's argument structs into one schema and add null keys to each call (see prompt/rows.py)."""
    out = []
    for r in rows:
        messages = []
        for m in r["messages"]:
            m = dict(m)
            if "tool_calls" in m:
                m["tool_calls"] = [{"type": "function", "function": {"name": c["function"]["name"],
                                    "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False)}}
                                   for c in m["tool_calls"]]
            messages.append(m)
        out.append({"messages": messages, "tools": json.dumps(r["tools"], ensure_ascii=False),
                    "task_type": r["task_type"], "phrasing": r.get("phrasing", ""),
                    "held_out_phrasing": bool(r.get("phrasing")) and phrasing.is_held_out(*_split_id(r["phrasing"])),
                    "multi_step": r["multi_step"], "record_id": r["record_id"], "initial_state": r["initial_state"]})
    return out


def _split_id(phrasing_id: str) -> tuple[str, int]:
    task_type, index = phrasing_id.rsplit("#", 1)
    return task_type, int(index)


def _write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(_parquet_rows(rows)), path)


def varied_examples(records: list[Record], train: list[dict], copies: int, now: str, seed: int) -> list[dict]:
    """Examples from `copies` slot-varied copies of the records behind the train split (augment.py);
    each copy's examples carry the record_id of the record it was varied from."""
    from hrmtrain.data.augment import varied_records

    in_train = {e["record_id"] for e in train}
    sources = [r for r in records if r.record_id in in_train]
    rows = []
    for copy in range(copies):
        # one copy at a time: a copy's recipe examples see that copy's recipes, as the originals do theirs
        varied, origin = varied_records(sources, copy, now, seed)
        for row in build_examples(varied, now, seed=seed + copy):
            row["record_id"] = origin[row["record_id"]]
            rows.append(row)
    return rows


def with_held_out_phrasings(test: list[dict], records: list[Record], now: str, seed: int, ratio: float) -> list[dict]:
    """The test split with a `ratio` share of its rows (chosen by a hash of record and task type) asked in
    the held-out templates of phrasing.py instead: same record, slots and gold, wording never trained on."""
    if ratio <= 0 or not test:
        return test
    import hashlib

    wanted = {(r["record_id"], r["task_type"]) for r in test
              if int.from_bytes(hashlib.sha256(f"{seed}|{r['record_id']}|{r['task_type']}|heldout".encode())
                                .digest()[:4], "big") / 2**32 < ratio}
    # all records, as the first build had them: the builders' random stream and the recipe book match
    other = {(r["record_id"], r["task_type"]): r for r in build_examples(records, now, seed=seed, held_out_phrasing=True)}
    return [{**r, "messages": other[key]["messages"], "phrasing": other[key]["phrasing"]}
            if (key := (r["record_id"], r["task_type"])) in wanted and key in other else r for r in test]


def build(cfg: HrmConfig) -> BuildResult:
    d = cfg.data
    raw, out = Path(d.raw), Path(d.path)
    if not raw.is_dir():
        raise DataError(raw, "data.raw does not exist or is not a folder of household files")
    if out.exists() and any(out.iterdir()):
        manifest = out / "manifest.json"
        ours = manifest.is_file() and MANIFEST_KIND in manifest.read_text(errors="replace")
        if not ours:
            raise HrmError(f"{out}: data.path already holds data that `hrmtrain data` did not write; "
                           "refusing to overwrite it (choose another data.path)")
    from dataclasses import asdict

    from hrmtrain.lineage import AuditLog

    check_sources(d.mix)  # before any work: a mix source that is missing or empty fails first
    log = AuditLog(cfg.lineage.dir)
    log.check()  # before any work: a log that does not verify could not take this build's entry
    directory = Directory.load(raw / "household.json")
    registry = ConsentRegistry(d.consent_db)
    strangers = sorted(set(registry.members()) - set(directory.names))
    if strangers:
        raise ConsentError(f"{registry.path}: the registry names {', '.join(strangers)}, who "
                           f"{'is' if len(strangers) == 1 else 'are'} not in {raw / 'household.json'} "
                           "(a registry from another household?); nothing written")
    unknown = sorted(set(directory.names) - set(registry.members()))
    snapshot = registry.snapshot()  # one snapshot, taken first: every record is decided against it
    loaded, files = ingest(raw, directory)

    used: list[Record] = []
    excluded, excluded_detail = Counter(), Counter()
    for rec in loaded.records:
        decision = decide(snapshot, rec.members, rec.category, rec.sensitive, rec.possible)
        if decision.allowed:
            used.append(rec)
        else:
            excluded[_reason_code(decision.reason, rec.category)] += 1
            excluded_detail[decision.reason] += 1
    if not used:
        raise DataError(raw, f"no record may be used ({dict(excluded) or 'no records at all'}); nothing written")

    redacted = redact_records(used, directory)
    examples = build_examples(redacted, directory.now, seed=d.seed)
    balance = str(d.balance)
    split = assign(examples, d.val_ratio, d.test_ratio, seed=d.seed, balance="none")
    split.splits["test"] = with_held_out_phrasings(split.splits["test"], redacted, directory.now, d.seed,
                                                   d.heldout_phrasing_ratio)
    if d.vary_copies > 0:
        split.splits["train"] += varied_examples(redacted, split.splits["train"], d.vary_copies, directory.now, d.seed)
    split.rebalance(balance, d.seed)
    mixed_rows, mixed, mix_warnings = mix_rows(d.mix, len(split.splits["train"]), d.seed)
    split.add_to_train(mixed_rows)
    if not split.splits["val"]:
        raise DataError(raw, f"too little data for a validation split at data.val_ratio={d.val_ratio}")

    members = sorted(set().union(*(r.concerned for r in used)))

    def record(final: Path) -> None:  # the entry, once the dataset is in place; if it fails, no dataset
        log.append(
            "data", inputs=[raw / f for f in files] + [Path(f) for m in mixed for f in m.files], outputs=[final],
            config=config.plain(d), consent=snapshot, members=members,
            excluded=dict(sorted(excluded_detail.items())),
            details={"files": files, "skipped": [str(s) for s in loaded.skipped],
                     "warnings": len(loaded.warnings), "unregistered_members": unknown,
                     "mix": [asdict(m) for m in mixed]})

    with atomic.staged_dir(out, replace=True, commit=record) as tmp:
        for name in SPLITS:
            _write_parquet(tmp / f"{name}.parquet", split.splits[name])
        atomic.write_json(tmp / "manifest.json", {
            "kind": MANIFEST_KIND,
            "hrmtrain_version": __version__,
            "counts": split.counts,
            "source_groups": split.groups,
            "records": {"read": len(loaded.records), "used": len(used)},
            "excluded": dict(sorted(excluded.items())),
            "balance": balance,
            "mix": [asdict(m) for m in mixed],
            "config": {k: v for k, v in config.plain(d).items()
                       if k in ("val_ratio", "test_ratio", "seed", "balance", "vary_copies", "heldout_phrasing_ratio")},
        })
    return BuildResult(out, split.counts, dict(excluded), files, members, len(used),
                       [str(w) for w in loaded.warnings] + mix_warnings)


def print_build(result: BuildResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    files = Table(title="household files")
    files.add_column("file")
    files.add_column("outcome")
    for name, outcome in result.files.items():
        files.add_row(name, outcome)
    console.print(files)
    counts = Table(title=f"examples per task type and split ({result.out})")
    counts.add_column("task type")
    for s in SPLITS:
        counts.add_column(s, justify="right")
    for t in sorted({t for c in result.counts.values() for t in c}):
        counts.add_row(t, *(str(result.counts[s].get(t, 0)) for s in SPLITS))
    counts.add_row("total", *(str(sum(result.counts[s].values())) for s in SPLITS), style="bold")
    console.print(counts)
    if result.excluded:
        console.print(excluded_table(result.excluded))


def excluded_table(excluded: dict[str, int], title: str = "records excluded (never written)"):
    from rich.table import Table

    ex = Table(title=title)
    ex.add_column("reason")
    ex.add_column("records", justify="right")
    for reason, n in excluded.items():
        ex.add_row(reason, str(n))
    return ex
