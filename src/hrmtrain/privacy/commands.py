"""`hrmtrain consent ...`: the household's consent registry (add members, grant, revoke, list). Its default
registry is the one the stages use (the config schema's `data.consent_db`)."""

from __future__ import annotations

import argparse

from hrmtrain.config import DataConfig


def main(argv: list[str]) -> int:
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
