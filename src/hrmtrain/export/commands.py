"""`hrmtrain export`: the stage (a run's models into the versioned repository, `run`) and the repository's
tools (`tools`: list, verify, promote, rollback, serve)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hrmtrain.config import LineageConfig

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

TOOL_ACTIONS = ("list", "verify", "promote", "rollback", "serve")  # `hrmtrain export <action>` runs `tools`


def run(cfg: HrmConfig):
    """Export the run; returns its folder."""
    from hrmtrain.export.stage import run as export

    return export(cfg)


def tools(argv: list[str]) -> int:
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
