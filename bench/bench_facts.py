"""Benchmark: SLA facts refresh (agreement change, 1% sync) and the SQL figures against read + evaluate.

Run: ``.venv/bin/python bench/bench_facts.py [--leads N] [--db PATH | --url URL]``

Without ``--db`` the demo company (``connectors.demo.load_demo``, seed 7, "today" 2026-03-16, recycled
leads and merges included) is written to a fresh SQLite file after the default agreement is saved (not
timed). ``--db`` uses an existing file (upgraded in place: pass a copy); ``--url`` a database by URL
(PostgreSQL; built as above when it has no lead, else used as it is: pass a copy). Then, timed once each, on the
agreement versions stored there:

- ``read_frames``: reading every lead (one row per handover), activity and owner (what a refresh reads);
- ``compute_facts``: :func:`data.facts.compute_facts` of every version on those frames (not stored);
- ``full_refresh``: :func:`data.fact_upkeep.refresh_all` (``cli.py db facts``): every fact of every stored
  version computed and written, reading included, into an empty facts table; it marks the database as
  keeping facts, so the writes below are noted;
- ``incremental_refresh``: 1% of the leads change (first touch 30 minutes later, written through
  :func:`data.upserts.upsert_leads`, not timed), then :func:`data.fact_upkeep.after_run` (what
  ``finish_run`` calls): their ids looked up, their rows and activities read, facts recomputed and replaced;
- ``agreement_change``: :func:`agreements.store.save` of a new version (the follow-up target moved), which
  computes and writes that version's facts (:func:`data.fact_upkeep.after_agreement_saved`) beside the
  stored ones: what saving an agreement change costs (the clocks are copied from the stored version);
- ``calendar_change``: then a version whose calendar closes half an hour earlier (17:00), whose every
  clock is computed from every lead and written: what saving a calendar or timezone change costs;
- ``sql_month`` / ``sql_month_by_team``: :func:`data.facts.figures` of every clock commitment for
  February 2026 (counts, met/breached/pending, rates, durations), whole and by team, against
  ``pandas_month``: :func:`data.frames.read_window` of that month and ``analytics.commitments.evaluate``
  over it (whole and by team), the same figures, in the same run.

Targets (issue 15, at 1M leads): incremental < 5 s, agreement change (and full) < 30 s. Prints ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agreements import store  # noqa: E402
from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import evaluate  # noqa: E402
from connectors.demo import load_demo  # noqa: E402
from data import fact_upkeep, journal, queries, upserts  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from data.facts import CLOCK_METRICS, compute_facts, figures, read_frames  # noqa: E402
from data.frames import read_window  # noqa: E402
from data.models import SlaFact  # noqa: E402

TODAY = dt.date(2026, 3, 16)
AS_OF = pd.Timestamp("2026-03-16 10:30", tz="UTC")
AGREEMENT = Path(__file__).resolve().parents[1] / "agreements" / "sales-marketing.yaml"


CPU: dict[str, float] = {}  # this process's CPU seconds per timed step (SQLite's work included)


def timed(fn, name: str | None = None):
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if name:
        CPU[name] = time.process_time() - cpu
    return time.perf_counter() - started, result


def build(url: str, leads: int) -> None:
    """The default agreement, then the demo company, in a fresh database (its own engine: no facts yet)."""
    engine = make_engine(url)
    upgrade(engine)
    store.save(engine, AGREEMENT.read_text(), None, "bench", "bench", as_of=AS_OF)
    load_demo(engine, leads=leads, today=TODAY)
    engine.dispose()


def _changed(doc) -> dict:
    """The document with each commitment's target 0.01 lower where it has one (a new version to save)."""
    raw = doc.to_document()
    for commitment in raw["commitments"]:
        if isinstance(commitment.get("target"), float) and commitment["target"] > 0.01:
            commitment["target"] = round(commitment["target"] - 0.01, 4)
    return raw


def _calendar_changed(doc) -> dict:
    """The document with the agreement's working day ending at 17:00 (every clock changes)."""
    raw = doc.to_document()
    raw["calendar"]["hours"] = [raw["calendar"]["hours"][0], "17:00"]
    return raw


def same(sql: pd.DataFrame, oracle: pd.DataFrame, by: str | None) -> bool:
    """Whether the SQL rows equal the oracle's rows with leads (n, met, breached, pending, actual)."""
    oracle = oracle[oracle["n"] > 0]
    if len(sql) != len(oracle):
        return False
    keys = ["period_start"] + ([by] if by else [])
    oracle = oracle.assign(**({by: oracle[by].replace("(none)", None)} if by else {}))
    merged = sql.merge(oracle, on=keys, suffixes=("", "_o"))
    if len(merged) != len(sql):
        return False
    for column in ("n", "met", "breached", "pending", "actual"):
        for a, b in zip(merged[column], merged[f"{column}_o"], strict=True):
            if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))):
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file to use, upgraded in place (a copy)"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="database URL instead (PostgreSQL: an empty database gets the demo company, else used as it is)",
    )
    args = parser.parse_args()
    if args.url is not None:
        url = args.url
        probe = make_engine(url)
        upgrade(probe)
        empty = queries.table_counts(probe)["leads"] == 0
        probe.dispose()
        if empty:
            build_s, _ = timed(lambda: build(url, args.leads))
            print(f"built in {build_s:.1f} s", file=sys.stderr)
    elif args.db is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench_facts_')) / 'accord.db'}"
        build_s, _ = timed(lambda: build(url, args.leads))
        print(f"built in {build_s:.1f} s", file=sys.stderr)
    else:
        url = f"sqlite:///{args.db}"
    engine = make_engine(url)
    upgrade(engine)
    rows = journal.read_agreement_versions(engine)
    if rows.empty:
        store.save(engine, AGREEMENT.read_text(), None, "bench", "bench", as_of=AS_OF)
        rows = journal.read_agreement_versions(engine)
    agreements = {name: versions_from_rows(group) for name, group in rows.groupby("agreement")}
    lead_count = queries.table_counts(engine)["leads"]

    read_s, frames = timed(lambda: read_frames(engine), "read_frames")
    handover_rows = len(frames["leads"])
    started, cpu = time.perf_counter(), time.process_time()
    computed = [compute_facts(v, frames) for v in agreements.values()]
    compute_s, CPU["compute_facts"] = time.perf_counter() - started, time.process_time() - cpu
    del frames, computed
    full_s, fact_rows = timed(lambda: fact_upkeep.refresh_all(engine), "full_refresh")

    # A sync touched 1% of the leads: their first touch moved 30 minutes later.
    stored = queries.read_leads(
        engine, per_handover=False, columns=["id", "source", "external_id", "first_touch_at"]
    )
    changed = stored.iloc[::100]
    moved = changed[["source", "external_id", "first_touch_at"]]
    upserts.upsert_leads(
        engine, moved.assign(first_touch_at=moved["first_touch_at"] + pd.Timedelta(minutes=30))
    )
    incremental_s, incremental_rows = timed(lambda: fact_upkeep.after_run(engine), "incremental_refresh")

    name, versions = next(iter(agreements.items()))
    version = versions[-1]
    doc = version.document
    changed_doc = _changed(doc)
    change_s, _ = timed(
        lambda: store.save(engine, changed_doc, None, "bench", "bench", as_of=AS_OF), "agreement_change"
    )
    with engine.connect() as conn:
        change_rows = conn.execute(
            sa.select(sa.func.count()).where(SlaFact.version == version.version + 1)
        ).scalar_one()
    calendar_s, _ = timed(
        lambda: store.save(engine, _calendar_changed(doc), None, "bench", "bench", as_of=AS_OF),
        "calendar_change",
    )
    with engine.connect() as conn:
        calendar_rows = conn.execute(
            sa.select(sa.func.count()).where(SlaFact.version == version.version + 2)
        ).scalar_one()
    month = (pd.Timestamp("2026-02-01", tz=doc.timezone), pd.Timestamp("2026-03-01", tz=doc.timezone))
    commitments = [c.id for c in doc.commitments if c.metric in CLOCK_METRICS]

    def sql_month(by):
        return {
            c: figures(engine, name, version.version, c, doc.period, *month, AS_OF, by=by)
            for c in commitments
        }

    def pandas_month(by):
        frames = read_window(engine, month[0].tz_convert("UTC"), month[1].tz_convert("UTC"))
        result = evaluate([version], frames, *month, AS_OF, by=by)
        return {c: result[result["commitment"] == c] for c in commitments}

    sql_s, sql = timed(lambda: sql_month(None))
    sql_team_s, sql_team = timed(lambda: sql_month("team"))
    pandas_s, oracle = timed(lambda: pandas_month(None))
    pandas_team_s, oracle_team = timed(lambda: pandas_month("team"))
    equal = all(
        same(sql[c], oracle[c], None) and same(sql_team[c], oracle_team[c], "team") for c in commitments
    )

    print(f"dialect: {engine.dialect.name}")
    print(f"leads: {lead_count}")
    print(f"handover_rows: {handover_rows}")
    print(f"fact_rows: {fact_rows}")
    print(f"read_frames_seconds: {read_s:.3f}")
    print(f"compute_facts_seconds: {compute_s:.3f}")
    print(f"full_refresh_seconds: {full_s:.3f}")
    print(f"write_seconds_estimate: {full_s - read_s - compute_s:.3f}")
    print(f"incremental_leads: {len(changed)}")
    print(f"incremental_fact_rows: {incremental_rows}")
    print(f"incremental_refresh_seconds: {incremental_s:.3f}")
    print(f"agreement_change_fact_rows: {change_rows}")
    print(f"agreement_change_seconds: {change_s:.3f}")
    print(f"calendar_change_fact_rows: {calendar_rows}")
    print(f"calendar_change_seconds: {calendar_s:.3f}")
    print(f"sql_month_seconds: {sql_s:.4f}")
    print(f"sql_month_by_team_seconds: {sql_team_s:.4f}")
    print(f"pandas_month_seconds: {pandas_s:.3f}")
    print(f"pandas_month_by_team_seconds: {pandas_team_s:.3f}")
    print(f"sql_month_equals_pandas: {equal}")
    print(f"sql_vs_pandas_month: {sql_s / pandas_s:.4f}")
    print(f"sql_vs_pandas_month_by_team: {sql_team_s / pandas_team_s:.4f}")
    print(f"full_refresh_vs_read_frames: {full_s / read_s:.3f}")
    print(f"incremental_vs_full_refresh: {incremental_s / full_s:.4f}")
    print(f"agreement_change_vs_read_frames: {change_s / read_s:.3f}")
    print(f"full_refresh_target_met: {full_s < 30.0}")
    print(f"agreement_change_target_met: {change_s < 30.0}")
    print(f"calendar_change_target_met: {calendar_s < 30.0}")
    print(f"incremental_refresh_target_met: {incremental_s < 5.0}")
    for name, seconds in CPU.items():  # steady under a busy machine, where wall times are not
        print(f"{name}_cpu_seconds: {seconds:.3f}")
    print(f"load_average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
