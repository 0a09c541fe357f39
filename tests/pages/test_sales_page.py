"""The Sales page under AppTest on the demo database: tiles, per-rep tables and the overdue queue are analytics'."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import breakdowns as bd
from analytics import wording
from analytics.commitments import evaluate
from analytics.followup import followup_detail, followup_queue
from data import repository as repo
from data.engine import make_engine
from pages.components.loaders import TRACKED_METRICS
from tests.pages.dashboard_oracle import (
    charts,
    copy_database,
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

PAGE = "pages/sales.py"
RATES = {
    "followed_up_within": "Follow-up",
    "touches_within": "Touches",
    "dispositioned_within": "Disposition",
}


@pytest.fixture(scope="module")
def sales(demo_db_url, tmp_path_factory):
    """The page on the demo company, default filters (the current period), as_of pinned."""
    with pytest.MonkeyPatch.context() as patch:
        yield open_page(
            patch, tmp_path_factory.mktemp("sales"), demo_db_url, PAGE
        )  # the database stays set for reruns


def period_detail(url, f):
    frames = repository_frames(url, f.period_start, f.period_end, f)
    return frames, followup_detail(versions(url), frames, f.as_of, start=f.period_start, end=f.period_end)


def expected_queue(url, f, within_hours=4.0):
    start, end = bd.queue_window(f.as_of)
    frames = repository_frames(url, start, end, f)
    return followup_queue(followup_detail(versions(url), frames, f.as_of, start=start), within_hours)


def assert_tiles(at, url):
    f = shown_filters(at)
    frames, detail = period_detail(url, f)
    tracked = bd.with_tracked(versions(url), TRACKED_METRICS)
    result = evaluate(tracked, frames, f.period_start, f.period_end, f.as_of)
    shown = metrics(at)
    for metric, label in RATES.items():
        row = bd.row_for(result, f.document, metric, f.period)
        assert shown[label] == wording.format_value(row["actual"], "rate")
        noun = wording.metric_noun(bd.find_commitment(f.document, metric))
        assert wording.result_sentence(row, noun=noun) in texts(at)
    overall = bd.followup_by(detail, by=None).iloc[0]
    assert shown["Median first touch"] == wording.format_value(
        overall["median_hours"], "duration", short=True
    )
    assert shown["90th percentile"] == wording.format_value(overall["p90_hours"], "duration", short=True)
    return detail


def test_tiles_are_the_evaluation_of_the_period(sales, demo_db_url):
    detail = assert_tiles(sales, demo_db_url)
    assert len(detail) > 0 and metrics(sales)["Follow-up"].endswith("%")


def test_rep_and_team_tables_are_the_followup_breakdown(sales, demo_db_url):
    f = shown_filters(sales)
    _, detail = period_detail(demo_db_url, f)
    pd.testing.assert_frame_equal(table(sales, "owner_id", "owner", "team"), bd.followup_by(detail, by="owner"),
                                  check_dtype=False)  # fmt: skip
    pd.testing.assert_frame_equal(table(sales, "team", "leads", "met"), bd.followup_by(detail, by="team"),
                                  check_dtype=False)  # fmt: skip
    chart = next(
        spec for title, spec in charts(sales).items() if title.startswith("First touch within 4 business")
    )
    met = next(t for t in chart["data"] if t["name"] == "Met")
    assert trace_values(met["x"]).sum() == (detail["status"] == "met").sum()
    assert {"sales_rep_csv", "sales_team_csv", "sales_queue_csv", "sales_delays_csv"} <= download_keys(sales)


def test_the_queue_lists_the_leads_overdue_or_due_soon(sales, demo_db_url):
    f = shown_filters(sales)
    expected = expected_queue(demo_db_url, f)
    shown = table(sales, "lead", "lead_id", "owner")
    assert len(expected) > 0
    assert shown["lead_id"].tolist() == expected["lead_id"].tolist()
    assert shown["owner"].tolist() == expected["owner"].fillna(bd.UNASSIGNED).tolist()
    overdue = int((expected["hours_left"] < 0).sum())
    assert f"**{overdue} overdue** and **{len(expected) - overdue} due within 4 business hours**." in texts(
        sales
    )
    sales.segmented_control(key="sales_queue_hours").set_value(8).run()
    assert not sales.exception
    wider = table(sales, "lead", "lead_id", "owner")
    assert wider["lead_id"].tolist() == expected_queue(demo_db_url, f, 8.0)["lead_id"].tolist()
    assert len(wider) >= len(shown)
    sales.segmented_control(key="sales_queue_hours").set_value(4).run()


def test_response_times_and_delays(sales, demo_db_url):
    f = shown_filters(sales)
    _, detail = period_detail(demo_db_url, f)
    histogram = next(spec for title, spec in charts(sales).items() if title.startswith("Time to first touch"))
    assert trace_values(histogram["data"][0]["y"]).sum() == detail["business_hours_taken"].notna().sum()
    assert histogram["layout"]["shapes"][0]["x0"] == 4  # the SLA line
    delays = table(sales, "team", "leads", "routed")
    pd.testing.assert_frame_equal(delays, bd.delays_by(detail, by="team"), check_dtype=False)
    assert delays["team"].tolist() == [bd.ALL, "Americas", "EMEA"]
    titles = list(charts(sales))
    assert any(t.startswith("Leads with 3+ touches within 5 business days") for t in titles)
    assert any(t.startswith("Leads accepted or rejected within 2 business days") for t in titles)


def test_a_team_filter_changes_the_numbers(monkeypatch, tmp_path, demo_db_url, sales):
    emea = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, team=["EMEA"])
    assert shown_filters(emea).teams == ("EMEA",)
    detail = assert_tiles(emea, demo_db_url)
    assert set(detail["team"]) == {"EMEA"}
    assert metrics(emea)["Follow-up"] != metrics(sales)["Follow-up"]
    expected = expected_queue(demo_db_url, shown_filters(emea))
    queues = [d.value["lead_id"].tolist() for d in emea.dataframe if d.value.columns[0] == "lead"]
    assert queues == ([expected["lead_id"].tolist()] if len(expected) else [])
    assert set(table(emea, "team", "leads", "met")["team"]) == {"EMEA"}


def test_an_owner_without_leads_gets_sentences(monkeypatch, tmp_path, demo_db_url):
    engine = make_engine(demo_db_url)
    owners, leads = repo.read_owners(engine), repo.read_leads(engine)
    idle = owners[~owners["id"].isin(leads["owner_id"].dropna())]["name"].iloc[0]
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, owner=[idle])
    assert metrics(at)["Follow-up"] == "–" and metrics(at)["Median first touch"] == "–"
    said = " ".join(infos(at))
    assert "No lead was handed over in" in said and idle in said
    assert any(
        s.value.startswith("No lead is overdue or due within the next 4 business hours") for s in at.success
    )
    assert not charts(at)


def test_a_period_without_leads(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, as_of="2020-06-15")
    assert metrics(at)["Follow-up"] == "–"
    assert any(t.startswith("No lead decided yet in June 2020") for t in texts(at))
    assert any("No lead was handed over in June 2020" in i for i in infos(at))


def test_an_agreement_without_a_follow_up_limit(monkeypatch, tmp_path, demo_db_url):
    url = copy_database(demo_db_url, tmp_path)
    current = versions(url)[-1].document
    document = current.to_document()
    document["commitments"] = [c for c in document["commitments"] if c["metric"] != "followed_up_within"]
    document["consequences"] = [q for q in document["consequences"] if q["commitment"] != "speed-to-lead"]
    repo.add_agreement_version(make_engine(url), current.name, document, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                               author="test", reason="no follow-up limit")  # fmt: skip
    # As of just after the save: a version saved after the as-of instant is not used as of it.
    saved = (versions(url)[-1].created_at + pd.Timedelta(seconds=1)).isoformat()
    at = open_page(monkeypatch, tmp_path, url, PAGE, as_of=saved)
    assert metrics(at)["Follow-up"] == "–" and metrics(at)["Touches"].endswith("%")
    assert "The agreement has no follow-up commitment (followed_up_within)." in texts(at)
    assert any(i.endswith("The follow-up sections need that limit.") for i in infos(at))
    assert "sales_queue_csv" not in download_keys(at)


def test_no_data_yet(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path, empty_crm(tmp_path), PAGE)
    assert any(i.startswith("No data yet") for i in infos(at))
    assert not at.metric and not charts(at)
