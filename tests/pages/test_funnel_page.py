"""The Funnel page under AppTest on the demo database: the cohort funnel and revenue are the analytics layer's."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import wording
from analytics.commitments import evaluate, row_for, tracked_commitment, with_tracked
from analytics.funnel import funnel, funnel_totals
from tests.pages.dashboard_oracle import (
    charts,
    download_keys,
    empty_crm,
    infos,
    metrics,
    open_page,
    repository_frames,
    shown_filters,
    table,
    texts,
    trace_values,
    versions,
)
from views.sales import TRACKED_METRICS

PAGE = "pages/funnel.py"


@pytest.fixture(scope="module")
def funnel_page(demo_db_url, tmp_path_factory):
    """The page on the demo company, default filters (the current period), as_of pinned."""
    with pytest.MonkeyPatch.context() as patch:
        yield open_page(
            patch, tmp_path_factory.mktemp("funnel"), demo_db_url, PAGE
        )  # the database stays set for reruns


def expected_cohorts(url, f):
    # Deals up to as_of: a closed period's cohort counts the deals created since (all by now).
    frames = repository_frames(url, f.history_start, max(f.period_end, f.as_of + pd.Timedelta(1, "us")), f)
    return frames, funnel(versions(url), frames, f.history_start, f.period_end, f.as_of)


def assert_stages(at, url):
    f = shown_filters(at)
    _, cohorts = expected_cohorts(url, f)
    totals = funnel_totals(cohorts[cohorts["period"] == f.period])
    shown = metrics(at)
    assert [shown[stage] for stage in totals["stage"]] == [f"{int(n):,}" for n in totals["leads"]]
    return cohorts, totals


def test_the_cohort_of_the_period(funnel_page, demo_db_url):
    cohorts, totals = assert_stages(funnel_page, demo_db_url)
    assert totals["leads"].iloc[0] > 0
    chart = next(
        spec for title, spec in charts(funnel_page).items() if title.startswith("Funnel of the leads")
    )
    assert trace_values(chart["data"][0]["x"]).tolist() == totals["leads"].tolist()
    target = next(t for t in chart["data"] if t["name"] == "Target")
    assert list(target["y"]) == ["MQL"] and trace_values(target["x"]).tolist() == [750]  # the MQL target
    f = shown_filters(funnel_page)
    row = cohorts[cohorts["period"] == f.period].iloc[0]
    for column, label in (("days_mql_to_sql", "MQL → SQL"), ("days_opportunity_to_won", "Opportunity → won")):
        assert metrics(funnel_page)[label] == ("–" if pd.isna(row[column]) else f"{row[column]:.1f} days")


def test_the_cohort_table_and_charts_cover_the_offered_periods(funnel_page, demo_db_url):
    f = shown_filters(funnel_page)
    _, cohorts = expected_cohorts(demo_db_url, f)
    shown = table(funnel_page, "period", "mql", "sql")
    expected = cohorts.drop(columns=["period_start", "period_end"])
    rates = ["mql_to_sql", "sql_to_opportunity", "opportunity_to_won", "mql_to_won"]
    pd.testing.assert_frame_equal(shown.drop(columns=rates), expected.drop(columns=rates), check_dtype=False)
    for column in rates:  # written the one way Accord writes a rate
        assert shown[column].tolist() == [
            wording.format_value(r, "rate", missing="— (none)") for r in expected[column]
        ]
    assert len(shown) == 15
    titles = list(charts(funnel_page))
    assert any(t.startswith("Conversion by handover period") for t in titles)
    assert any(t.startswith("Median days between stages") for t in titles)
    assert "funnel_cohort_csv" in download_keys(funnel_page)


def test_pipeline_and_won_revenue_against_target(funnel_page, demo_db_url):
    f = shown_filters(funnel_page)
    frames = repository_frames(demo_db_url, f.period_start, f.period_end, f)
    tracked = with_tracked(versions(demo_db_url), TRACKED_METRICS)
    result = evaluate(tracked, frames, f.period_start, f.period_end, f.as_of)
    for metric in ("sourced_pipeline", "won_revenue"):
        row = row_for(result, f.document, metric, f.period)
        noun = wording.metric_noun(tracked_commitment(f.document, metric))
        assert wording.result_sentence(row, noun=noun, currency="EUR") in texts(funnel_page)
    shown = charts(funnel_page)
    pipeline = next(spec for title, spec in shown.items() if title.startswith("Sourced pipeline by period"))
    target = next(t for t in pipeline["data"] if t["name"] == "Target")
    assert set(trace_values(target["y"]).tolist()) == {5_000_000}
    won = next(spec for title, spec in shown.items() if title.startswith("Won revenue by period"))
    assert (
        next(t for t in won["data"] if t["name"] == "Target")["showlegend"] is False
    )  # no target: no legend
    assert {"funnel_sourced_pipeline_csv", "funnel_won_revenue_csv"} <= download_keys(funnel_page)


def test_a_channel_filter_changes_the_funnel(monkeypatch, tmp_path, demo_db_url, funnel_page):
    events = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, channel=["Events"])
    assert shown_filters(events).channels == ("Events",)
    _, totals = assert_stages(events, demo_db_url)
    assert totals["leads"].iloc[0] < int(metrics(funnel_page)["MQL"].replace(",", ""))


def test_a_period_without_leads(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, as_of="2020-06-15")
    said = " ".join(infos(at))
    assert "No lead was handed over in June 2020" in said and "the cohort is empty" in said
    assert "No deal was opened or closed between" in said
    assert not charts(at)


def test_no_data_yet(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path, empty_crm(tmp_path), PAGE)
    assert any(i.startswith("No data yet") for i in infos(at))
    assert not at.metric and not charts(at)


def test_won_deals_without_an_amount_are_counted_and_said(monkeypatch, tmp_path, demo_db_url):
    import streamlit as st
    from sqlalchemy import text

    from data.engine import make_engine
    from tests.pages.dashboard_oracle import copy_database

    url = copy_database(demo_db_url, tmp_path)
    first = open_page(monkeypatch, tmp_path, url, PAGE)
    f = shown_filters(first)
    engine = make_engine(url)
    start_us = int(f.period_start.timestamp() * 1_000_000)
    end_us = int(min(f.period_end, f.as_of).timestamp() * 1_000_000)
    with engine.begin() as conn:  # a CRM that leaves the amount of some won deals empty
        won = (
            conn.execute(
                text(
                    "SELECT id FROM deals WHERE is_won = 1 AND closed_at >= :s AND closed_at < :e ORDER BY id"
                ),
                {"s": start_us, "e": end_us},
            )
            .scalars()
            .all()
        )
        blank = won[::2]
        for deal in blank:
            conn.execute(text("UPDATE deals SET amount = NULL WHERE id = :id"), {"id": deal})
    engine.dispose()
    assert len(won) >= 2
    st.cache_data.clear()  # the first run cached this database's view (a resource, cleared below)
    st.cache_resource.clear()
    at = open_page(monkeypatch, tmp_path, url, PAGE)
    said = [w.value for w in at.warning]
    assert f"{len(blank):,} of {len(won):,} won deals closed in" in " ".join(said), said
    # still counted as won deals: the period's won revenue counts every one of them
    frames = repository_frames(url, f.period_start, f.period_end, f)
    tracked = with_tracked(versions(url), TRACKED_METRICS)
    row = row_for(evaluate(tracked, frames, f.period_start, f.period_end, f.as_of), f.document, "won_revenue",
                     f.period)  # fmt: skip
    assert int(row["n"]) == len(won)
