"""Accord's command line: ``python cli.py --help``.

Every command exits 0 on success and non-zero on failure, with one line on
stderr that says what went wrong (no traceback for errors the user can fix).
A sync or import refused because another run of the same source is going exits
75 (EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import argparse
import sys
import time

from data.engine import DatabaseConfigError, current_revision, head_revision, make_engine, upgrade
from data.repository import RunBusyError, StorageError

BUSY_EXIT = 75  # EX_TEMPFAIL: another run of the same source is going; cron tries again next time


class ProgressBar:
    """A progress callback that draws one line on stderr: ``stage [#####.....] done/total detail``.

    Connectors and importers call it as ``progress(stage, done, total, detail="")``;
    ``total=None`` draws a counter instead of a bar. Redraws at most 10 times a second.
    """

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self._last_draw = 0.0
        self._last_stage = None

    def __call__(self, stage: str, done: int, total: int | None = None, detail: str = "") -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if stage == self._last_stage and not finished and now - self._last_draw < 0.1:
            return
        if self._last_stage is not None and stage != self._last_stage:
            self.stream.write("\n")
        self._last_stage, self._last_draw = stage, now
        if total:
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{stage:<14} [{bar}] {done:,}/{total:,}"
        else:
            line = f"{stage:<14} {done:,}"
        self.stream.write("\r" + (f"{line} {detail}" if detail else line)[:120].ljust(60))
        self.stream.flush()

    def close(self) -> None:
        if self._last_stage is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._last_stage = None


def _demo(args) -> int:
    from connectors.first_run import load_demo_if_empty, load_demo_recorded

    engine = make_engine()
    upgrade(engine)
    bar = ProgressBar()
    started = time.monotonic()
    if args.if_empty:
        loaded = load_demo_if_empty(engine, leads=args.leads, progress=bar)
        bar.close()
        print("Demo company loaded." if loaded else "The database already has data: demo not loaded.")
        return 0
    counts = load_demo_recorded(
        engine, leads=args.leads or 12_000, seed=args.seed, reset=args.reset, progress=bar
    )
    bar.close()
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"Demo data loaded in {time.monotonic() - started:.1f} s: {summary}")
    return 0


def _db_upgrade(_args) -> int:
    engine = make_engine()
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        print(f"Database already at revision {after}.")
    else:
        print(f"Database upgraded from {before or 'empty'} to {after}.")
    return 0


def _db_status(_args) -> int:
    from data.engine import database_url
    from data.repository import table_counts
    from settings import masked_url

    engine = make_engine()
    print(f"Database: {masked_url(database_url())}")
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

    demo = commands.add_parser("demo", help="load the demo company into the database")
    demo.add_argument(
        "--leads", type=int, default=None, help="how many leads (default 12,000; 1,000,000 for benchmarks)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same company)")
    demo.add_argument("--reset", action="store_true", help="delete earlier demo rows first")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no data (first start)"
    )
    demo.set_defaults(func=_demo)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the schema to the newest revision, in place").set_defaults(
        func=_db_upgrade
    )
    db.add_parser("status", help="show the database, its revision and row counts").set_defaults(
        func=_db_status
    )

    # --- commands from other modules ---
    from connectors.hubspot.command import add_hubspot_command

    add_hubspot_command(commands)
    from connectors.files.command import add_import_command

    add_import_command(commands)
    from agreements.command import add_agreement_command

    add_agreement_command(commands)
    from reports.command import add_report_command, add_snapshot_command

    add_report_command(commands)
    add_snapshot_command(commands)
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
    except DatabaseConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # the database refuses writes (disk full, read-only): one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RunBusyError as exc:  # a cron run while another sync of the same source is going: try later
        print(f"error: {exc}", file=sys.stderr)
        return BUSY_EXIT
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.stderr = ScrubbedStream(sys.stderr)  # for the traceback of anything unexpected, printed after main()
    sys.exit(main())
