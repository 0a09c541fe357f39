"""Benchmark: evaluate the follow-up alerts (due soon, breached) on 1,000,000 leads.

Run: .venv/bin/python bench/bench_alerts.py [--leads N]

Frames come from the demo generator (``connectors.demo.generate``, fixed seed and "today"), the agreement
from agreements/sales-marketing.yaml. The timed call is ``alerts.rules.lead_alerts`` over every lead at a
Monday morning (data end + 10.5 h), demo data included (it is all demo). The reference, measured in the
same run on the same frames, is the analytics core it builds on: ``analytics.followup.followup_detail``
over every lead. Also timed: ``alerts.rules.queue_leads`` (the daily queue). Best of 3 runs each.
Prints ``name: value`` lines last; the target is alerts < 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.rules import lead_alerts, queue_leads  # noqa: E402
from analytics.agreement import parse_agreement  # noqa: E402
from analytics.followup import followup_detail  # noqa: E402
from connectors.demo import generate  # noqa: E402

TODAY = dt.date(2026, 3, 16)  # a Monday
AS_OF = pd.Timestamp("2026-03-16 10:30", tz="UTC")
AGREEMENT = Path(__file__).resolve().parents[1] / "agreements" / "sales-marketing.yaml"
RUNS = 3


def best(fn, runs: int = RUNS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    args = parser.parse_args()
    doc = parse_agreement(AGREEMENT.read_text())
    started = time.perf_counter()
    frames = generate(args.leads, seed=7, today=TODAY)
    print(
        f"generated {len(frames['leads']):,} leads in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    reference, detail = best(lambda: followup_detail(doc, frames, AS_OF))
    alerts_s, alerts = best(lambda: lead_alerts(doc, frames, AS_OF, include_demo=True))
    queue_s, queue = best(lambda: queue_leads(doc, frames, AS_OF, include_demo=True))
    untouched = int(detail["hours_left"].notna().sum())
    print(f"leads: {len(frames['leads'])}")
    print(f"handed_over_leads: {len(detail)}")
    print(f"untouched_leads: {untouched}")
    print(f"alerts_due: {len(alerts)}")
    print(f"queue_leads: {len(queue)}")
    print(f"followup_detail_seconds: {reference:.3f}")
    print(f"lead_alerts_seconds: {alerts_s:.3f}")
    print(f"queue_leads_seconds: {queue_s:.3f}")
    print(f"lead_alerts_vs_followup_detail: {alerts_s / reference:.3f}")
    print(f"lead_alerts_target_met: {alerts_s < 1.0}")


if __name__ == "__main__":
    main()
