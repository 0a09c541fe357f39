"""``python cli.py report`` (the meeting pack as PDF) and ``python cli.py snapshot`` (freeze a week), for cron.

Exit codes: 0 on success, 1 when the week, agreement, database or output file
cannot be used: the error (an ``AccordError``) goes on to ``cli.main``, which
prints it as one line on stderr.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import clock
import settings
from analytics.commitments import document_in_force
from analytics.periods import WeekError, last_closed_week, parse_week
from analytics.snapshots import SnapshotError
from console import ProgressBar
from errors import AccordError


class ReportWriteError(AccordError):
    """The meeting pack could not be written where asked (no permission, a full disk)."""


WEEK_HELP = "ISO week like 2026-W48, in the agreement's timezone (default: the last week that has ended)"


def _week(text: str) -> str:
    try:
        parse_week(text)
    except WeekError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _instant(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or instant (e.g. 2026-11-30T07:00Z)"
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def add_report_command(subparsers) -> None:
    """Add the ``report`` command: the weekly meeting pack as a PDF file."""
    parser = subparsers.add_parser(
        "report",
        help="write the weekly meeting pack (PDF: overview + one page per side, charts included)",
        description="Write the meeting pack of a week as PDF: every commitment of both sides for the week and "
        "the period to date, week over week, the three biggest gaps, and one page per side with charts. "
        "Frozen weeks are shown as frozen.",
    )
    parser.add_argument("--week", type=_week, help=WEEK_HELP)
    parser.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    parser.add_argument("--agreement", help="the agreement's name (default: the only one saved)")
    parser.add_argument("--no-charts", action="store_true", help="leave the charts out (no browser needed)")
    parser.add_argument("--as-of", type=_instant, help=argparse.SUPPRESS)  # for tests and reruns of the past
    parser.set_defaults(func=run_report)


def add_snapshot_command(subparsers) -> None:
    """Add the ``snapshot`` command: freeze a week's Overview figures in the database."""
    parser = subparsers.add_parser(
        "snapshot",
        help="freeze a week's Overview figures (final once the week has ended; for cron)",
        description="Freeze the Overview figures of a week in the database. A week that has ended is frozen "
        "for good (a final snapshot is never replaced); the current week is frozen provisionally. Without "
        "--agreement every saved agreement is frozen.",
    )
    parser.add_argument("--week", type=_week, help=WEEK_HELP)
    parser.add_argument("--agreement", help="the agreement's name (default: every saved agreement)")
    parser.add_argument("--as-of", type=_instant, help=argparse.SUPPRESS)
    parser.set_defaults(func=run_snapshot)


def _now(args) -> pd.Timestamp:
    return args.as_of if args.as_of is not None else pd.Timestamp(clock.now()).floor("s")


def _engine():
    from data.engine import make_engine, upgrade

    engine = make_engine(settings.database_url())
    upgrade(engine)
    return engine


def run_report(args) -> int:
    """Handle ``report``; returns the exit code."""
    from reports.meeting_pack import meeting_pack
    from reports.weeks import agreement_to_use, versions_of

    bar = ProgressBar()
    started = time.monotonic()
    try:
        engine = _engine()
        as_of = _now(args)
        agreement = agreement_to_use(engine, args.agreement)
        week = args.week or last_closed_week(
            as_of, document_in_force(versions_of(engine, agreement), as_of).timezone
        )
        pdf = meeting_pack(engine, agreement, week, as_of, charts=not args.no_charts, progress=bar)
    finally:
        bar.close()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(pdf)
    except OSError as exc:
        raise ReportWriteError(f"cannot write the meeting pack to {args.out}: {exc.strerror or exc}") from exc
    print(f"Meeting pack for {week} of {agreement!r} written to {args.out} "
          f"({len(pdf) / 1024:,.0f} KB in {time.monotonic() - started:.1f} s).")  # fmt: skip
    return 0


def run_snapshot(args) -> int:
    """Handle ``snapshot``; returns the exit code."""
    from reports.weeks import freeze_week, versions_of

    engine = _engine()
    as_of = _now(args)
    if args.agreement:
        names = [args.agreement]
    else:
        from data.journal import read_agreement_versions

        names = sorted(read_agreement_versions(engine)["agreement"].unique().tolist())
        if not names:
            raise SnapshotError("no agreement is saved yet: open the dashboard once (it saves the default)")
    for name in names:
        tz = document_in_force(versions_of(engine, name), as_of).timezone
        week = args.week or last_closed_week(as_of, tz)
        print(freeze_week(engine, name, week, as_of, actor="cli").describe())
    return 0
