"""``python cli.py sync salesforce [--full]``: the Salesforce sync from the command line (and cron).

Draws a progress bar on stderr, prints a summary on stdout, and exits 0 on
success, 1 when the sync failed (one line on stderr says what to fix), 75 when
it should simply run again later: another Salesforce sync is going, or the org's
daily API limit is nearly used up (the line says when). Every run is recorded
in ``sync_runs`` and in the audit trail.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import settings
from console import ProgressBar

BUSY_EXIT = 75  # EX_TEMPFAIL: try again later


def add_salesforce_command(sync_parser: argparse.ArgumentParser) -> None:
    """Add ``salesforce`` to the targets of the ``sync`` command (made by the HubSpot connector)."""
    targets = next(a for a in sync_parser._actions if isinstance(a, argparse._SubParsersAction))
    salesforce = targets.add_parser(
        "salesforce",
        help="sync users, leads, opportunities, tasks and events from Salesforce",
        description="Sync Salesforce into Accord. The first run loads everything (Bulk API 2.0); later runs "
        "read what changed since the last one. An interrupted run continues where it stopped. Needs "
        "SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (environment or "
        ".streamlit/secrets.toml).",
    )
    salesforce.add_argument("--full", action="store_true", help="re-read every record, not just the changes")
    salesforce.set_defaults(func=handle_sync_salesforce)


def handle_sync_salesforce(args) -> int:
    """Run the sync with a progress bar; the exit code (0 ok, 1 failed, 75 try again later)."""
    from connectors.salesforce.client import SalesforceError, SalesforceLimitError
    from connectors.salesforce.settings import SalesforceConfig
    from connectors.salesforce.sync import sync
    from data import journal, syncs
    from data.engine import make_engine, upgrade
    from settings import SettingError

    engine = make_engine(settings.database_url())
    upgrade(engine)
    actor = f"cli:{_user()}"
    bar = ProgressBar()
    try:
        config = SalesforceConfig.from_settings()
        target = config.login_url or "(SALESFORCE_LOGIN_URL not set)"
        summary = sync(engine, full=args.full, progress=bar, config=config)
    except syncs.RunBusyError as exc:
        bar.close()
        journal.add_audit(engine, actor, "sync.salesforce", None, {"full": args.full, "status": "refused"})
        print(f"error: {exc}", file=sys.stderr)
        return BUSY_EXIT
    except (SalesforceError, SettingError) as exc:
        bar.close()
        stopped = isinstance(exc, SalesforceLimitError)
        detail = {"full": args.full, "status": "stopped" if stopped else "failed", "error": str(exc)[:500]}
        journal.add_audit(engine, actor, "sync.salesforce", None, detail)
        print(f"{'stopped' if stopped else 'error'}: {exc}", file=sys.stderr)
        return BUSY_EXIT if stopped else 1
    bar.close()
    detail = {
        "kind": summary.kind,
        "status": summary.status,
        "run_id": summary.run_id,
        "counts": summary.counts(),
    }
    journal.add_audit(engine, actor, "sync.salesforce", target, detail)
    print(summary.describe())
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
