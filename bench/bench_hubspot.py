"""Benchmark: a full HubSpot sync of 100,000 contacts and 20,000 deals at 190 requests per 10 s, then an
incremental re-sync after 1% of the records changed.

The local HubSpot-compatible server (tests/connectors/hubspot/fake_hubspot.py) runs in its own process,
seeded from the demo generator, enforcing HubSpot's limits; the sync runs here against a fresh SQLite file.

    .venv/bin/python bench/bench_hubspot.py                       # the brief's sizes (takes ~4 minutes)
    .venv/bin/python bench/bench_hubspot.py --leads 5000 --deals 1000   # a quick look

Reports requests made, the floor time those requests need at the limit (the N-th request cannot start
before window * floor((N - 1) / limit)), the actual time and its ratio to the floor (aim: <= 1.15), rows
per second, peak memory of the syncing process, and the incremental re-sync's share of the full sync's
requests (aim: < 3%). ``name: value`` lines come last.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.hubspot.settings import HubSpotConfig  # noqa: E402
from connectors.hubspot.sync import sync  # noqa: E402
from data import queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402

TOKEN = "pat-na1-bench-0000-0000-000000000000"
FAKE = ROOT / "tests" / "connectors" / "hubspot" / "fake_hubspot.py"


def floor_seconds(requests: int, limit: int, window: float) -> float:
    """The least time ``requests`` requests need under a rolling limit of ``limit`` per ``window`` seconds.

    Any ``window``-long interval holds at most ``limit`` request starts, so request number n (from 1)
    starts no earlier than window * floor((n - 1) / limit); the first ``limit`` go at time 0.

    >>> floor_seconds(190, 190, 10.0), floor_seconds(191, 190, 10.0), floor_seconds(1000, 190, 10.0)
    (0.0, 10.0, 50.0)
    """
    return window * math.floor(max(requests - 1, 0) / limit)


def _control(url: str, path: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url + path, data=data, method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.loads(answer.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--limit", type=int, default=190, help="requests per window (server and client)")
    parser.add_argument("--window", type=float, default=10.0, help="window length in seconds")
    parser.add_argument("--change", type=float, default=0.01, help="share of contacts and deals changed")
    args = parser.parse_args(argv)

    print(f"seeding the local HubSpot with {args.leads:,} contacts and {args.deals:,} deals ...", flush=True)
    server = subprocess.Popen(
        [
            sys.executable,
            str(FAKE),
            "--leads",
            str(args.leads),
            "--deals",
            str(args.deals),
            "--token",
            TOKEN,
            "--requests-per-window",
            str(args.limit),
            "--window",
            str(args.window),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        ready = json.loads(server.stdout.readline())
        url = ready["url"]
        print(f"server ready in {ready['seconds']} s at {url}: {ready['records']}", flush=True)
        config = HubSpotConfig(
            token=TOKEN, base_url=url, requests_per_window=args.limit, window_seconds=args.window
        )
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)

            started = time.monotonic()
            full = sync(engine, config=config)
            full_seconds = time.monotonic() - started
            full_stats = _control(url, "/_fake/stats")
            counts = queries.table_counts(engine)

            print("changing records on the server ...", flush=True)
            changed = _control(
                url, "/_fake/change", {"share": args.change, "archive_share": args.change / 10}
            )
            _control(url, "/_fake/reset", {})
            started = time.monotonic()
            incremental = sync(engine, config=config)
            incremental_seconds = time.monotonic() - started
            incremental_stats = _control(url, "/_fake/stats")
            engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = sum(c.rows for c in full.objects.values()) + full.owners
    floor = floor_seconds(full.requests, args.limit, args.window)
    print(full.describe())
    print(incremental.describe())
    print(f"server saw (full): {full_stats['by_route']}")
    print(f"server saw (incremental): {incremental_stats['by_route']}")
    print(f"changed on the server: {changed}")
    figures = {
        "contacts": counts["leads"],
        "deals": counts["deals"],
        "activities": counts["activities"],
        "owners": counts["owners"],
        "full_requests": full.requests,
        "full_requests_seen_by_server": full_stats["requests"],
        "full_429_answers": full_stats["rate_limited"],
        "floor_seconds": f"{floor:.1f}",
        "full_seconds": f"{full_seconds:.1f}",
        "full_over_floor": f"{full_seconds / floor:.3f}" if floor else "n/a",
        "rows_per_second": f"{rows / full_seconds:,.0f}",
        "peak_memory_mb": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
        "incremental_requests": incremental.requests,
        "incremental_seconds": f"{incremental_seconds:.1f}",
        "incremental_rows": sum(c.rows for c in incremental.objects.values()),
        "incremental_share_of_full_requests": f"{incremental.requests / full.requests:.2%}",
        "incremental_429_answers": incremental_stats["rate_limited"],
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
