"""``python cli.py figures``: every figure a page shows for some filters, as JSON or CSV, from the pages' views.

Each row: page, scope (week / period), commitment, period, slice, actual,
target, gap, status, met, breached, pending — the same numbers the dashboard
shows for the same filters, so other tools can read them and anyone can check.
Exit codes: 0 on success, 1 when the agreement, period, week or database cannot
be used (one line on stderr says why).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from analytics.agreement import AgreementError
from analytics.commitments import EvaluationError
from analytics.periods import WeekError
from analytics.snapshots import SnapshotError
from data import journal, queries
from data.frames import read_window
from data.stored_evaluation import answered
from data.transactions import StorageError
from reports.command import WEEK_HELP, _instant, _now, _week
from views.figures import FIGURE_COLUMNS
from views.filters import FilterError, Filters, filters_for
from views.sales import queue_window

PAGES = ("overview", "marketing", "sales", "funnel")
HISTORY_PERIODS = 15  # the periods the Marketing and Funnel pages look back over (pages.components.filters)


def add_figures_command(subparsers) -> None:
    """Add the ``figures`` command: every figure the pages show, as data."""
    parser = subparsers.add_parser(
        "figures",
        help="print every figure the pages show for some filters (JSON or CSV)",
        description="Print every figure a page shows for the given filters: commitment, period, slice, actual, "
        "target, gap, status, met / breached / pending. The numbers come from the pages' own views.",
    )
    parser.add_argument("--period", help="the agreement's period, e.g. 2026-11 (default: the current one)")
    parser.add_argument("--week", type=_week, help=WEEK_HELP.replace("the last week that has ended",
                                                                     "the week the Overview opens on"))  # fmt: skip
    parser.add_argument("--sales-week", action="store_true",
                        help="the Sales page's figures of --week (as the page's 'Week' choice), not of the period")  # fmt: skip
    parser.add_argument("--team", action="append", default=[], help="a team (repeat for several)")
    parser.add_argument(
        "--owner", action="append", default=[], help="an owner's id or name (repeat for several)"
    )
    parser.add_argument("--channel", action="append", default=[], help="a channel (repeat for several)")
    parser.add_argument("--as-of", type=_instant, help="the instant to show the figures as of (default: now)")
    parser.add_argument(
        "--page", choices=PAGES, action="append", help="only this page (repeat; default: all)"
    )
    parser.add_argument("--agreement", help="the agreement's name (default: the only one saved)")
    parser.add_argument(
        "--format", choices=("json", "csv"), default="json", help="output format (default json)"
    )
    parser.set_defaults(func=run_figures)


def owner_ids(engine: Engine, owners: Sequence[str]) -> tuple[int, ...]:
    """Return the ids of ``owners`` given as ids or names; StorageError names one that is neither."""
    if not owners:
        return ()
    known = queries.read_owners(engine)
    by_name = dict(zip(known["name"].astype(str), known["id"].astype(int), strict=False))
    ids = set(known["id"].dropna().astype(int))
    out = []
    for owner in owners:
        if owner.strip().isdigit() and int(owner) in ids:
            out.append(int(owner))
        elif owner in by_name:
            out.append(by_name[owner])
        else:
            raise StorageError(f"no owner with id or name {owner!r}")
    return tuple(out)


def page_figures(
    engine: Engine, agreement: str, page: str, f: Filters, week: str | None = None, sales_week: bool = False
) -> pd.DataFrame:
    """Return the figure rows of ``page`` for ``f`` (its view's ``figures()``), read from the database."""
    from reports.weeks import versions_of

    versions = versions_of(engine, agreement)
    if page == "overview":
        from views.overview import data_window, opening_week, overview_view, week_choices

        weeks = week_choices(versions, f)
        chosen = week or opening_week(versions, f)
        if chosen not in weeks:
            raise SnapshotError(
                f"{chosen} is not one of the last {len(weeks)} weeks; weeks: {', '.join(weeks)}"
            )
        snapshots = None if f.sliced else journal.read_snapshots(engine, agreement)
        return answered(
            engine,
            lambda data: overview_view(versions, data, snapshots, f, chosen),
            lambda: read_window(engine, *data_window(versions, f, chosen)),
        ).figures()
    if page == "sales":
        from views.overview import opening_week
        from views.sales import sales_view, week_filters

        if sales_week:  # the page's week choice: the week the Overview opens on unless --week names one
            f = week_filters(versions, f, week or opening_week(versions, f))

        frames = read_window(engine, f.period_start, f.period_end)
        queue = read_window(engine, *queue_window(f.as_of))
        return sales_view(versions, frames, queue, f).figures()
    history_start = history_of(versions, f)
    if page == "marketing":
        from views.marketing import marketing_view

        frames = read_window(engine, f.period_start, f.period_end)
        history = read_window(engine, history_start, f.period_end)
        return marketing_view(versions, frames, history, f, history_start).figures()
    if page == "funnel":
        from views.funnel import data_window, funnel_view

        return funnel_view(
            versions, read_window(engine, *data_window(f, history_start)), f, history_start
        ).figures()
    raise ValueError(f"unknown page {page!r}; pages: {', '.join(PAGES)}")


def history_start_of(versions, as_of: pd.Timestamp) -> pd.Timestamp:
    """The start of the oldest period the pages offer at ``as_of``, as the sidebar computes it."""
    from analytics.commitments import document_in_force
    from analytics.periods import period_grid

    doc = document_in_force(versions, as_of)
    months = HISTORY_PERIODS * 3 if doc.period == "quarter" else HISTORY_PERIODS
    grid = period_grid(doc.period, doc.timezone, as_of - pd.DateOffset(months=months),
                       as_of + pd.Timedelta(microseconds=1))  # fmt: skip
    return grid.tail(HISTORY_PERIODS)["period_start"].min()


def history_of(versions, f: Filters) -> pd.Timestamp:
    return history_start_of(versions, f.as_of)


def as_json(figures: pd.DataFrame) -> str:
    """The figure rows as a JSON list of objects (missing numbers as null)."""
    records = figures.astype(object).where(figures.notna(), None).to_dict("records")
    return json.dumps(records, indent=1, default=lambda v: v.item() if isinstance(v, np.generic) else str(v))


def run_figures(args) -> int:
    """Handle ``figures``; returns the exit code."""
    from reports.command import _engine
    from reports.weeks import agreement_to_use, versions_of

    try:
        engine = _engine()
        as_of = _now(args)
        agreement = agreement_to_use(engine, args.agreement)
        versions = versions_of(engine, agreement)
        f = filters_for(versions, as_of, args.period, teams=tuple(args.team),
                        owners=owner_ids(engine, args.owner), channels=tuple(args.channel))  # fmt: skip
        parts = [
            page_figures(engine, agreement, page, f, args.week, args.sales_week)
            for page in (args.page or PAGES)
        ]
    except (SnapshotError, WeekError, AgreementError, EvaluationError, StorageError, FilterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures = pd.concat(parts, ignore_index=True)[FIGURE_COLUMNS]
    if args.format == "csv":
        sys.stdout.write(figures.to_csv(index=False))
    else:
        print(as_json(figures))
    return 0
