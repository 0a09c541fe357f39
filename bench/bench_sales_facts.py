"""Benchmark: the Sales page from the SLA facts against the pandas path, and what keeping facts costs a first start.

Run: ``.venv/bin/python bench/bench_sales_facts.py [--first-start-leads N] [--db PATH ...]``

- First start (fresh SQLite files, the demo company of ``--first-start-leads``, default the demo's default
  size), timed once each, in the same run:
  ``first_start_without_facts`` (the demo loaded, no facts: the opt-in version's first start),
  ``first_start_upkeep_per_batch`` (the database marked first, so every batch of the load noted and
  refreshed as a sync would be), ``first_start`` (:func:`bootstrap.load_demo_if_empty` as the app runs it, then
  ``cli.py db facts``: the load without upkeep, then one :func:`data.fact_upkeep.refresh_all`). Ratios
  against the first.
- Sales view (each ``--db``: an SQLite file that keeps facts, e.g. a copy of /tmp/b1m.db after
  ``data.engine.upgrade`` and ``data.fact_upkeep.refresh_all``): :func:`views.sales.sales_view` of the month
  before the data's last month, as of the data's end, built in process: ``sales_pandas`` (the period's
  and queue's frames read, everything from them) against ``sales_facts`` (the clock figures from the
  facts, :mod:`data.fact_views`; only what facts cannot give read as frames), each read included, then
  the same for one team (``_team``). Best of ``--repeat`` runs each, interleaved.

Prints ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings  # noqa: E402
from bootstrap import ensure_default_agreement, load_demo_if_empty, load_demo_recorded  # noqa: E402
from data import fact_upkeep, syncs  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402


def _fresh(directory: Path, name: str):
    engine = make_engine(f"sqlite:///{directory / name}.db")
    upgrade(engine)
    return engine


def first_start(leads: int) -> None:
    from connectors.demo import load_demo

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        times = {}

        engine = _fresh(tmp, "none")
        started = time.perf_counter()
        ensure_default_agreement(engine)
        load_demo_recorded(engine, leads=leads)  # not marked: no facts at all
        times["first_start_without_facts"] = time.perf_counter() - started
        assert not fact_upkeep.kept(engine)

        engine = _fresh(tmp, "batch")
        started = time.perf_counter()
        ensure_default_agreement(engine)
        fact_upkeep.refresh_all(engine)  # marked before the load: every batch noted, refreshed at the end
        run = syncs.start_run(engine, "demo", "demo")
        counts = load_demo(engine, leads=leads)
        syncs.finish_run(engine, run, "ok", counts)
        times["first_start_upkeep_per_batch"] = time.perf_counter() - started

        engine = _fresh(tmp, "new")
        started = time.perf_counter()
        load_demo_if_empty(engine, leads=leads)
        assert not fact_upkeep.kept(engine)  # facts are opt-in: the first start builds none
        fact_upkeep.refresh_all(engine)  # cli.py db facts
        times["first_start"] = time.perf_counter() - started

    print(f"first_start_leads: {leads}")
    for name, value in times.items():
        print(f"{name}_s: {value:.2f}")
    base = times["first_start_without_facts"]
    print(f"first_start_upkeep_per_batch_ratio: {times['first_start_upkeep_per_batch'] / base:.2f}")
    print(f"first_start_ratio: {times['first_start'] / base:.2f}")


def sales(path: str, repeat: int) -> None:
    """The Sales view of the last closed month as of the data's end, from frames vs with the facts' clock."""
    import pandas as pd

    from analytics.agreement import versions_from_rows
    from analytics.commitments import document_in_force
    from analytics.periods import period_of
    from data import journal, queries
    from data.fact_views import sales_clock
    from data.frames import read_window
    from views.filters import Filters
    from views.sales import queue_window, sales_view

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    if not fact_upkeep.kept(engine):
        raise SystemExit(f"{path}: no SLA facts kept; run data.fact_upkeep.refresh_all on a copy first")
    rows = journal.read_agreement_versions(engine)
    name = sorted(rows["agreement"].unique())[0]
    versions = versions_from_rows(rows[rows["agreement"] == name])
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max()
    leads = queries.table_counts(engine)["leads"]
    doc = document_in_force(versions, as_of)
    month = period_of(as_of - pd.DateOffset(months=1), doc.period, doc.timezone)
    start, end = month["period_start"], month["period_end"]
    owners = queries.read_owners(engine)
    team = sorted(owners["team"].dropna().unique())[0]
    cases = {
        "": Filters(month["period"], start, end, as_of),
        "_team": Filters(month["period"], start, end, as_of, (team,)),
    }
    tag = f"{leads // 1000}k"

    def frames():
        return read_window(engine, start, end), read_window(engine, *queue_window(as_of))

    def clock(f):
        return sales_clock(
            engine, versions, f.period_start, f.period_end, f.as_of, f.teams, f.owners, f.channels
        )

    # The paths, each given the filters: reading the frames included, then from frames read once (as the
    # app shares them between pages), then the facts' query alone.
    paths = {
        "pandas": lambda f: sales_view(versions, *frames(), f),
        "facts": lambda f: sales_view(versions, *frames(), f, clock(f)),
        "pandas_compute": lambda f: sales_view(versions, period, queue, f),
        "facts_compute": lambda f: sales_view(versions, period, queue, f, clock(f)),
        "clock": clock,
    }
    period, queue = frames()  # warms the file cache too
    print(f"sales_leads_{tag}: {leads}")
    for suffix, f in cases.items():
        best = dict.fromkeys(paths, math.inf)
        for _ in range(repeat):
            for name_, path_ in paths.items():  # interleaved: each round meets the same machine
                started = time.perf_counter()
                path_(f)
                best[name_] = min(best[name_], time.perf_counter() - started)
        for name_, value in best.items():
            print(f"sales_{name_}{suffix}_{tag}_s: {value:.3f}")
        ratio = best["facts"] / best["pandas"]
        compute = best["facts_compute"] / best["pandas_compute"]
        print(f"sales_facts_vs_pandas{suffix}_{tag}_ratio: {ratio:.2f}")
        print(f"sales_facts_vs_pandas_compute{suffix}_{tag}_ratio: {compute:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first-start-leads", type=int, default=int(settings.get("ACCORD_DEMO_LEADS")))
    parser.add_argument("--skip-first-start", action="store_true")
    parser.add_argument("--db", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.skip_first_start:
        first_start(args.first_start_leads)
    for path in args.db:
        sales(path, args.repeat)


if __name__ == "__main__":
    main()
