"""``python cli.py alerts``: send the alerts due now (for cron or a systemd timer, every few minutes).

Exit codes: 0 when every due alert went out (or nothing was due), 1 when a send failed or the
configuration cannot be used (one line on stderr says which setting), 75 when another alerts run is
still going (cron tries again next time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import clock
import settings
from alerts.dispatch import AlertSettings, run_alerts
from alerts.email import SmtpConfig
from alerts.routing import RoutingError, load_routing
from alerts.rules import RuleError


def _instant(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an instant (e.g. 2026-12-08T10:00+01:00)"
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def add_alerts_command(subparsers) -> None:
    """Add the ``alerts`` command."""
    parser = subparsers.add_parser(
        "alerts",
        help="send the follow-up alerts, daily queues and weekly digest due now (for cron)",
        description="Warn owners before a follow-up window runs out, report breaches to owners, managers and "
        "team channels, send each team's daily queue and the executives' weekly digest. Each alert goes "
        "once: the alert ledger in the database remembers what was sent.",
    )
    parser.add_argument("--now", type=_instant, help="evaluate at this instant, e.g. 2026-12-08T10:00+01:00")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send and record nothing"
    )
    parser.add_argument(
        "--include-demo", action="store_true", help="also alert about demo data (source 'demo')"
    )
    parser.add_argument("--pack-charts", action="store_true",
                        help="draw the charts in the meeting pack PDF attached to the digest (needs chromium)")  # fmt: skip
    parser.add_argument("--secrets", type=Path, default=None,
                        help="the file with the [accord.alerts] routing (default: .streamlit/secrets.toml)")  # fmt: skip
    parser.set_defaults(func=run_alerts_command)


def settings_from_environment() -> AlertSettings:
    """Return the :class:`AlertSettings` of the ACCORD_SMTP_*, ACCORD_SLACK_* and ACCORD_ALERT_LEAD_TIME settings."""
    from settings import get

    try:
        port = int(get("ACCORD_SMTP_PORT"))
    except ValueError:
        raise RuleError(f"ACCORD_SMTP_PORT must be a port number, got {get('ACCORD_SMTP_PORT')!r}") from None
    try:
        lead = float(get("ACCORD_ALERT_LEAD_TIME"))
    except ValueError:
        raise RuleError(
            f"ACCORD_ALERT_LEAD_TIME must be a number of business hours, got {get('ACCORD_ALERT_LEAD_TIME')!r}"
        ) from None
    smtp = SmtpConfig(
        host=get("ACCORD_SMTP_HOST"),
        port=port,
        user=get("ACCORD_SMTP_USER"),
        password=get("ACCORD_SMTP_PASSWORD"),
        sender=get("ACCORD_SMTP_FROM"),
        starttls=get("ACCORD_SMTP_STARTTLS").strip().lower() in ("1", "true", "yes", "on"),
    )
    return AlertSettings(
        smtp, get("ACCORD_SLACK_WEBHOOK_URL"), get("ACCORD_SLACK_BOT_TOKEN"), lead_time_hours=lead
    )


def run_alerts_command(args) -> int:
    """Handle ``alerts``; returns the exit code."""
    from data.engine import make_engine, upgrade
    from data.syncs import RunBusyError
    from data.transactions import StorageError
    from settings import SECRETS_FILE

    try:
        config = settings_from_environment()
        routing = load_routing(args.secrets or SECRETS_FILE)
    except (RuleError, RoutingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    as_of = args.now if args.now is not None else pd.Timestamp(clock.now()).floor("s")
    try:
        engine = make_engine(settings.database_url())
        upgrade(engine)

        def pack(agreement: str, week: str) -> bytes:
            from reports.meeting_pack import meeting_pack

            return meeting_pack(engine, agreement, week, as_of, charts=args.pack_charts)

        report = run_alerts(
            engine, config, routing, as_of, dry_run=args.dry_run, include_demo=args.include_demo, pack=pack,
            say=lambda line: print(line, file=sys.stderr if line.startswith(("error", "warning")) else sys.stdout),
        )  # fmt: skip
    except RunBusyError as exc:
        print(f"busy: {exc}", file=sys.stderr)
        return RunBusyError.exit_code  # 75: cron tries again next time
    except (RuleError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    verb = "would send" if args.dry_run else "sent"
    print(f"Alerts at {as_of:%Y-%m-%d %H:%M} UTC: {len(report.lines) if args.dry_run else report.sent} {verb}, "
          f"{report.failed} failed, {report.already} already sent, {report.held} held until working hours.")  # fmt: skip
    return 1 if report.failed else 0
