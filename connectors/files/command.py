"""``python cli.py import TABLE FILE``: import a CSV or Excel export from the command line.

Exit codes: 0 when rows were imported (or, with --dry-run, would be), 1 when
no row could be imported, 2 when the file or mapping cannot be used at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import settings
from connectors.files.importer import DEFAULT_CHUNK_ROWS, import_file
from connectors.files.mapping import TABLES, load_mapping, preset_names, save_mapping
from console import ProgressBar


def add_import_command(subparsers) -> None:
    """Add the ``import`` command to the CLI's subparsers."""
    parser = subparsers.add_parser(
        "import",
        help="import a CSV or Excel export of leads, deals, owners or activities",
        description="Import a CSV (any common encoding and delimiter) or Excel (.xlsx) export. Good rows are "
        "upserted on (source, external id), so importing the same file again adds nothing; bad rows are kept "
        "in rejected_rows with their line and reason.",
    )
    parser.add_argument("table", choices=TABLES, help="the canonical table the rows go to")
    parser.add_argument("file", type=Path, help="the CSV or .xlsx file")
    parser.add_argument(
        "--mapping",
        help="mapping YAML file, saved mapping name, or built-in preset "
        f"({', '.join(preset_names())}); default: detected from the file's headers",
    )
    parser.add_argument(
        "--source", help="source name the rows are keyed on (default: the mapping's, else 'file')"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and check everything, write nothing")
    parser.add_argument(
        "--save-mapping", metavar="NAME", help="save the mapping used under NAME for next time"
    )
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run_import)


def run_import(args) -> int:
    """Handle ``import``: run it with a progress bar, print the summary; returns the exit code."""
    from data.engine import make_engine, upgrade

    bar = ProgressBar()
    try:
        mapping = (
            load_mapping(args.mapping, settings.mappings_dir(), table=args.table) if args.mapping else None
        )
        engine = make_engine(settings.database_url())
        upgrade(engine)
        report = import_file(
            engine,
            args.file,
            args.table,
            mapping,
            source=args.source,
            dry_run=args.dry_run,
            progress=bar,
            chunksize=args.chunk_rows,
        )
    finally:  # a FileImportError goes on to cli.main: one line, exit 2
        bar.close()
    print("\n".join(report.summary()))
    if args.save_mapping and report.mapping is not None:
        path = save_mapping(report.mapping, args.save_mapping, settings.mappings_dir())
        print(f"Mapping saved as {args.save_mapping!r} ({path})")
    if not report.accepted:
        print("error: no row could be imported", file=sys.stderr)
        return 1
    return 0
