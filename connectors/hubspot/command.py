"""``python cli.py sync hubspot [--full] [--associations]``: the HubSpot sync from the command line (and cron).

Draws a progress bar on stderr, prints a summary on stdout, and exits 0 on
success, 1 when the sync failed (wrong token, missing scope, HubSpot down: one
line on stderr says what to fix). Every run is recorded in ``sync_runs``.
"""

from __future__ import annotations

import argparse

import settings
from console import ProgressBar


def add_hubspot_command(subparsers) -> argparse.ArgumentParser:
    """Add ``sync hubspot`` to the CLI's subcommands; returns the ``sync`` parser."""
    sync_parser = subparsers.add_parser("sync", help="pull data from a CRM into the database")
    targets = sync_parser.add_subparsers(dest="sync_target", required=True, metavar="SOURCE")
    hubspot = targets.add_parser(
        "hubspot",
        help="sync owners, contacts, deals and activities from HubSpot",
        description="Sync HubSpot into Accord. The first run loads everything; later runs read what changed "
        "since the last one. An interrupted run continues where it stopped. Needs HUBSPOT_ACCESS_TOKEN "
        "(environment or .streamlit/secrets.toml).",
    )
    hubspot.add_argument("--full", action="store_true", help="re-read every record, not just the changes")
    hubspot.add_argument(
        "--associations",
        action="store_true",
        help="also re-read the contacts of every deal (a deal moved to another contact keeps its modified "
        "date; each run re-reads those of open and recent deals)",
    )
    hubspot.set_defaults(func=handle_sync_hubspot)
    return sync_parser


def handle_sync_hubspot(args) -> int:
    """Run the sync with a progress bar; the exit code (0 ok; a failure raises a HubSpotError: 1)."""
    from connectors.hubspot.settings import HubSpotConfig
    from connectors.hubspot.sync import sync
    from data.engine import make_engine, upgrade

    engine = make_engine(settings.database_url())
    upgrade(engine)
    bar = ProgressBar()
    try:  # a HubSpotError or SettingError goes on to cli.main, which prints it as one line
        summary = sync(
            engine,
            full=args.full,
            progress=bar,
            config=HubSpotConfig.from_settings(),
            associations=args.associations,
        )
    finally:
        bar.close()
    print(summary.describe())
    return 0
