"""The Marketing page's cold cost with its history read as rows (the old path) and aggregated in SQL (the new).

In-process, nothing cached, on a copy of a demo database (upgraded to the newest schema first):

- old: read the 15 periods of the trend (the loader's shared window, 38 days' tail) and cut the period
  from them, then build the view from the history frames (``views.marketing.history_from_frames``);
- new: read the period's window only, the history from ``data.aggregates.history_figures``, then the view.

Both paths run twice, alternating, as of the newest handover of the data; both views are checked equal
on their figures. Prints ``name: value`` lines and the ratio old / new of the same run.

    .venv/bin/python bench/bench_history.py /tmp/b100k.db
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force  # noqa: E402
from analytics.periods import period_of  # noqa: E402
from data import aggregates, journal, queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from data.frames import cut_window, read_window  # noqa: E402
from views.filters import filters_for  # noqa: E402
from views.marketing import marketing_view  # noqa: E402

SHARED_TAIL = pd.Timedelta(days=38)  # pages.components.loaders: a long window is read this much further


def run(path: str, rounds: int = 2) -> dict[str, float]:
    """Time the old and the new path ``rounds`` times each on a copy of the SQLite file at ``path``."""
    folder = Path(tempfile.mkdtemp(prefix="bench_history_"))
    copy = folder / "accord.db"
    shutil.copy(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    upgrade(engine)
    versions = versions_from_rows(journal.read_agreement_versions(engine))
    as_of = queries.read_leads(engine, columns=["mql_at"], per_handover=False)["mql_at"].max()
    doc = document_in_force(versions, as_of)
    history_start = period_of(as_of - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"]
    f = filters_for(versions, as_of)
    out: dict[str, float] = {"leads": float(queries.table_counts(engine)["leads"])}
    views = {}

    def old():
        history = read_window(engine, history_start, f.period_end + SHARED_TAIL)
        period = cut_window(history, f.period_start, f.period_end)
        return marketing_view(versions, period, history, f, history_start)

    def new():
        period = read_window(engine, f.period_start, f.period_end)
        history = aggregates.history_figures(engine, versions, f, history_start)
        return marketing_view(versions, period, history, f, history_start)

    try:
        for round_ in range(1, rounds + 1):
            for name, build in (("old", old), ("new", new)):
                started = time.perf_counter()
                views[name] = build()
                out[f"{name}_marketing_cold_s_{round_}"] = time.perf_counter() - started
            out[f"ratio_old_over_new_{round_}"] = (
                out[f"old_marketing_cold_s_{round_}"] / out[f"new_marketing_cold_s_{round_}"]
            )
        started = time.perf_counter()
        aggregates.history_figures(engine, versions, f, history_start)
        out["new_history_queries_s"] = time.perf_counter() - started
        same = views["old"].figures().equals(views["new"].figures())
        out["figures_equal"] = float(same)
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="a SQLite demo database file (copied, never written)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    out = run(args.db, args.rounds)
    for name, value in out.items():
        print(f"{name}: {value:.3f}")
    return out


if __name__ == "__main__":
    main()
