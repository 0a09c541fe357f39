"""Benchmark: import a 1,000,000-row leads CSV (HubSpot contacts export layout) into a fresh SQLite file.

    .venv/bin/python bench/bench_import.py            # 1,000,000 rows
    .venv/bin/python bench/bench_import.py --rows 100000

The CSV is written from the demo generator (connectors.demo) in a temporary
folder, with HubSpot's export headers, owner names and "YYYY-MM-DD HH:MM" times.
Each import runs in its own child process, so its peak memory (max RSS) is
its own. Aims: under 60 s and 1.5 GB; re-importing the same file adds no row.
Prints ``name: value`` lines last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADERS = {
    "external_id": "Record ID",
    "created_at": "Create Date",
    "mql_at": "Became a Marketing Qualified Lead Date",
    "sql_at": "Became a Sales Qualified Lead Date",
    "owner_external_id": "Contact owner",
    "owner_assigned_at": "Owner assigned date",
    "channel": "Original Source",
    "lifecycle_stage": "Lifecycle Stage",
    "lead_status": "Lead Status",
    "first_touch_at": "Date of first engagement",
    "touches": "Number of Sales Activities",
    "updated_at": "Last Modified Date",
}


def write_export(path: Path, rows: int) -> None:
    """A HubSpot-like contacts export of ``rows`` demo leads."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from connectors.demo import generate

    frames = generate(leads=rows, seed=7, today=dt.date(2026, 3, 16))
    leads, owners = frames["leads"], frames["owners"]
    names = dict(zip(owners["external_id"], owners["name"], strict=True))
    out = {}
    for field, header in HEADERS.items():
        column = leads[field]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            array = pa.array(column.dt.tz_localize(None))
            out[header] = pc.strftime(array, format="%Y-%m-%d %H:%M").to_pandas()
        elif field == "owner_external_id":
            out[header] = column.map(names)
        else:
            out[header] = column
    pd.DataFrame(out).to_csv(path, index=False)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over from the
    parent across fork and exec, so a child would report the generator's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(csv: Path, db: Path) -> None:
    """Import ``csv`` into ``db`` and print timing, counts and this process's peak memory as JSON."""
    from connectors.files import import_file
    from data.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    started = time.perf_counter()
    report = import_file(engine, csv, "leads", "hubspot-contacts")
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **report.counts()}))


def run_child(csv: Path, db: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(csv), str(db)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("CSV", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        csv, db = Path(folder) / "contacts.csv", Path(folder) / "accord.db"
        started = time.perf_counter()
        write_export(csv, args.rows)
        print(
            f"wrote {csv.name}: {args.rows:,} rows, {csv.stat().st_size / 1e6:.0f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        first = run_child(csv, db)
        print(f"import:    {first}")
        again = run_child(csv, db)
        print(f"re-import: {again}")
        print(f"rows: {args.rows}")
        print(f"file_mb: {csv.stat().st_size / 1e6:.0f}")
        print(f"import_seconds: {first['seconds']:.1f}")
        print(f"import_peak_mb: {first['peak_mb']:.0f}")
        print(f"import_new_rows: {first['imported']}")
        print(f"import_rejected: {first['rejected']}")
        print(f"reimport_seconds: {again['seconds']:.1f}")
        print(f"reimport_peak_mb: {again['peak_mb']:.0f}")
        print(f"reimport_new_rows: {again['imported']}")


if __name__ == "__main__":
    main()
