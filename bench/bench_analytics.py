"""Benchmark: evaluate the default agreement on 1,000,000 leads, 12 months, broken down by owner.

Run: .venv/bin/python bench/bench_analytics.py [--leads N] [--synthetic]

Frames come from the demo generator (``connectors.demo.generate``, fixed seed and
"today") when it is installed, else from a synthetic builder below. The timed
call is ``analytics.commitments.evaluate`` with the six commitments of
agreements/sales-marketing.yaml over the 12 closed months before "today" plus
the current one, ``by="owner"``: every business-time fact of every lead,
activity and deal is computed inside the timed call (nothing is cached between
runs). Reported: the best and median wall time of 3 runs, the same without
breakdown, follow-up detail and funnel for the current month, and peak memory of
one evaluation (tracemalloc: Python and numpy allocations; arrow: pyarrow's
pool) plus the process's peak RSS. Prints ``name: value`` lines last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.agreement import parse_agreement  # noqa: E402
from analytics.commitments import evaluate  # noqa: E402
from analytics.followup import followup_detail  # noqa: E402
from analytics.funnel import funnel  # noqa: E402
from analytics.schema import coerce_frame  # noqa: E402

TODAY = dt.date(2026, 3, 16)
AS_OF = pd.Timestamp("2026-03-16 00:00", tz="UTC")
START, END = "2025-03-01", "2026-04-01"  # 12 closed months and the current one
AGREEMENT = Path(__file__).resolve().parents[1] / "agreements" / "sales-marketing.yaml"
RUNS = 3


def build_frames(leads: int, synthetic: bool = False) -> tuple[dict[str, pd.DataFrame], str]:
    if synthetic:
        return synthetic_frames(leads), "synthetic"
    try:
        from connectors.demo import generate
    except ImportError:
        return synthetic_frames(leads), "synthetic"
    return generate(leads, seed=7, today=TODAY), "connectors.demo"


def synthetic_frames(n: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Canonical frames of ``n`` leads over 15 months: 13 owners in two teams, ~2.5 touches per lead, deals."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-12-01", tz="UTC")
    span = (AS_OF - start).total_seconds()
    mql = start + pd.to_timedelta(rng.uniform(0, span, n), unit="s")
    hours = lambda scale: pd.to_timedelta(rng.lognormal(np.log(scale), 1.2, n), unit="h")  # noqa: E731
    owner = rng.integers(1, 14, n)
    team = np.where(owner <= 6, "EMEA", "Americas")
    touched = rng.random(n) < 0.93
    disposition = rng.choice(["accepted", "rejected", "open"], n, p=[0.35, 0.55, 0.10])
    leads = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "source": "bench",
            "external_id": [f"l{i}" for i in range(n)],
            "created_at": mql - hours(2),
            "mql_at": mql,
            "sql_at": (mql + hours(30)).where(rng.random(n) < 0.35),
            "owner_id": owner,
            "owner_assigned_at": mql + hours(0.1),
            "team": team,
            "channel": rng.choice(["Organic Search", "Paid Search", "Events", "Referrals", "Webinars"], n),
            "first_touch_at": (mql + hours(2)).where(touched),
            "disposition": disposition,
            "disposition_at": (mql + hours(20)).where(disposition != "open"),
            "segment": rng.choice(["smb", "mid-market", "enterprise"], n),
            "archived": False,
        }
    )
    per_lead = rng.poisson(2.5, n)
    lead_of = np.repeat(np.arange(n), per_lead)
    activities = pd.DataFrame(
        {
            "id": np.arange(1, len(lead_of) + 1),
            "source": "bench",
            "external_id": [f"a{i}" for i in range(len(lead_of))],
            "lead_id": lead_of + 1,
            "owner_id": owner[lead_of],
            "kind": rng.choice(["call", "email", "meeting"], len(lead_of)),
            "occurred_at": mql[lead_of]
            + pd.to_timedelta(rng.lognormal(np.log(20), 1.5, len(lead_of)), unit="h"),
            "archived": False,
        }
    )
    with_deal = np.flatnonzero(rng.random(n) < 0.13)
    created = mql[with_deal] + pd.to_timedelta(rng.lognormal(np.log(72), 1.0, len(with_deal)), unit="h")
    won = rng.random(len(with_deal)) < 0.25
    deals = pd.DataFrame(
        {
            "id": np.arange(1, len(with_deal) + 1),
            "source": "bench",
            "external_id": [f"d{i}" for i in range(len(with_deal))],
            "created_at": created,
            "closed_at": created + pd.to_timedelta(rng.lognormal(np.log(30), 0.8, len(with_deal)), unit="D"),
            "amount": rng.lognormal(np.log(25_000), 1.0, len(with_deal)).round(-2),
            "is_closed": True,
            "is_won": won,
            "owner_id": owner[with_deal],
            "team": team[with_deal],
            "channel": leads["channel"].to_numpy()[with_deal],
            "lead_id": with_deal + 1,
            "archived": False,
        }
    )
    owners = pd.DataFrame({"id": np.arange(1, 14), "source": "bench", "name": [f"Rep {i}" for i in range(1, 14)],
                           "external_id": [f"o{i}" for i in range(1, 14)], "active": True})  # fmt: skip
    frames = {"leads": leads, "activities": activities, "deals": deals, "owners": owners}
    return {name: coerce_frame(frame, name) for name, frame in frames.items()}


def timed(fn, runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument(
        "--synthetic", action="store_true", help="use the synthetic builder even if the demo exists"
    )
    args = parser.parse_args()

    agreement = parse_agreement(AGREEMENT.read_text())
    began = time.perf_counter()
    frames, origin = build_frames(args.leads, args.synthetic)
    built = time.perf_counter() - began
    sizes = {name: len(frame) for name, frame in frames.items()}
    print(f"frames from {origin} in {built:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))

    def by_owner() -> pd.DataFrame:
        return evaluate(agreement, frames, START, END, AS_OF, by="owner")

    result = by_owner()
    print(f"rows: {len(result)} ({result['commitment'].nunique()} commitments x {result['period'].nunique()} periods "
          f"x {result['owner'].nunique()} owners)")  # fmt: skip
    owner_runs = timed(by_owner)
    total_runs = timed(lambda: evaluate(agreement, frames, START, END, AS_OF))
    detail_runs = timed(lambda: followup_detail(agreement, frames, AS_OF, start="2026-03-01"), runs=1)
    funnel_runs = timed(lambda: funnel(agreement, frames, START, END, AS_OF), runs=1)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pool = pa.default_memory_pool()
    arrow_before = pool.bytes_allocated()
    tracemalloc.start()
    by_owner()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = max(pool.max_memory() - arrow_before, 0) if pool.max_memory() is not None else 0
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"leads: {sizes['leads']}")
    print(f"activities: {sizes['activities']}")
    print(f"deals: {sizes['deals']}")
    print(f"evaluate_by_owner_best_s: {min(owner_runs):.3f}")
    print(f"evaluate_by_owner_median_s: {statistics.median(owner_runs):.3f}")
    print(f"evaluate_total_best_s: {min(total_runs):.3f}")
    print(f"followup_detail_current_month_s: {detail_runs[0]:.3f}")
    print(f"funnel_13_months_s: {funnel_runs[0]:.3f}")
    print(f"evaluate_peak_traced_mb: {traced_peak / 2**20:.0f}")
    print(f"evaluate_peak_arrow_pool_mb: {arrow_peak / 2**20:.0f}")
    print(f"process_peak_rss_mb: {rss_peak:.0f}")
    print(f"process_peak_rss_before_evaluate_mb: {rss_before:.0f}")


if __name__ == "__main__":
    main()
