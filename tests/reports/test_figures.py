"""``cli.py figures`` on SQLite and PostgreSQL: the window each view reads gives the figures of all the data."""

from __future__ import annotations

import pandas as pd

from bootstrap import load_demo_if_empty
from data import queries
from reports.figures import PAGES, history_start_of, page_figures
from reports.weeks import agreement_to_use, versions_of
from views.filters import filters_for
from views.funnel import funnel_view
from views.marketing import marketing_view
from views.overview import overview_view, week_choices
from views.sales import sales_view


def everything(engine) -> dict[str, pd.DataFrame]:
    """Every row of every canonical table: no window at all."""
    return {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine),
        "deals": queries.read_deals(engine),
        "activities": queries.read_activities(engine),
    }


def test_each_page_reads_the_figures_of_all_the_data(engine):
    load_demo_if_empty(engine, leads=600)
    agreement = agreement_to_use(engine, None)
    versions = versions_of(engine, agreement)
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max() + pd.Timedelta(hours=1)
    f = filters_for(versions, as_of, teams=("EMEA",))
    frames, start = everything(engine), history_start_of(versions, as_of)
    week = week_choices(versions, f)[0]
    whole = {
        "overview": overview_view(versions, frames, None, f, week).figures(),
        "marketing": marketing_view(versions, frames, frames, f, start).figures(),
        "sales": sales_view(versions, frames, frames, f).figures(),
        "funnel": funnel_view(versions, frames, f, start).figures(),
    }
    for page in PAGES:
        read = page_figures(engine, agreement, page, f, week)
        assert len(read) > 0, page
        pd.testing.assert_frame_equal(read, whole[page], obj=page)
