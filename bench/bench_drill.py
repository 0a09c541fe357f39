"""Drill-down benchmark: the records behind each figure of the current period on the demo company.

Run: ``.venv/bin/python bench/bench_drill.py`` (100,000 leads; ``--million`` for 1,000,000; ``--db PATH``
reuses a SQLite file built earlier, building it there when missing; ``--generated`` takes the period's frames
from the demo regenerated in memory instead of reading them, where reading a window is slow).

For every figure the Sales and Marketing pages offer to open (views.records.drill_choices) it times
``views.records.records_view`` end to end as the page calls it on a selection: the counted rows of the
evaluation, the names and CRM ids read by id from the database, the table in the agreement's timezone.
Likewise each Funnel stage of the period (``stage_records``, on the period's frames: its cohort and their
deals) and each figure of as_of's ISO week as the Overview judges it (``week_records``).
The page's frames are already read (the pages cache them), so reading them is not part of a drill.
Reference, measured in the same run on the same frames: ``evaluate`` of the period (what the page pays for
its tiles). Aim: every drill < 1 s at 1,000,000 leads. Prints ``name: value`` lines (seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pandas as pd  # noqa: E402
from bench_pages import build  # noqa: E402  (the demo company in a SQLite file, kept between runs)

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force, evaluate  # noqa: E402
from analytics.funnel import STAGES  # noqa: E402
from analytics.periods import week_of, week_row  # noqa: E402
from data import journal, queries  # noqa: E402
from data.engine import make_engine  # noqa: E402
from data.frames import cut_window, read_window  # noqa: E402
from data.record_links import read_link_bases  # noqa: E402
from data.record_people import read_people  # noqa: E402
from views.filters import filters_for  # noqa: E402
from views.marketing import marketing_view  # noqa: E402
from views.records import drill_choices, records_view, stage_records, week_records  # noqa: E402
from views.sales import sales_view  # noqa: E402

AGREEMENT = "Sales and Marketing SLA"


def best(fn, runs: int = 3) -> tuple[float, object]:
    """The fastest of ``runs`` calls of ``fn`` (seconds) and its last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="1,000,000 demo leads instead of 100,000")
    parser.add_argument(
        "--generated", action="store_true",
        help="take the period's frames from the demo generated in memory, not read from the database",
    )  # fmt: skip
    parser.add_argument("--db", type=Path, help="SQLite file to use (built there when missing; kept)")
    args = parser.parse_args(argv)
    leads = 1_000_000 if args.million else 100_000
    path = args.db or Path(tempfile.mkdtemp(prefix="accord-bench-drill-")) / "bench.db"
    results: dict[str, float] = {"build_s": build(path, leads)}
    engine = make_engine(f"sqlite:///{path}")
    results["leads"] = float(queries.table_counts(engine)["leads"])
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    as_of = pd.Timestamp(queries.read_leads(engine, columns=["mql_at"])["mql_at"].max()).ceil("h")
    f = filters_for(versions, as_of)
    if args.generated:  # the same company regenerated in memory: the ids are the ones the load stored
        from connectors import demo

        made = demo.generate(leads)  # today: the clock's day, as when the database was built
        frames = cut_window(made, f.period_start, f.period_end)
    else:
        frames = read_window(engine, f.period_start, f.period_end)
    results["period_leads"] = float(len(frames["leads"]))
    print(f"period {f.period} read: {len(frames['leads']):,} leads", flush=True)
    results["reference_evaluate_period_s"], _ = best(
        lambda: evaluate(versions, frames, f.period_start, f.period_end, f.as_of)
    )
    choices = {
        c.commitment: c for c in drill_choices(sales_view(versions, frames, frames, f).figures(), versions, f)
    }
    history = frames  # the trend's periods are not drilled; the period's frames suffice for its figures
    for c in drill_choices(
        marketing_view(versions, frames, history, f, f.period_start).figures(), versions, f
    ):
        choices.setdefault(c.commitment, c)
    bases = read_link_bases(engine)
    worst = 0.0
    for commitment in choices:
        seconds, records = best(
            lambda c=commitment: records_view(
                versions, frames, f, c, lambda t, ids: read_people(engine, t, ids), bases
            )
        )
        print(f"  {commitment}: {records.count:,} rows, {seconds:.3f} s", flush=True)
        results[f"drill_{commitment}_s"] = seconds
        results[f"drill_{commitment}_rows"] = float(records.count)
        worst = max(worst, seconds)
    people = lambda t, ids: read_people(engine, t, ids)  # noqa: E731
    for stage in STAGES:
        seconds, records = best(lambda s=stage: stage_records(versions, frames, f, s, people, bases))
        print(f"  funnel-{stage}: {records.count:,} rows, {seconds:.3f} s", flush=True)
        results[f"drill_funnel_{stage}_s"] = seconds
        results[f"drill_funnel_{stage}_rows"] = float(records.count)
        worst = max(worst, seconds)
    tz = document_in_force(versions, f.as_of).timezone
    week = week_of(f.as_of - pd.Timedelta(microseconds=1), tz)
    row = week_row(week, tz)
    week_frames = (frames if f.period_start <= row["period_start"]
                   else read_window(engine, row["period_start"], f.period_end))  # fmt: skip
    for commitment in (c.id for c in document_in_force(versions, f.as_of).commitments):  # the week's figures
        seconds, records = best(
            lambda c=commitment: week_records(versions, week_frames, f, week, c, people, bases)
        )
        print(f"  {week} {commitment}: {records.count:,} rows, {seconds:.3f} s", flush=True)
        results[f"drill_week_{commitment}_s"] = seconds
        worst = max(worst, seconds)
    results["drill_worst_s"] = worst
    results["drill_worst_vs_evaluate"] = worst / results["reference_evaluate_period_s"]
    print(f"demo company: {results['leads']:,.0f} leads in {path}; period {f.period}, as of {f.as_of}")
    for name, value in results.items():
        whole = name.endswith("_rows") or name in ("leads", "period_leads")
        print(f"{name}: {value:,.0f}" if whole else f"{name}: {value:.3f}")
    return results


if __name__ == "__main__":
    os.environ.setdefault("ACCORD_DEMO_LEADS", "100000")
    main()
