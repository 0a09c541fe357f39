"""Benchmark: rebuilding every handover from lifecycle history during a full HubSpot sync of 100,000 contacts,
against the full sync's request floor.

The local HubSpot-compatible server (tests/connectors/hubspot/fake_hubspot.py) is seeded from the demo
generator and serves here with its rate limit lifted (the figure is requests, not waiting); the sync runs
against a fresh SQLite file and reads, for every contact that can have been handed over, the history of
its lifecycle stage and lead status (in the list's pages of 50, or batch reads of 50) to rebuild its
handovers; 2% of the MQL contacts were recycled and re-qualified (two handovers each).

    .venv/bin/python bench/bench_handovers.py                      # 100,000 contacts (several minutes)
    .venv/bin/python bench/bench_handovers.py --leads 5000         # a quick look

The floor is the fewest requests a full sync can make without history: one list request per 100 records
of every object, active and archived (at least one each), the owners' pages and the pipelines. The ratio
is the requests the sync made (history included) over that floor (aim: <= 1.2). HubSpot returns property
history for at most 50 records a request (list page or batch read), so reading the history of every
contact that can have been handed over costs, at the least, pages of 50 for those contacts:
``history_floor_requests`` is that least, and ``requests_over_history_floor`` how close the first full
sync comes to it. After it, a day of CRM work (``--changed`` of the contacts and deals) and the same full
sync again (``resync_*``: only contacts modified since their history was read want it again, gathered
across pages into batch reads of 50), then another day and an incremental run. Also printed: the time
those requests need at 190 per 10 s, and the seconds spent rebuilding handovers from history (pure
mapping). ``name: value`` lines come last.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_hubspot import floor_seconds  # noqa: E402

from connectors.hubspot import mapping  # noqa: E402
from connectors.hubspot.client import HISTORY_BATCH  # noqa: E402
from connectors.hubspot.settings import HubSpotConfig  # noqa: E402
from connectors.hubspot.sync import sync  # noqa: E402
from data import queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from tests.connectors.hubspot.fake_hubspot import CRM_OBJECTS, FakeHubSpot, seeded_frames  # noqa: E402

TOKEN = "pat-na1-bench-0000-0000-000000000000"
PAGE = 100


def request_floor(fake: FakeHubSpot) -> int:
    """Fewest requests of a full sync without history: list pages of 100, active and archived, owners, pipelines."""
    pages = 0
    for obj in CRM_OBJECTS:
        for archived in (False, True):
            pages += max(1, math.ceil(fake.count(obj, archived=archived) / PAGE))
    owners = len(fake.owners)
    return pages + 2 * max(1, math.ceil(owners / 500)) + 1


def history_floor(fake: FakeHubSpot, floor: int, wanting: int) -> int:
    """Fewest requests of a full sync that reads the history of ``wanting`` contacts: the floor, with the
    active contacts' pages of 100 replaced by pages of 50 for those contacts (HubSpot's limit with
    ``propertiesWithHistory``, list or batch read) and pages of 100 for the rest."""
    active = fake.count("contacts", archived=False)
    plain = max(1, math.ceil(active / PAGE))
    return floor - plain + math.ceil(wanting / HISTORY_BATCH) + math.ceil((active - wanting) / PAGE)


def history_reads(fake: FakeHubSpot, since: int) -> int:
    """Requests after the first ``since`` that asked for contacts' property history (list pages or batch reads)."""
    return sum(
        1
        for r in fake.requests()[since:]
        if (r.path == "/crm/v3/objects/contacts/batch/read" and (r.body or {}).get("propertiesWithHistory"))
        or (r.path == "/crm/v3/objects/contacts" and r.query.get("propertiesWithHistory"))
    )


def recycle(fake: FakeHubSpot, share: float) -> int:
    """Send ``share`` of the MQL contacts back to marketing 20 days after their MQL and re-qualify them 40 days
    later (when that is before the data ends); returns how many."""
    done = 0
    chosen = [
        r
        for r in fake.objects["contacts"].values()
        if r.properties.get("hs_v2_date_entered_marketingqualifiedlead")
    ]
    step = max(1, round(1 / share)) if share > 0 else len(chosen) + 1
    for record in chosen[::step]:
        mql = pd.Timestamp(record.properties["hs_v2_date_entered_marketingqualifiedlead"])
        back, again = mql + pd.Timedelta(days=20), mql + pd.Timedelta(days=60)
        if again >= pd.Timestamp("2026-06-29", tz="UTC"):
            continue
        fake.update("contacts", record.id, {"hs_lead_status": "RECYCLED", "lifecyclestage": "lead"}, at=back)
        fake.update(
            "contacts",
            record.id,
            {"hs_lead_status": "NEW", "lifecyclestage": "marketingqualifiedlead"},
            at=again,
        )
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument(
        "--recycled", type=float, default=0.02, help="share of MQL contacts recycled, re-qualified"
    )
    parser.add_argument("--changed", type=float, default=0.01, help="share of records changed per day")
    args = parser.parse_args(argv)

    print(f"seeding the local HubSpot with {args.leads:,} contacts ...", flush=True)
    started = time.monotonic()
    fake = FakeHubSpot(TOKEN, requests_per_window=10**9, search_per_second=10**6)
    fake.seed(seeded_frames(args.leads, args.deals))
    recycled = recycle(fake, args.recycled)
    fake.start()
    print(f"seeded in {time.monotonic() - started:.1f} s", flush=True)
    try:
        config = HubSpotConfig(
            token=TOKEN, base_url=fake.base_url, requests_per_window=10**9, search_per_second=10**6
        )
        floor = request_floor(fake)
        wanting = sum(
            mapping.needs_history({"properties": r.properties})
            for r in fake.objects["contacts"].values()
            if not r.archived
        )
        least = history_floor(fake, floor, wanting)
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            started = time.monotonic()
            full = sync(engine, config=config)
            sync_seconds = time.monotonic() - started
            stored = queries.count_handovers(engine)
            history_requests = history_reads(fake, 0)
            # A day of CRM work (1% of contacts and deals changed), then the same full sync again, then
            # another day and an incremental run: the re-reads ask for the changed contacts' history only.
            fake.change_share(args.changed, seed=1)
            before = len(fake.requests())
            again = sync(engine, config=config, full=True)
            again_history = history_reads(fake, before)
            fake.change_share(args.changed, seed=2)
            before = len(fake.requests())
            later = sync(engine, config=config)
            later_history = history_reads(fake, before)
            engine.dispose()
        records = [
            {
                "id": str(r.id),
                "propertiesWithHistory": {p: r.history_of(p) for p in mapping.HISTORY_PROPERTIES},
            }
            for r in fake.objects["contacts"].values()
            if not r.archived
        ]
        started = time.monotonic()
        rebuilt = mapping.handovers_frame(records)
        rebuild_seconds = time.monotonic() - started
    finally:
        fake.stop()

    print(full.describe())
    print(again.describe())
    print(later.describe())
    figures = {
        "contacts": fake.count("contacts"),
        "contacts_recycled": recycled,
        "contacts_wanting_history": wanting,
        "floor_requests": floor,
        "history_floor_requests": least,
        "full_sync_requests": full.requests,
        "history_requests": history_requests,
        "resync_full_requests": again.requests,
        "resync_history_requests": again_history,
        "incremental_requests": later.requests,
        "incremental_history_requests": later_history,
        "handovers_stored": stored,
        "handovers_rebuilt_from_all_histories": len(rebuilt),
        "floor_seconds_at_190_per_10s": f"{floor_seconds(floor, 190, 10.0):.0f}",
        "full_seconds_at_190_per_10s": f"{floor_seconds(full.requests, 190, 10.0):.0f}",
        "sync_seconds_unthrottled": f"{sync_seconds:.1f}",
        "rebuild_seconds": f"{rebuild_seconds:.2f}",
        "requests_over_history_floor": f"{full.requests / least:.3f}",
        "resync_requests_over_floor": f"{again.requests / floor:.3f}",
        "requests_over_floor": f"{full.requests / floor:.3f}",
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
