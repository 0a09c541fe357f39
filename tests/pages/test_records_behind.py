"""Records behind a figure on the Marketing, Sales, Funnel and Overview pages, and the Sales queue people work from.

Each page offers its figures in "Records behind a figure"; the rows it lists are held against a slow count
straight from the repository's frames (not the function the page calls): the leads handed over in the
period, the deals won in it, their amounts, and the figure's own value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.commitments import document_in_force, with_tracked
from analytics.metrics import METRICS
from data import queries
from data.engine import make_engine
from tests.pages.dashboard_oracle import open_page, shown_filters, table, versions
from views.sales import TRACKED_METRICS

PAGES = {"sales": "pages/sales.py", "marketing": "pages/marketing.py", "funnel": "pages/funnel.py",
         "overview": "pages/overview.py"}  # fmt: skip


@pytest.fixture(scope="module", params=list(PAGES))
def drilled(request, demo_db_url, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        yield (
            request.param,
            open_page(patch, tmp_path_factory.mktemp(request.param), demo_db_url, PAGES[request.param]),
        )


def _slow_frames(url: str):
    """Every lead and deal of the database, read plainly (no window, no analytics)."""
    engine = make_engine(url)
    out = queries.read_leads(engine), queries.read_deals(engine), queries.read_owners(engine)
    engine.dispose()
    return out


def _in_period(series: pd.Series, f) -> np.ndarray:
    """Instants in the period and known by as_of."""
    return ((series >= f.period_start) & (series < f.period_end) & (series <= f.as_of)).to_numpy(
        bool, na_value=False
    )


def test_each_page_opens_the_records_behind_its_figures_and_they_add_up_to_the_figure(drilled, demo_db_url):
    name, at = drilled
    key = f"{name}_records_figure"
    box = at.selectbox(key=key)
    options = list(box.options)
    assert options, f"{name}: no figure offered"
    f = shown_filters(at)
    doc = document_in_force(with_tracked(versions(demo_db_url), TRACKED_METRICS), f.as_of)
    commitments = {c.id: c for c in doc.commitments}
    leads, deals, _ = _slow_frames(demo_db_url)
    live_leads = leads[~leads["archived"].fillna(False).astype(bool)]
    live_deals = deals[~deals["archived"].fillna(False).astype(bool)]
    handed_over = live_leads[_in_period(live_leads["mql_at"], f)]
    checked = 0
    for label in options:
        commitment_id = label.split(" — ")[0]
        commitment = commitments[commitment_id]
        if any(v for _, v in commitment.filters.items()):
            continue  # the slow counts below are for unfiltered commitments
        at.selectbox(key=key).set_value(commitment_id).run()
        assert not at.exception, [e.message for e in at.exception]
        metric = METRICS[commitment.metric]
        if metric.table == "leads":
            shown = table(at, "name", "company", "owner")
            if metric.kind == "rate" or commitment.metric == "mql_count":
                # the cohort of the period: every lead handed over in it by as_of, each once per handover
                assert sorted(shown["record"]) == sorted(handed_over["external_id"]), commitment_id
            if commitment.metric == "mql_count":
                assert len(shown) == len(handed_over)
            assert shown["name"].notna().all() and shown["link"].isna().all()  # demo people, no CRM
        else:
            shown = table(at, "name", "owner", "team")
            if commitment.metric == "won_revenue":
                won = live_deals[
                    _in_period(live_deals["closed_at"], f) & live_deals["is_won"].fillna(False).to_numpy(bool)
                ]
                assert sorted(shown["record"]) == sorted(won["external_id"])
                assert shown["amount"].sum() == pytest.approx(won["amount"].fillna(0).sum())
        checked += 1
    assert checked >= 1


def test_a_rate_drilled_on_the_sales_page_has_the_figure_s_met_and_breached(
    monkeypatch, tmp_path, demo_db_url
):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGES["sales"])
    at.selectbox(key="sales_records_figure").set_value("speed-to-lead").run()
    shown = table(at, "name", "company", "owner")
    f = shown_filters(at)
    leads = _slow_frames(demo_db_url)[0].set_index("external_id")
    # The slow rule for each handed-over lead: met when touched within its limit, breached when touched later
    # or when the limit has passed untouched; the drilled statuses add up to the tile's rate.
    met, breached = (shown["status"] == "met").sum(), (shown["status"] == "breached").sum()
    tile = next(t for t in at.metric if t.label == "Follow-up")
    assert tile.value == f"{met / (met + breached):.0%}"
    touched = shown["first_touch"].notna()
    assert (shown.loc[~touched, "status"] != "met").all()
    assert (shown.loc[touched & (shown["hours"] <= 4), "status"] == "met").all()
    assert (shown.loc[touched & (shown["hours"] > 4), "status"] == "breached").all()
    assert (shown["handed_over"].dt.tz_convert("UTC") <= f.as_of).all()
    assert (shown["company"] == leads.loc[shown["record"], "company"].to_numpy()).all()


def test_the_queue_shows_who_each_lead_is_and_overdue_now_counts_what_it_lists(
    monkeypatch, tmp_path, demo_db_url
):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGES["sales"])
    control = at.segmented_control(key="sales_queue_hours")
    assert list(control.options) == ["1 h", "2 h", "4 h (every untouched lead)"]  # the demo's 4-hour limit
    queue = table(at, "lead", "name", "company")
    leads = _slow_frames(demo_db_url)[0].set_index("external_id")
    assert (queue["name"] == leads.loc[queue["lead"], "name"].to_numpy()).all()
    assert (queue["company"] == leads.loc[queue["lead"], "company"].to_numpy()).all()
    assert queue["link"].isna().all()  # demo leads have no CRM record
    assert (
        (queue["hours_left"] * 10).round() == queue["hours_left"] * 10
    ).all()  # rounded, as the CSV has them
    reps = table(at, "owner_id", "owner", "team")
    overdue = queue[queue["hours_left"] < 0]
    assert reps["overdue_untouched"].sum() == len(overdue) > 0
    per_rep = overdue.groupby("owner").size()
    shown = reps.set_index("owner")["overdue_untouched"]
    assert (shown[shown > 0].sort_index() == per_rep.sort_index()).all()
