"""Benchmark: the Funnel page's history from aggregate queries against reading frames + pandas, SQLite.

Run: ``.venv/bin/python bench/bench_funnel_history.py --db PATH`` (PATH: a COPY of a demo database; it is
upgraded in place). On the agreement versions stored there, at ``--as-of`` (default: the day after the
newest handover) for the current period and the 15 periods the page looks back over, timed once each, in
the same run:

- ``frames_path``: what the Funnel page did: :func:`data.frames.read_window` of ``views.funnel.data_window``
  (15 periods of leads, deals and activities) and ``views.funnel.funnel_view`` built from them;
- ``frames_read`` / ``frames_view``: its two parts;
- ``sql_path``: what it does now: ``data.funnel_aggregates.funnel_history`` and the view built from it;
- ``sql_path_by_team``: the same for the first team's slice (the frames path's reading is the same);
- ``views_equal``: whether both give the same cohort table and revenue rows.

Prints ``name: value`` lines; ``sql_vs_frames`` is the ratio of the two paths.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force  # noqa: E402
from analytics.periods import period_of  # noqa: E402
from data import journal, queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from data.frames import read_window  # noqa: E402
from data.funnel_aggregates import funnel_history  # noqa: E402
from reports.figures import history_start_of  # noqa: E402
from views.filters import Filters  # noqa: E402
from views.funnel import data_window, funnel_view  # noqa: E402


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def same(a, b) -> bool:
    """Whether two FunnelViews show the same cohort table and revenue rows."""
    try:
        pd.testing.assert_frame_equal(a.cohort_table, b.cohort_table, check_dtype=False, rtol=1e-9)
        for x, y in zip(a.revenue, b.revenue, strict=True):
            pd.testing.assert_frame_equal(x.rows, y.rows, check_dtype=False, rtol=1e-9)
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (a copy), upgraded in place")
    parser.add_argument(
        "--as-of", default=None, help="ISO instant (default: the day after the newest handover)"
    )
    args = parser.parse_args()
    engine = make_engine(f"sqlite:///{args.db}")
    upgrade(engine)
    rows = journal.read_agreement_versions(engine)
    versions = versions_from_rows(rows[rows["agreement"] == rows["agreement"].iloc[0]])
    if args.as_of:
        as_of = pd.Timestamp(args.as_of)
    else:
        newest = queries.read_leads(engine, columns=["mql_at"], per_handover=False)["mql_at"].max()
        as_of = newest.floor("D") + pd.Timedelta(days=1)
    doc = document_in_force(versions, as_of)
    row = period_of(as_of, doc.period, doc.timezone)
    f = Filters(str(row["period"]), row["period_start"], row["period_end"], as_of)
    history_start = history_start_of(versions, as_of)
    team = sorted(queries.read_owners(engine)["team"].dropna().unique())[0]
    by_team = Filters(f.period, f.period_start, f.period_end, as_of, teams=(team,))

    def frames_path():
        lo, hi = data_window(f, history_start)
        read_s, frames = timed(lambda: read_window(engine, lo, hi))
        view_s, view = timed(lambda: funnel_view(versions, frames, f, history_start))
        return read_s, view_s, view, len(frames["leads"]), len(frames["activities"])

    read_s, view_s, from_frames, leads, activities = frames_path()
    sql_s, from_sql = timed(lambda: funnel_view(versions, funnel_history(engine, versions, f, history_start),
                                                f, history_start))  # fmt: skip
    team_s, _ = timed(
        lambda: funnel_view(versions, funnel_history(engine, versions, by_team, history_start), by_team, history_start)
    )  # fmt: skip
    frames_s = read_s + view_s

    print(f"leads_total: {queries.table_counts(engine)['leads']}")
    print(f"as_of: {as_of.isoformat()}")
    print(f"history_start: {history_start.isoformat()}")
    print(f"frames_leads: {leads}")
    print(f"frames_activities: {activities}")
    print(f"frames_read_seconds: {read_s:.3f}")
    print(f"frames_view_seconds: {view_s:.3f}")
    print(f"frames_path_seconds: {frames_s:.3f}")
    print(f"sql_path_seconds: {sql_s:.3f}")
    print(f"sql_path_by_team_seconds: {team_s:.3f}")
    print(f"views_equal: {same(from_sql, from_frames)}")
    print(f"sql_vs_frames: {sql_s / frames_s:.4f}")
    print(f"load_average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
