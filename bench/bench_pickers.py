"""Benchmark: the sidebar's channel picker and the banner's sources, by index probes against a full scan.

Run: ``.venv/bin/python bench/bench_pickers.py --db COPY.db`` (upgraded in place: pass a copy) or
``--url postgresql+psycopg://…`` ``[--rounds 5]``

Every page's first run lists the channels seen on leads (``data.queries.distinct_values``) and the sources
the data came from (``data.queries.source_names``, the freshness banner). Both now walk an index one value at
a time (``data.queries.distinct_by_index``); the reference, measured in the same run, is what they did before: ``SELECT DISTINCT
channel FROM leads`` and a row count per source of every table (``source_counts``). Prints ``name: value``
lines (medians of ``--rounds`` rounds, seconds) and each ratio reference / new.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from data import queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402


def median_seconds(fn, rounds: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="a SQLite database file (a copy: it is upgraded)")
    where.add_argument("--url", help="a database URL (upgraded)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(args.url or f"sqlite:///{args.db}")
    upgrade(engine)
    leads = queries.table_counts(engine).get("leads", 0)
    print(f"leads: {leads}")

    def scan() -> list:
        with engine.connect() as conn:
            sql = "SELECT DISTINCT channel FROM leads WHERE channel IS NOT NULL"
            return sorted(conn.execute(text(sql)).scalars())

    probe_s, probed = median_seconds(lambda: queries.distinct_values(engine, "leads", "channel"), args.rounds)
    scan_s, scanned = median_seconds(scan, args.rounds)
    if probed != scanned:
        sys.exit(f"the channels differ: {probed} against {scanned}")
    print(f"channels_probe_s: {probe_s:.4f}\nchannels_distinct_s: {scan_s:.4f}")
    print(f"channels_ratio_distinct_over_probe: {scan_s / probe_s:.1f}")
    names_s, names = median_seconds(lambda: queries.source_names(engine), args.rounds)
    counts_s, counts = median_seconds(lambda: queries.source_counts(engine), args.rounds)
    if names != sorted(set(counts["source"])):
        sys.exit(f"the sources differ: {names} against {sorted(set(counts['source']))}")
    print(f"sources_probe_s: {names_s:.4f}\nsources_counted_s: {counts_s:.4f}")
    print(f"sources_ratio_counted_over_probe: {counts_s / names_s:.1f}")


if __name__ == "__main__":
    main()
