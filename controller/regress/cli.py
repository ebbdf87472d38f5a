"""``devicelab regress run SUITE`` and ``devicelab regress history ENTRY``: a thin layer
over ``controller.regress``.

Exit codes of ``regress run``: 0 no regression (same, improved, unknown or new),
1 a regression confirmed, 2 a bad suite or input (the message names it, nothing
ran), 3 an entry could not be measured or an internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any


def register(sub: Any) -> None:
    """Register ``regress`` and its subcommands on the top-level subparsers."""
    regress = sub.add_parser("regress", help="nightly regression suites: run, history")
    commands = regress.add_subparsers(dest="regress_command", required=True)
    run = commands.add_parser("run", help="run a suite (exit 1 on a confirmed regression)")
    run.add_argument("suite", help="the suite's TOML file")
    run.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="[ENTRY=]FILE",
        help="tonight's model: for every entry, or ENTRY=FILE for one (repeatable)",
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    run.add_argument("--html", metavar="FILE", help="write the HTML page")
    run.add_argument("--json", metavar="FILE", help="write the run as JSON")
    run.add_argument("--seed", type=int, help="seed the bootstrap (reproducible intervals)")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.add_argument(
        "--simulate",
        action="store_true",
        help="a phone or SoC that is not attached runs on its simulated twin",
    )
    run.set_defaults(func=run_command)
    history = commands.add_parser("history", help="an entry's stored runs and change points")
    history.add_argument("entry", help="the entry's name in its suite")
    history.add_argument("--device", help="one device's serial (default: every device)")
    history.add_argument("--limit", type=int, default=365, help="newest runs shown")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=history_command)


def run_command(args: argparse.Namespace) -> int:
    """``devicelab regress run``: run, print one line per entry x device, write reports."""
    from controller.regress.reports import summary_line, write_html, write_json, write_junit
    from controller.regress.run import run_suite

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    run = run_suite(args.suite, candidates=tuple(args.candidate), progress=progress, seed=args.seed)
    for result in run.results:
        print(summary_line(result))
    for flag, writer in (("junit", write_junit), ("html", write_html), ("json", write_json)):
        if getattr(args, flag):
            writer(run, getattr(args, flag))
    counts: dict[str, int] = {}
    for result in run.results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    tally = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    print(f"suite {run.suite}: {run.outcome} ({tally}); run {run.run_id}")
    return run.exit_code


def history_command(args: argparse.Namespace) -> int:
    """``devicelab regress history``: each device's series, with its change points."""
    from controller.regress.history import entry_history
    from controller.reports._format import fmt_us
    from controller.store import Store

    histories = entry_history(Store.default(), args.entry, args.device, args.limit)
    if args.json:
        print(json.dumps([h.as_dict() for h in histories], indent=2))
        return 0
    if not histories:
        print(f"no stored runs of entry {args.entry!r}")
        return 0
    for history in histories:
        steps = {s.index: s for s in history.steps}
        print(f"{history.entry} @ {history.device_name} ({history.device_serial})")
        for i, point in enumerate(history.points):
            when = datetime.fromtimestamp(point["created_at"], UTC).strftime("%Y-%m-%d %H:%M")
            median = fmt_us(float(point.get("candidate_median_us") or 0))
            line = f"  {when}  {point['run_id']}  {median:>10}  {point['verdict']}"
            if i in steps:
                s = steps[i]
                line += f"   <- step {s.change_pct:+.1f} % (p={s.p_value:.2g}) starts here"
            print(line)
        if not history.steps:
            print("  no step changes found")
    return 0
