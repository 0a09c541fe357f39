"""Accord's command line: ``python cli.py --help``.

Every command exits 0 on success and non-zero on failure. An error the user
can fix (an :class:`errors.AccordError`) becomes one line on stderr that says
what went wrong, here in :func:`main` and nowhere else, and exits with the
error's code: 1, 2 for a database URL or input file the command cannot start
from, 75 (EX_TEMPFAIL: try again later) for a sync or import refused because
another run of the same source is going. Anything else is a bug: it ends in a
traceback, never in a message asking the user to fix their input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time

import settings
from console import ProgressBar
from data.engine import current_revision, head_revision, make_engine, upgrade
from data.syncs import RunBusyError
from errors import AccordError

BUSY_EXIT = RunBusyError.exit_code  # 75, EX_TEMPFAIL: another run of the same source is going


def _demo(args) -> int:
    from bootstrap import load_demo_if_empty, load_demo_recorded

    engine = make_engine(settings.database_url())
    upgrade(engine)
    if args.remove:
        from bootstrap import remove_demo

        deleted = remove_demo(engine, actor=f"cli:{getpass.getuser()}")
        summary = ", ".join(f"{n:,} {table}" for table, n in deleted.items())
        print(f"Demo company removed ({summary}); it is not loaded again on first start.")
        return 0
    bar = ProgressBar()
    started = time.monotonic()
    if args.if_empty:
        loaded = load_demo_if_empty(engine, leads=args.leads, progress=bar)
        bar.close()
        print(
            "Demo company loaded."
            if loaded
            else "Demo not loaded: the database already has data, or its demo company was removed."
        )
        return 0
    counts = load_demo_recorded(
        engine, leads=args.leads or 12_000, seed=args.seed, reset=args.reset, progress=bar
    )
    bar.close()
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"Demo data loaded in {time.monotonic() - started:.1f} s: {summary}")
    return 0


def _db_upgrade(_args) -> int:
    engine = make_engine(settings.database_url())
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        print(f"Database already at revision {after}.")
    else:
        print(f"Database upgraded from {before or 'empty'} to {after}.")
    return 0


def _db_facts(_args) -> int:
    from data.fact_upkeep import refresh_all

    engine = make_engine(settings.database_url())
    upgrade(engine)
    started = time.perf_counter()
    rows = refresh_all(engine)
    print(
        f"SLA facts recomputed for every stored agreement: {rows:,} rows in {time.perf_counter() - started:.1f} s."
    )
    return 0


def _db_status(_args) -> int:
    from data.queries import table_counts

    engine = make_engine(settings.database_url())
    print(f"Database: {settings.masked_url(settings.database_url())}")
    print(f"Schema revision: {current_revision(engine) or 'empty'} (code expects {head_revision()})")
    if current_revision(engine):
        for table, rows in table_counts(engine).items():
            print(f"  {table:<12} {rows:>10,}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cli.py", description="Accord: the marketing-sales SLA, held against the CRM."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="load the demo company (generated owners, leads, deals, activities) and the default agreement",
        description="Load a generated demo company into the database, with the default agreement when none is "
        "stored, so the dashboard and `cli.py report` run at once. Its rows have source 'demo'; the pages say "
        "so while any remain. Loading again adds or updates the same ids (same --leads, --seed and day).",
    )
    demo.add_argument(
        "--leads", type=int, default=None, help="how many leads (default 12,000; 1,000,000 for benchmarks)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same company)")
    demo.add_argument("--reset", action="store_true", help="delete earlier demo rows first")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no data (first start)"
    )
    demo.add_argument(
        "--remove", action="store_true", help="delete every demo row (one transaction, in the audit trail)"
    )
    demo.set_defaults(func=_demo)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the schema to the newest revision, in place").set_defaults(
        func=_db_upgrade
    )
    db.add_parser("status", help="show the database, its revision and row counts").set_defaults(
        func=_db_status
    )
    db.add_parser(
        "facts", help="recompute the SLA facts of every stored agreement (syncs keep them current)"
    ).set_defaults(func=_db_facts)

    # --- commands from other modules ---
    from connectors.hubspot.command import add_hubspot_command

    sync_parser = add_hubspot_command(commands)
    from connectors.salesforce.command import add_salesforce_command

    add_salesforce_command(sync_parser)
    from connectors.files.command import add_import_command

    add_import_command(commands)
    from agreements.command import add_agreement_command

    add_agreement_command(commands)
    from reports.command import add_report_command, add_snapshot_command

    add_report_command(commands)
    add_snapshot_command(commands)
    from alerts.command import add_alerts_command

    add_alerts_command(commands)

    from reports.figures import add_figures_command

    add_figures_command(commands)
    return parser


class ScrubbedStream:
    """A text stream that masks every secret (settings.scrub) in what is written to it: the CLI's stderr.

    Error lines and, when the CLI is run as a script, tracebacks go through it, so a message quoting a
    token in any form (raw, repr-escaped, URL-encoded) never reaches a terminal or a cron log.
    """

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        from settings import scrub

        return self.stream.write(scrub(text))

    def __getattr__(self, name):
        return getattr(self.stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names; returns its exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    stderr = sys.stderr
    if not isinstance(stderr, ScrubbedStream):
        sys.stderr = ScrubbedStream(stderr)
    try:
        return _run(args)
    finally:
        sys.stderr = stderr


def _run(args) -> int:
    try:
        return args.func(args)
    except AccordError as exc:  # the one place a command's error becomes words
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.stderr = ScrubbedStream(sys.stderr)  # for the traceback of anything unexpected, printed after main()
    sys.exit(main())
