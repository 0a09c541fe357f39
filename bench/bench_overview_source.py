"""Benchmark: the Overview's view from the database's aggregates against the view from the weeks' rows.

Run: ``.venv/bin/python bench/bench_overview_source.py --db /tmp/b1m.db`` (an SQLite file; a copy keeping
its SLA facts is made beside it when it keeps none: ``<name>.facts.db``) or ``--url postgresql+psycopg://...``
(a database that keeps them: ``cli.py db facts``). ``--repeat N`` (default 3), ``--week 2026-W48`` (default:
the last closed week at the data's newest handover).

As of the data's newest handover, :func:`views.overview.overview_view` of the week and its agreement period,
built in process as the page's loader builds it, in the same run:

- ``overview_rows``: the window's frames read (``data.frames.read_window`` of ``data_window``), then the view
  from them (what the page did before, and does where the database keeps no facts);
- ``overview_database``: the view from :class:`data.stored_evaluation.StoredEvaluation` (GROUP BY queries);
- both again for one team (``_team``).

Best of ``--repeat`` rounds each, interleaved; each round starts from nothing cached (a new evaluation, frames
read again). The two views' figures are checked equal. Prints ``name: value`` lines, the ratios last.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force  # noqa: E402
from analytics.periods import last_closed_week  # noqa: E402
from data import fact_upkeep, journal, queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from data.frames import read_window  # noqa: E402
from data.stored_evaluation import StoredEvaluation  # noqa: E402
from views.filters import filters_for  # noqa: E402
from views.overview import data_window, overview_view  # noqa: E402


def _engine(db: Path | None, url: str | None):
    if url:
        engine = make_engine(url)
    else:
        if not fact_upkeep.kept(make_engine(f"sqlite:///{db}")):
            copy = db.with_suffix(".facts.db")
            if not copy.exists():
                shutil.copy(db, copy)
                print(f"building the SLA facts on {copy}", flush=True)
                engine = make_engine(f"sqlite:///{copy}")
                upgrade(engine)
                fact_upkeep.refresh_all(engine)
            db = copy
        engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    if not fact_upkeep.kept(engine):
        raise SystemExit("this database keeps no SLA facts: run cli.py db facts on it (or on a copy) first")
    return engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--week")
    args = parser.parse_args()
    if not (args.db or args.url):
        parser.error("give --db PATH or --url URL")
    engine = _engine(args.db, args.url)
    rows = journal.read_agreement_versions(engine)
    name = sorted(rows["agreement"].unique())[0]
    versions = versions_from_rows(rows[rows["agreement"] == name])
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max().ceil("min")
    doc = document_in_force(versions, as_of)
    week = args.week or last_closed_week(as_of, doc.timezone)
    team = sorted(queries.read_owners(engine)["team"].dropna().unique())[0]
    print(f"leads: {queries.table_counts(engine)['leads']}")
    print(f"week: {week}\nas_of: {as_of.isoformat()}")

    def from_rows(f):
        return overview_view(versions, read_window(engine, *data_window(versions, f, week)), None, f, week)

    def from_database(f):
        return overview_view(versions, StoredEvaluation(engine), None, f, week)

    cases = {"": filters_for(versions, as_of), "_team": filters_for(versions, as_of, teams=(team,))}
    paths = {"rows": from_rows, "database": from_database}
    results = {}
    for suffix, f in cases.items():
        best = dict.fromkeys(paths, math.inf)
        views = {}
        for _ in range(args.repeat):
            for kind, build in paths.items():  # interleaved: each round meets the same machine
                started = time.perf_counter()
                views[kind] = build(f)
                best[kind] = min(best[kind], time.perf_counter() - started)
        pd.testing.assert_frame_equal(views["database"].figures_csv, views["rows"].figures_csv, check_exact=False,
                                      rtol=1e-12)  # fmt: skip
        for kind, value in best.items():
            results[f"overview_{kind}{suffix}_s"] = value
            print(f"overview_{kind}{suffix}_s: {value:.3f}", flush=True)
        results[f"overview_database_vs_rows{suffix}_ratio"] = best["database"] / best["rows"]
    for key, value in results.items():
        if key.endswith("_ratio"):
            print(f"{key}: {value:.3f}")


if __name__ == "__main__":
    main()
