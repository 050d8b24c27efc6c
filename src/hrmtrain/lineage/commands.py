"""`hrmtrain lineage ...`: the audit log (verify its hash chain, trace an artifact's ancestry, list what was
built from a member's data). Its default log is the one the stages write (the config schema's `lineage.dir`)."""

from __future__ import annotations

import argparse
import sys

from hrmtrain.config import LineageConfig
from hrmtrain.errors import HrmError


def main(argv: list[str]) -> int:
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
