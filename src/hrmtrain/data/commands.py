"""`hrmtrain data`: the stage (build the SFT splits, `run`) and the tools on household files (`tools`:
`hrmtrain data ingest DIR --out OUT`, `hrmtrain data redact IN OUT`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hrmtrain.config import LineageConfig
from hrmtrain.jsonl import write_json_lines

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

TOOL_ACTIONS = ("ingest", "redact")  # `hrmtrain data <action> ...` runs `tools`; anything else is the stage


def run(cfg: HrmConfig) -> None:
    from hrmtrain.data.stage import run as build

    build(cfg)


def tools(argv: list[str]) -> int:
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
