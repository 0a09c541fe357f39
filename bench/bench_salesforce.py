"""Benchmark: a full Salesforce sync of N leads + M opportunities (with their users, Status history, tasks
and events) against the local Salesforce over HTTPS, then an incremental sync after 1% of them changed.

The local Salesforce (tests/connectors/salesforce/fake_salesforce.py) runs in its own process; the sync
runs here against a fresh SQLite file, through the real simple-salesforce.

    .venv/bin/python bench/bench_salesforce.py                                        # 20,000 + 3,000: ~1 min
    .venv/bin/python bench/bench_salesforce.py --leads 100000 --opportunities 15000
    .venv/bin/python bench/bench_salesforce.py --leads 1000000 --opportunities 150000  # the issue's size

Reference, measured in the same run against the same server: fetching the same Bulk API 2.0 result pages
(Lead, Opportunity, Task, Event) with plain ``requests`` — no parsing, no mapping, no database. The ratio
says what the sync costs on top of moving the bytes. ``name: value`` lines come last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from connectors.salesforce.settings import OBJECTS, SalesforceConfig, fields_for  # noqa: E402
from connectors.salesforce.sync import sync  # noqa: E402
from data import queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402


def _ask(server: subprocess.Popen, command: str) -> dict:
    server.stdin.write(command + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def raw_fetch(url: str, version: str) -> tuple[float, int, int]:
    """Seconds, requests and bytes to fetch every Bulk page of the large objects with plain requests."""
    session = requests.Session()
    token = session.post(
        f"{url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "bench-client",
            "client_secret": "bench-secret-0123456789",
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"{url}/services/data/v{version}/jobs/query"
    started, count, size = time.perf_counter(), 1, 0
    for obj in OBJECTS[1:]:
        soql = f"SELECT {', '.join(fields_for(obj, SalesforceConfig().fields))} FROM {obj}"
        job = session.post(base, headers=headers, json={"operation": "queryAll", "query": soql}).json()["id"]
        count += 1
        while session.get(f"{base}/{job}", headers=headers).json()["state"] != "JobComplete":
            count += 1
        count += 1
        locator = ""
        while True:
            params = {"maxRecords": 50_000} | ({"locator": locator} if locator else {})
            answer = session.get(f"{base}/{job}/results", headers=headers, params=params)
            count += 1
            size += len(answer.content)
            locator = answer.headers["Sforce-Locator"]
            if locator == "null":
                break
    return time.perf_counter() - started, count, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--opportunities", type=int, default=3_000)
    args = parser.parse_args(argv)

    seeding = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.connectors.salesforce.fake_salesforce", "--leads", str(args.leads),
         "--opportunities", str(args.opportunities)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        hello = json.loads(server.stdout.readline())
        print(f"seeded {args.leads:,} leads and {args.opportunities:,} opportunities in "
              f"{time.perf_counter() - seeding:.0f} s at {hello['url']}")  # fmt: skip
        os.environ["REQUESTS_CA_BUNDLE"] = hello["ca"]
        config = SalesforceConfig(
            login_url=hello["url"], client_id="bench-client", client_secret="bench-secret-0123456789"
        )
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            started = time.perf_counter()
            full = sync(engine, config=config)
            full_seconds = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            counts = queries.table_counts(engine)
            print(full.describe())

            changed = _ask(server, "change 0.01")["changed"]
            # A sync reads up to the whole second it starts in (SOQL has no fractions of a second); changes
            # made in that same second come with the next sync. Start this one in the next second.
            time.sleep(1.1)
            started = time.perf_counter()
            incremental = sync(engine, config=config)
            incremental_seconds = time.perf_counter() - started
            print(incremental.describe())

            reference_seconds, reference_requests, reference_bytes = raw_fetch(
                hello["url"], config.api_version
            )
    finally:
        server.stdin.close()
        server.wait(timeout=60)

    print(f"leads: {counts['leads']}")
    print(f"deals: {counts['deals']}")
    print(f"activities: {counts['activities']}")
    print(f"full_requests: {full.requests}")
    print(f"full_seconds: {full_seconds:.1f}")
    print(
        f"full_rows_per_second: {(counts['leads'] + counts['deals'] + counts['activities']) / full_seconds:.0f}"
    )
    print(f"peak_memory_mb: {peak_mb:.0f}")
    print(f"incremental_changed_records: {changed}")
    print(f"incremental_requests: {incremental.requests}")
    print(f"incremental_seconds: {incremental_seconds:.1f}")
    print(f"incremental_share_of_full_requests: {incremental.requests / max(full.requests, 1):.3f}")
    print(f"reference_raw_fetch_seconds: {reference_seconds:.1f}")
    print(f"reference_raw_fetch_requests: {reference_requests}")
    print(f"reference_raw_fetch_mb: {reference_bytes / 1e6:.0f}")
    print(f"ratio_full_sync_to_raw_fetch: {full_seconds / reference_seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
