"""Storage benchmark: the demo company at scale into a fresh SQLite file, and back.

Run: ``.venv/bin/python bench/bench_storage.py --leads 1000000``

Generates ``--leads`` demo leads with their activities and deals, upserts them
through ``data.upserts`` into a new SQLite file in a temporary folder, then
reads one year of leads (all columns, then only those the pages' analytics use)
and every table back as frames. Prints progress, then
``name: value`` lines: wall seconds (``*_s``), CPU seconds of this process
(``*_cpu_s``; other work on the machine inflates wall time, not these),
peak memory after each phase (MB), rows and the load average before and after
(other work on a shared machine). Aims: generation + load < 60 s, one year of
leads read < 3 s, peak memory < 2 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from connectors import demo  # noqa: E402
from data import queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402

# What analytics.metrics (commitments, follow-up, funnel) and the Marketing breakdowns read of a lead.
PAGE_LEAD_COLUMNS = [
    "id", "external_id", "created_at", "mql_at", "sql_at", "owner_id", "owner_external_id", "owner_assigned_at",
    "team", "channel", "campaign", "segment", "first_touch_at", "disposition", "disposition_at",
    "rejection_reason", "archived",
]  # fmt: skip


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phase:
    """Wall and CPU seconds of a block: ``with Phase(results, "load"): ...`` records load_s and load_cpu_s."""

    def __init__(self, results: dict, name: str):
        self.results, self.name = results, name

    def __enter__(self) -> Phase:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.results[f"{self.name}_s"] = time.perf_counter() - self.wall
        self.results[f"{self.name}_cpu_s"] = time.process_time() - self.cpu


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--leads", type=int, default=1_000_000, help="demo leads to generate (default 1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="generator seed")
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)"
    )
    args = parser.parse_args(argv)
    today = demo.resolve_today(args.today)
    results: dict[str, float] = {
        "leads_requested": args.leads,
        "load_average_1min_before": os.getloadavg()[0],
    }

    with tempfile.TemporaryDirectory(prefix="accord-bench-") as folder:
        path = Path(folder) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)

        with Phase(results, "generate"):
            frames = demo.generate(leads=args.leads, seed=args.seed, today=today)
        results["peak_memory_after_generate_mb"] = peak_mb()
        sizes = ", ".join(f"{table} {len(frame):,}" for table, frame in frames.items())
        print(f"generated in {results['generate_s']:.1f} s: {sizes}", flush=True)

        def report(table: str, done: int, total: int) -> None:
            print(f"  {table}: {done:,}/{total:,} rows ({time.perf_counter() - loading:.1f} s)", flush=True)

        loading = time.perf_counter()
        with Phase(results, "load"):
            counts = demo.write_frames(engine, frames, progress=report)
        results["generate_plus_load_s"] = results["generate_s"] + results["load_s"]
        results["peak_memory_after_load_mb"] = peak_mb()
        del frames

        end = pd.Timestamp(today, tz="UTC")
        start = end - pd.DateOffset(years=1)
        with Phase(results, "read_leads_one_year"):
            year = queries.read_leads(engine, start.to_pydatetime(), end.to_pydatetime())
        results["read_leads_one_year_rows"] = len(year)
        del year
        print(f"read one year of leads in {results['read_leads_one_year_s']:.1f} s", flush=True)
        with Phase(results, "read_leads_one_year_page_columns"):
            year = queries.read_leads(
                engine, start.to_pydatetime(), end.to_pydatetime(), columns=PAGE_LEAD_COLUMNS
            )
        del year

        readers = {
            "owners": queries.read_owners,
            "leads": queries.read_leads,
            "deals": queries.read_deals,
            "activities": queries.read_activities,
        }
        for table, read in readers.items():
            with Phase(results, f"read_{table}_all"):
                frame = read(engine)
            if len(frame) != counts[table]:
                raise SystemExit(f"{table}: wrote {counts[table]:,} rows but read {len(frame):,}")
            del frame
        for table, rows in counts.items():
            results[f"rows_{table}"] = rows
        results["sqlite_file_mb"] = path.stat().st_size / 2**20
        engine.dispose()
    results["peak_memory_mb"] = peak_mb()
    results["load_average_1min_after"] = os.getloadavg()[0]

    for name, value in results.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    return results


if __name__ == "__main__":
    main()
