"""The Sales page's week: per-rep follow-up of an ISO week against the slow row-by-row oracle, and the tiles
equal to the Overview's week figures (one definition), provisional while a closed week's windows run."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.agreement import versions_from_rows
from analytics.snapshots import evaluate_weeks
from data import journal
from data.engine import make_engine
from data.frames import read_window
from tests.views.oracle import follow_up_by_rep
from tests.views.test_sales_view import assert_view_matches_the_oracle
from views.filters import filters_for
from views.sales import judging_versions, sales_view, week_filters

AGREEMENT = "Sales and Marketing SLA"
MONDAY_MORNING = pd.Timestamp("2026-11-16 10:00", tz="Europe/Berlin").tz_convert("UTC")


@pytest.fixture(scope="module")
def demo(demo_db_url):
    engine = make_engine(demo_db_url)
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    frames = read_window(
        engine, MONDAY_MORNING - pd.Timedelta(days=70), MONDAY_MORNING + pd.Timedelta(days=7)
    )
    return versions, frames


@pytest.mark.parametrize(
    "week", ["2026-W47", "2026-W46", "2026-W44", "2026-W40"]
)  # W44 and W40 span 2 months
@pytest.mark.parametrize("teams", [(), ("EMEA",)])
def test_a_week_per_rep_is_the_leads_judged_by_hand(demo, week, teams):
    versions, frames = demo
    f = week_filters(versions, filters_for(versions, MONDAY_MORNING, teams=teams), week)
    assert f.period == week and f.period_end - f.period_start <= pd.Timedelta(days=7, hours=1)
    # The oracle judges the week's leads by the version in force at its start, from the saved versions.
    table = sales_view(versions, frames, frames, f).per_rep.set_index("owner")
    expected = follow_up_by_rep(versions, f.slice(frames), f.period_start, f.period_end, f.as_of)
    judged = table[["met", "breached", "pending"]].sum(axis=1) > 0
    assert len(expected) and sorted(table.index[judged]) == sorted(expected)
    # The other rows are reps with overdue leads in the queue (about now) and none handed over in the week.
    assert (table.loc[~judged, "overdue_untouched"] > 0).all()
    for rep, counts in expected.items():
        assert tuple(table.loc[rep, ["met", "breached", "pending"]]) == tuple(counts.values()), rep
    if not teams:  # (that helper's oracle reads the whole frames)
        # Chart, table, figures and evaluate agree when the week is judged as a weekly agreement.
        assert_view_matches_the_oracle(judging_versions(versions, f), frames, f)


@pytest.mark.parametrize("week", ["2026-W46", "2026-W44"])
def test_the_week_tiles_are_the_overviews_week_figures(demo, week):
    versions, frames = demo
    f = week_filters(versions, filters_for(versions, MONDAY_MORNING), week)
    view = sales_view(versions, frames, frames, f)
    overview = evaluate_weeks(versions, frames, [week], MONDAY_MORNING).set_index("metric")
    for tile in view.tiles:
        if tile.row is None:
            continue
        row = overview.loc[tile.metric]
        assert tile.row["period"] == week
        assert (tile.row["met"], tile.row["breached"], tile.row["pending"]) == (
            row["met"], row["breached"], row["pending"]
        )  # fmt: skip
        assert tile.row["status"] == row["status"]
        assert (
            pd.isna(tile.row["actual"])
            and pd.isna(row["actual"])
            or tile.row["actual"] == pytest.approx(row["actual"])
        )


def test_a_week_just_closed_whose_windows_still_run_is_provisional(demo):
    versions, frames = demo
    f = week_filters(versions, filters_for(versions, MONDAY_MORNING), "2026-W46")
    view = sales_view(versions, frames, frames, f)
    disposition = next(t for t in view.tiles if t.metric == "dispositioned_within")
    assert disposition.row["period_state"] == "provisional" or disposition.row["pending"] > 0
    assert disposition.row["status"] not in ("met", "missed")
