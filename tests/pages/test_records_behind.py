"""Records behind a figure on the Marketing, Sales, Funnel and Overview pages, and the Sales queue people work from.

Each page offers its figures in "Records behind a figure"; the rows it lists are held against a slow count
straight from the repository's frames (not the function the page calls): the leads handed over in the
period, the deals won in it, their amounts, and the figure's own value.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.commitments import document_in_force, with_tracked
from analytics.funnel import STAGE_LABELS, STAGES
from analytics.metrics import METRICS
from analytics.periods import week_row
from analytics.wording import commitment_title
from data import journal, queries, upserts
from data.engine import make_engine
from pages.components import loaders
from pages.components import records as records_component
from tests.pages.dashboard_oracle import (
    APP,
    copy_database,
    download_keys,
    open_page,
    shown_filters,
    table,
    versions,
)
from tests.pages.test_data_page import downloaded, media  # noqa: F401 (media: a fixture)
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
        if commitment_id not in commitments or "(this week" in label:
            continue  # the Funnel's stages and the Overview's weeks: the tests below
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


def _slow_stages(url: str, f) -> pd.DataFrame:
    """Per lead handed over in the period by as_of: whether it reached SQL, opportunity and won by as_of.

    Read plainly from the repository: SQL once ``sql_at`` has passed or a deal exists, opportunity once a deal
    of the lead was created, won once one of them was closed won (also after a closed period's end).
    """
    leads, deals, _ = _slow_frames(url)
    leads = leads[~leads["archived"].fillna(False).astype(bool)]
    deals = deals[~deals["archived"].fillna(False).astype(bool)]
    cohort = leads[_in_period(leads["mql_at"], f)].copy()
    known = deals[(deals["created_at"] <= f.as_of).to_numpy(bool, na_value=True)]
    won = known[
        known["is_won"].fillna(False).to_numpy(bool)
        & (known["closed_at"] <= f.as_of).to_numpy(bool, na_value=False)
    ]
    has_deal = cohort["id"].isin(known["lead_id"].dropna())
    cohort["won"] = cohort["id"].isin(won["lead_id"].dropna())
    cohort["opportunity"] = has_deal | cohort["won"]
    cohort["sql"] = (cohort["sql_at"] <= f.as_of).fillna(False).to_numpy(bool) | cohort["opportunity"]
    cohort["mql"] = True
    return cohort


def test_each_funnel_stage_count_opens_the_leads_it_counts(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGES["funnel"])
    cohorts = table(at, "period", "mql", "sql").set_index("period")  # every cohort, as known now
    reached_won = False
    for period in list(at.selectbox(key="period").options)[:3]:  # the current period and older cohorts
        at.selectbox(key="period").set_value(period).run()
        options = list(at.selectbox(key="funnel_records_figure").options)
        stages = [o.split(" — ")[0] for o in options if " leads handed over in " in o]
        assert stages == [STAGE_LABELS[s] for s in STAGES], options
        f = shown_filters(at)
        assert f.period == period
        slow = _slow_stages(demo_db_url, f)
        sizes = []
        for stage in STAGES:
            at.selectbox(key="funnel_records_figure").set_value(f"funnel-{stage}").run()
            assert not at.exception, [e.message for e in at.exception]
            shown = table(at, "name", "company", "owner")
            tile = next(m for m in at.metric if m.label == STAGE_LABELS[stage])
            assert tile.value == f"{len(shown):,}", (period, stage)  # the drilled rows are the tile's count
            assert len(shown) == cohorts.loc[period, stage], (period, stage)  # and the cohort table's
            assert sorted(shown["record"]) == sorted(slow.loc[slow[stage], "external_id"]), (period, stage)
            assert list(shown.columns[:9]) == ["name", "company", "owner", "team", "channel", "handed_over", "sql",
                                               "opportunity", "won"]  # fmt: skip
            if stage in ("opportunity", "won"):
                assert shown[stage].notna().all(), stage  # when the lead reached it
            assert "funnel_records_csv" in download_keys(at)
            sizes.append(len(shown))
        assert sizes == sorted(sizes, reverse=True) and sizes[1] > 0  # each stage within the one before
        reached_won |= sizes[-1] > 0
    assert reached_won  # an older cohort has won deals to list


def test_the_overview_opens_the_records_behind_its_week_figures(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGES["overview"])
    weeks = list(at.selectbox(key="week").options)
    leads = _slow_frames(demo_db_url)[0]
    leads = leads[~leads["archived"].fillna(False).astype(bool)]
    checked = []
    for week in weeks[:2]:  # the current week and a closed one
        at.selectbox(key="week").set_value(week).run()
        f = shown_filters(at)
        doc = document_in_force(with_tracked(versions(demo_db_url), TRACKED_METRICS), f.as_of)
        commitments = {c.id: c for c in doc.commitments}
        row = week_row(week, doc.timezone)
        options = list(at.selectbox(key="overview_records_figure").options)
        assert any(o.endswith(f"(this week, {week})") for o in options), options
        assert any("(this period, " in o for o in options), options
        for label in [o for o in options if o.endswith(f"(this week, {week})")]:
            commitment = commitments[label.split(" — ")[0]]
            metric = METRICS[commitment.metric]
            if metric.table != "leads" or any(v for _, v in commitment.filters.items()):
                continue  # the slow counts below are for unfiltered lead commitments
            at.selectbox(key="overview_records_figure").set_value(f"week:{commitment.id}").run()
            assert not at.exception, [e.message for e in at.exception]
            shown = table(at, "name", "company", "owner")
            figure = label.split(" — ")[1].removesuffix(f" (this week, {week})")
            # A count as of the week's close (or now), a rate as known now: the week's handovers by then.
            at_close = min(f.as_of, row["period_end"]) if metric.kind == "count" else f.as_of
            handed = (leads["mql_at"] >= row["period_start"]) & (leads["mql_at"] < row["period_end"])
            handed &= leads["mql_at"] <= at_close
            week_leads = leads[handed.to_numpy(bool, na_value=False)]
            if commitment.metric == "mql_count":
                assert figure.split(" ")[0] == f"{len(shown):,}" and len(shown) == len(week_leads)
                card = [
                    m.value for m in at.metric if m.label == f"**{commitment_title(commitment.id)}** · {week}"
                ]
                assert card and card[0].split(" ")[0] == f"{len(shown):,}", card  # the card's week figure
                assert sorted(shown["record"]) == sorted(week_leads["external_id"])
            elif metric.kind == "rate":
                assert sorted(shown["record"]) == sorted(week_leads["external_id"])
                met, breached = (shown["status"] == "met").sum(), (shown["status"] == "breached").sum()
                if met + breached:
                    assert figure == f"{met / (met + breached):.0%}", commitment.id
            else:
                continue
            checked.append(metric.kind)
    assert checked.count("count") == 2 and "rate" in checked, checked


def test_a_frozen_week_s_records_are_the_rows_as_known_now_and_say_so(monkeypatch, tmp_path, demo_db_url):
    url = copy_database(demo_db_url, tmp_path)
    engine = make_engine(url)
    at = AppTest.from_file(APP, default_timeout=120)
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    at.switch_page(PAGES["overview"]).run()  # live (no as_of): opening it freezes the last closed week
    snapshot = journal.read_snapshots(engine, "Sales and Marketing SLA")
    assert snapshot["final"].all() and len(snapshot) == 1
    week = snapshot["week"].iloc[0]
    frozen = {r["commitment"]: r["actual"] for r in snapshot["figures"].iloc[0] if r["scope"] == "week"}
    # Two late leads of that week arrive after it was frozen; a sync clears the cached figures.
    start = pd.Timestamp(next(r for r in snapshot["figures"].iloc[0] if r["scope"] == "week")["period_start"])
    late = pd.DataFrame({"source": "late", "external_id": ["late-1", "late-2"],
                         "created_at": start + pd.Timedelta(hours=33), "mql_at": start + pd.Timedelta(hours=34)})  # fmt: skip
    upserts.upsert_leads(engine, late)
    engine.dispose()
    loaders.clear()

    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["week"] = week
    again.switch_page(PAGES["overview"]).run()
    assert not again.exception, [e.message for e in again.exception]
    label = next(o for o in again.selectbox(key="overview_records_figure").options if o.startswith("mql-volume —")
                 and o.endswith(f"(this week, {week})"))  # fmt: skip
    assert (
        label.split(" — ")[1].split(" ")[0] == f"{frozen['mql-volume']:,.0f}"
    )  # the frozen figure is offered
    again.selectbox(key="overview_records_figure").set_value("week:mql-volume").run()
    shown = table(again, "name", "company", "owner")
    assert len(shown) == frozen["mql-volume"] + 2 and {"late-1", "late-2"} <= set(shown["record"])
    assert any("these records are the rows as known now" in c.value for c in again.caption)
    # A figure of the period is not frozen: no such caption.
    again.selectbox(key="overview_records_figure").set_value("mql-volume").run()
    assert not any("these records are the rows as known now" in c.value for c in again.caption)


def test_a_long_list_of_records_shows_a_readable_page_of_rows_and_the_csv_keeps_every_one(
    monkeypatch,
    tmp_path,
    demo_db_url,
    media,  # noqa: F811 (the fixture imported above)
):
    monkeypatch.setattr(records_component, "ROW_LIMIT", 25)  # the demo's month has hundreds of leads
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGES["sales"])
    at.selectbox(key="sales_records_figure").set_value("speed-to-lead").run()
    sentence = next(c.value for c in at.caption if c.value.startswith("The "))
    behind = int(re.match(r"The ([\d,]+) leads", sentence).group(1).replace(",", ""))
    assert behind > 25
    assert len(table(at, "name", "company", "owner")) == 25
    assert any(
        c.value == f"Showing the first 25 of {behind:,} records: the CSV below has every one."
        for c in at.caption
    )
    button = next(b for b in at.get("download_button") if b.key == "sales_records_csv")
    assert len(pd.read_csv(io.BytesIO(downloaded(media, button)))) == behind
