"""Command-line tools that act on one thing rather than run a stage: `hrmtrain consent ...`, `hrmtrain lineage ...`.

They take ordinary options (argparse), with defaults from the config schema so that they find the
same registry and audit log the stages use.
"""

from __future__ import annotations

import argparse
import sys

from hrmtrain.config import DataConfig, LineageConfig
from hrmtrain.errors import HrmError
from hrmtrain.jsonl import write_json_lines


def consent_main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from hrmtrain.privacy.consent import CATEGORIES, ConsentRegistry

    ap = argparse.ArgumentParser(prog="hrmtrain consent", description="The household's consent registry.")
    default_db = DataConfig.consent_db.replace("${data.raw}", DataConfig.raw)
    ap.add_argument("--db", default=default_db, help="registry file (default: %(default)s)")
    sub = ap.add_subparsers(dest="action", required=True)
    p = sub.add_parser("add-member", help="register a household member")
    p.add_argument("member")
    for action, text in (("grant", "grant consent for a data category"), ("revoke", "revoke consent")):
        p = sub.add_parser(action, help=text)
        p.add_argument("member")
        p.add_argument("category", choices=CATEGORIES)
    sub.add_parser("list", help="members, grants and what is active now")
    args = ap.parse_args(argv)

    registry = ConsentRegistry(args.db, create=args.action == "add-member")
    if args.action == "add-member":
        registry.add_member(args.member)
        print(f"{args.member} added to {registry.path}")
    elif args.action == "grant":
        changed = registry.grant(args.member, args.category)
        print(f"{args.member}: {args.category} consent {'granted' if changed else 'was already granted'}")
    elif args.action == "revoke":
        changed = registry.revoke(args.member, args.category)
        print(f"{args.member}: {args.category} consent {'revoked' if changed else 'was not granted'}"
              + ("; rebuild with `hrmtrain data` and see `hrmtrain lineage affected --member "
                 f"{args.member}` for what to retrain" if changed else ""))
    else:
        snapshot = registry.snapshot()
        table = Table(title=f"consent: {registry.path}")
        table.add_column("member")
        for c in CATEGORIES:
            table.add_column(c, justify="center")
        for member, active in snapshot["active"].items():
            table.add_row(member, *("yes" if c in active else "-" for c in CATEGORIES))
        Console().print(table)
    return 0


def lineage_main(argv: list[str]) -> int:
    from hrmtrain.lineage import AuditLog, format_trace

    ap = argparse.ArgumentParser(prog="hrmtrain lineage", description="The dataset lineage audit log.")
    ap.add_argument("--log", default=LineageConfig.dir, help="audit log folder (default: %(default)s)")
    sub = ap.add_subparsers(dest="action", required=True)
    sub.add_parser("verify", help="check the hash chain; exit 1 naming every broken entry")
    p = sub.add_parser("trace", help="show the ancestry of a dataset or model")
    p.add_argument("path")
    p = sub.add_parser("affected", help="every dataset and model built from a member's data")
    p.add_argument("--member", required=True)
    sub.add_parser("list", help="one line per entry")
    args = ap.parse_args(argv)

    log = AuditLog(args.log)
    if not log.path.is_file():
        raise HrmError(f"{log.path}: no audit log here (set --log, or run a stage first)")
    if args.action == "verify":
        problems = log.verify()
        if problems:
            for p in problems:
                print(f"{log.path}: {p}", file=sys.stderr)
            return 1
        n = len(log.entries())
        if log.key is not None:
            print(f"{log.path}: {n} entries, hash chain intact, every entry and the head carry a valid HMAC "
                  f"(key from {log.key_source})")
        else:
            print(f"{log.path}: {n} entries, hash chain intact (unkeyed: this shows the log is self-consistent, "
                  f"not that nobody with write access rewrote it; set HRMTRAIN_AUDIT_KEY or "
                  f"HRMTRAIN_AUDIT_KEY_FILE to key it)")
    elif args.action == "trace":
        print(format_trace(log.trace(args.path)))
    elif args.action == "affected":
        hits = log.affected(args.member)
        if not hits:
            print(f"nothing in {log.path} was built from {args.member}'s data")
        for entry, art in hits:
            print(f"{art['path']}  ({entry['stage']}, entry {entry['seq']}, {entry['time']})")
    else:
        for e in log.entries():
            print(f"{e['seq']:>4}  {e['time']}  {e['stage']:<10} in={len(e['inputs'])} out={len(e['outputs'])} "
                  f"members={','.join(e['members']) or '-'}")
    return 0


def data_tools_main(argv: list[str]) -> int:
    from pathlib import Path

    from hrmtrain import atomic
    from hrmtrain.errors import DataError

    ap = argparse.ArgumentParser(prog="hrmtrain data", description="Tools on household files "
                                 "(`hrmtrain data [overrides]` without a tool builds the SFT splits).")
    sub = ap.add_subparsers(dest="tool", required=True)
    p = sub.add_parser("ingest", help="read every file under DIR by its kind; report per file what was "
                                      "loaded or skipped and why; write the records consent allows, redacted")
    p.add_argument("dir")
    p.add_argument("--out", required=True, help="folder for records.jsonl and report.json")
    p.add_argument("--household", help="household.json naming the members (default: DIR/household.json, if any)")
    p.add_argument("--consent-db", help="consent registry deciding which sensitive records may be written "
                                        "(default: DIR/consent.sqlite; without one only public records are written)")
    p.add_argument("--log", default=LineageConfig.dir, help="audit log folder (default: %(default)s)")
    p = sub.add_parser("redact", help="redact the `text` field of each JSON line (other fields kept)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--locale", help="the household's locale (en_US, en_GB, de_DE, es_ES): the default for texts "
                                    "whose language is unclear and the first phone region tried; a line's own "
                                    "'locale' field wins (default: en_US)")
    args = ap.parse_args(argv)

    if args.tool == "redact":
        from hrmtrain.privacy.pii.locale import SUPPORTED, normalise
        from hrmtrain.privacy.redact import MAX_TEXT_CHARS, Redactor

        if args.locale and normalise(args.locale) is None:
            raise DataError(Path(args.input), f"--locale {args.locale!r}: rules exist for {', '.join(SUPPORTED)}")

        src = Path(args.input)
        if not src.is_file():
            raise DataError(src, "no such file")
        atomic.ensure_writable(Path(args.output).resolve().parent, "output's folder")
        from hrmtrain.jsonl import read_json_lines

        rows = []
        for n, row in read_json_lines(src):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise DataError(src, "needs a string field 'text'", n)
            if len(row["text"]) > MAX_TEXT_CHARS:
                raise DataError(src, f"'text' has {len(row['text']):,} characters; at most {MAX_TEXT_CHARS:,} "
                                     "per line are redacted (split the text over several lines)", n)
            rows.append(row)
        # a line may name its own locale; the others go together, each text's language guessed
        by_locale: dict[str | None, list[int]] = {}
        for i, r in enumerate(rows):
            by_locale.setdefault(normalise(r["locale"]) if isinstance(r.get("locale"), str) else None, []).append(i)
        redacted: list = [None] * len(rows)
        for loc, idx in by_locale.items():
            out = Redactor(locale=loc or args.locale).redact_many([rows[i]["text"] for i in idx])
            for i, res in zip(idx, out):
                redacted[i] = res
        for row, (text, spans) in zip(rows, redacted):
            row["text"] = text
        write_json_lines(args.output, rows, ensure_ascii=False)
        print(f"{len(rows)} lines redacted ({sum(len(s) for _, s in redacted)} spans) -> {args.output}")
        return 0

    from hrmtrain.data.ingest_command import ingest_main

    return ingest_main(Path(args.dir), Path(args.out), Path(args.household) if args.household else None,
                       Path(args.consent_db) if args.consent_db else None, Path(args.log))


def export_main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from hrmtrain.config import ExportConfig
    from hrmtrain.export.repository import Repository
    from hrmtrain.export.verify import verify_repository

    ap = argparse.ArgumentParser(prog="hrmtrain export", description="The versioned model repository "
                                 "(`hrmtrain export [overrides]` without an action exports a run into it).")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repository", default=ExportConfig.repository, help="repository folder (default: %(default)s)")
    sub = ap.add_subparsers(dest="action", required=True)
    sub.add_parser("list", parents=[common], help="every model and version, which one is served, and its parity figures")
    p = sub.add_parser("verify", parents=[common], help="every file against its manifest, configs against graphs, versions against "
                                      "the audit log; exit 1 naming each problem")
    p.add_argument("--log", default=LineageConfig.dir, help="audit log folder (default: %(default)s)")
    p = sub.add_parser("promote", parents=[common], help="serve VERSION of MODEL (the version policy in its config.pbtxt)")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p = sub.add_parser("rollback", parents=[common], help="serve the newest version older than the one served now")
    p.add_argument("model")
    p = sub.add_parser("serve", parents=[common], help="serve the repository's ONNX models over Triton's HTTP/REST protocol "
                                     "(KServe v2) with onnxruntime, for machines without Triton")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)

    repo = Repository(args.repository)
    if args.action == "list":
        rows = repo.listing()
        if not rows:
            print(f"{repo.root}: no models")
            return 0
        table = Table(title=f"model repository {repo.root.resolve()}")
        for col in ("model", "version", "served", "platform", "created", "max |ORT-PT|", "MB"):
            table.add_column(col, no_wrap=col in ("model", "platform"))
        for r in rows:
            p = r["parity"] or {}
            table.add_row(r["model"], str(r["version"]), "yes" if r["served"] else "", r["platform"] or "-",
                          (r["created"] or "-")[:16].replace("T", " "), f"{p['max_abs_diff']:.1e}" if p else "-",
                          f"{r['bytes'] / 1e6:,.0f}", style="bold" if r["served"] else None)
        Console().print(table)
    elif args.action == "verify":
        problems, checked = verify_repository(repo, args.log)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"{repo.root}: {checked} versions, every file matches its manifest, every config its graph and "
              f"export, and every version what an export recorded in {args.log}")
    elif args.action == "promote":
        before = repo.promote(args.model, args.version)
        print(f"{args.model}: now serving version {args.version} (was {', '.join(map(str, before)) or 'none'})")
    elif args.action == "rollback":
        old, new = repo.rollback(args.model)
        print(f"{args.model}: rolled back from version {old} to {new}")
    else:
        from hrmtrain.export.serve import serve

        serve(repo, args.host, args.port)
    return 0


def humaneval_main(argv: list[str]) -> int:
    from hrmtrain.humaneval.commands import humaneval_main as main
    from hrmtrain.run_report import write_report

    return main(argv, write_run_report=write_report)


def export_stage(cfg) -> None:
    """`hrmtrain export`, then the run's report (if it has one) gains or renews its export section."""
    from hrmtrain.export.stage import run
    from hrmtrain.run_report import refresh

    refresh(run(cfg))


COMMANDS = {
    "humaneval": (humaneval_main, "create | add-rater | raters | serve | report | export | import: human rating studies"),
    "consent": (consent_main, "add-member | grant | revoke | list: the household's consent registry"),
    "lineage": (lineage_main, "verify | trace PATH | affected --member NAME | list: the audit log"),
}


TOOLS = {**COMMANDS, "data": (data_tools_main, "ingest DIR --out OUT | redact IN OUT"),
         "export": (export_main, "list | verify | promote MODEL VERSION | rollback MODEL | serve")}


def run_command(name: str, argv: list[str]) -> None:
    main, _ = TOOLS[name]
    try:
        code = main(argv)
    except (HrmError, OSError) as exc:
        from hrmtrain.errors import user_message

        message = user_message(exc)
        if message is None:
            raise
        print(f"hrmtrain {name}: error: {message}", file=sys.stderr)
        code = 2
    sys.exit(code)
