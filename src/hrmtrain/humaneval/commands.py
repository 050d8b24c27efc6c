"""`hrmtrain humaneval ...`: set up a rating study, issue rater tokens, read the statistics, move ratings
in and out (CSV, JSON Lines, Label Studio)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_STUDY = "humaneval/study.sqlite"


def _fmt(m: dict) -> str:
    if m.get("mean") is None:
        return "-"
    if m.get("lo") is None:
        return f"{m['mean']:.2f} (n={m['n']})"
    return f"{m['mean']:.2f} [{m['lo']:.2f}, {m['hi']:.2f}] (n={m['n']})"


def print_report(summary: dict, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    systems = list(summary["helpfulness"])
    types = sorted({t for s in summary["helpfulness"].values() for t in s if t != "all"})
    table = Table(title=f"helpfulness 1-5, mean [95% bootstrap interval] ({path})")
    table.add_column("task type")
    for s in systems:
        table.add_column(s, justify="right")
    for t in [*types, "all"]:
        table.add_row(t, *(_fmt(summary["helpfulness"][s].get(t, {})) for s in systems),
                      style="bold" if t == "all" else None)
    table.add_row("safety pass rate", *(_fmt(summary["safety"].get(s, {})) for s in systems))
    console.print(table)
    a = summary["alpha"]

    def alpha_text(v):
        return "undefined (needs two raters on an overlap item and some variation)" if v is None else f"{v:.3f}"

    print(f"Krippendorff's alpha on {a['overlap_items']} overlap items: helpfulness (ordinal) "
          f"{alpha_text(a['helpfulness_ordinal'])}, safety (nominal) {alpha_text(a['safety_nominal'])}")
    for rater, g in summary["gold_accuracy"].items():
        print(f"gold items, {rater}: {g['correct']}/{g['rated']} right ({g['accuracy']:.0%})")
    if summary.get("ab"):
        ab = summary["ab"]
        rate = "-" if ab["a_win_rate"] is None else f"{ab['a_win_rate']:.0%}"
        print(f"A/B: {ab['a']} wins {ab['wins'][ab['a']]}, {ab['b']} wins {ab['wins'][ab['b']]}, ties "
              f"{ab['wins']['ties']} of {ab['tasks']} tasks; {ab['a']} win rate {rate} (ties count half)")


def humaneval_main(argv: list[str], write_run_report=None) -> int:
    """`write_run_report(run_dir) -> Path`: renews a run's report (`--run`); the entry hands it in."""
    from hrmtrain import atomic
    from hrmtrain.humaneval import exchange, stats
    from hrmtrain.humaneval.store import Study, StudyError
    from hrmtrain.humaneval.study import System, create

    ap = argparse.ArgumentParser(prog="hrmtrain humaneval", description="Human evaluation of helpfulness and "
                                 "safety adherence: a rating study over evaluation runs.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--study", default=DEFAULT_STUDY, help="the study database (default: %(default)s)")
    sub = ap.add_subparsers(dest="action", required=True)
    p = sub.add_parser("create", parents=[common], help="sample episodes from evaluation results into a new study")
    p.add_argument("--system", action="append", required=True, metavar="NAME=RESULTS.json[:LOOP]",
                   help="a system to rate (once, or twice for an A/B study), e.g. "
                        "trained=runs/x/eval/results.json base=runs/x/eval/base-results.json")
    p.add_argument("--per-type", type=int, default=3, help="tasks sampled per task type (default: %(default)s)")
    p.add_argument("--overlap", type=int, default=6, help="sampled tasks every rater rates (default: %(default)s)")
    p.add_argument("--gold", type=int, default=4, help="gold items with known answers (default: %(default)s)")
    p.add_argument("--per-rater", type=int, default=None,
                   help="regular items per rater (default: all; fewer spreads them over raters)")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("add-rater", parents=[common], help="register a rater; prints their sign-in token once")
    p.add_argument("name")
    sub.add_parser("raters", parents=[common], help="raters and their progress")
    p = sub.add_parser("report", parents=[common], help="means, intervals, safety, alpha, gold accuracy, A/B")
    p.add_argument("--json", help="also write the statistics here")
    p.add_argument("--html", help="also write a report page with the human-evaluation section here")
    p.add_argument("--run", help="add the section to this run's report (runs/NAME/report.html)")
    p = sub.add_parser("export", parents=[common], help="ratings to CSV, JSON Lines or Label Studio JSON")
    p.add_argument("out")
    p.add_argument("--format", choices=("csv", "jsonl", "labelstudio"), default=None,
                   help="default: from the file's extension (.csv, .jsonl, .json = Label Studio)")
    p.add_argument("--all", action="store_true", help="every rating row (edits included), not just the latest")
    p = sub.add_parser("import", parents=[common], help="append the ratings of a Label Studio JSON export")
    p.add_argument("file")
    p = sub.add_parser("serve", parents=[common], help="the rating web app (raters sign in with their token)")
    p.add_argument("--host", default="127.0.0.1", help="default %(default)s; 0.0.0.0 exposes it to the network")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name raters use to reach the app (repeatable; localhost is always allowed)")
    args = ap.parse_args(argv)

    if args.action == "create":
        study = create(Path(args.study), [System.parse(s) for s in args.system], args.per_type, args.overlap,
                       args.gold, args.seed, args.per_rater)
        items = study.items()
        kinds = {k: sum(1 for i in items if i.kind == k) for k in ("regular", "overlap", "gold")}
        print(f"{study.path}: {len(items)} items ({kinds['regular']} regular, {kinds['overlap']} overlap, "
              f"{kinds['gold']} gold) from {', '.join(s.split('=')[0] for s in args.system)}; "
              f"add raters with `hrmtrain humaneval add-rater NAME --study {study.path}`")
        return 0
    study = Study(args.study)
    if args.action == "add-rater":
        token = study.add_rater(args.name, study.meta().get("regular_per_rater"))
        print(f"{args.name}: {len(study.assignments(args.name))} items assigned. Sign-in token (shown once, "
              f"give it to {args.name} only):\n{token}")
    elif args.action == "raters":
        for name in study.raters():
            done, total = study.progress(name)
            print(f"{name}: {done}/{total} rated")
    elif args.action == "report":
        systems = [s["name"] for s in study.meta().get("systems", [])]
        summary = stats.summarise(study.items(), study.ratings(), systems)
        print_report(summary, study.path)
        if args.json:
            atomic.write_json(args.json, summary)
        if args.html:
            from hrmtrain.humaneval.report_section import write_standalone

            print(f"report: {write_standalone(summary, Path(args.html), f'hrmtrain humaneval: {study.path.name}')}")
        if args.run:
            from hrmtrain.humaneval.report_section import SUMMARY

            run_dir = Path(args.run)
            if not (run_dir / "metrics.jsonl").is_file():
                raise StudyError(f"{run_dir}: not a training run folder (no metrics.jsonl)")
            atomic.write_json(run_dir / "humaneval" / SUMMARY, summary)
            if write_run_report is not None:
                print(f"report: {write_run_report(run_dir)}")
    elif args.action == "export":
        fmt = args.format or {".csv": "csv", ".jsonl": "jsonl", ".json": "labelstudio"}.get(Path(args.out).suffix)
        if fmt is None:
            ap.error(f"cannot tell the format of {args.out}: pass --format csv|jsonl|labelstudio")
        if fmt == "labelstudio":
            n = exchange.to_label_studio(study, Path(args.out))
            config = Path(args.out).with_suffix(".label_config.xml")
            atomic.write_text(config, exchange.LABEL_CONFIG)
            print(f"{n} tasks -> {args.out} (Label Studio JSON; labelling interface: {config})")
        else:
            n = (exchange.to_csv if fmt == "csv" else exchange.to_jsonl)(study, Path(args.out), args.all)
            print(f"{n} ratings -> {args.out}")
    elif args.action == "import":
        n = exchange.from_label_studio(study, Path(args.file))
        print(f"{n} ratings appended to {study.path} from {args.file}")
    elif args.action == "serve":
        from hrmtrain.humaneval.app import serve

        serve(study.path, args.host, args.port, args.allowed_host)
    return 0
