"""The Sales page under AppTest on the demo database draws its view: tiles, per-rep tables, the overdue queue.

The view's numbers are held against a slow row-by-row oracle in tests/views/test_sales_view.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import wording
from analytics.groups import ALL
from data import journal, queries
from data.engine import make_engine
from data.frames import ACTIVITY_TAIL
from tests.pages.dashboard_oracle import (
    charts,
    copy_database,
    download_keys,
    empty_crm,
    infos,
    metrics,
    open_page,
    shown_filters,
    table,
    texts,
    trace_values,
    versions,
)
from views.sales import queue_window, sales_view

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


def window(url: str, start, end) -> dict[str, pd.DataFrame]:
    """The canonical frames of [start, end) straight from the repository, unsliced (the view slices them)."""
    engine = make_engine(url)
    frames = {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine, start, end, with_deal_leads=True),
        "deals": queries.read_deals(engine, start, end),
        "activities": queries.read_activities(engine, start, end + ACTIVITY_TAIL),
    }
    engine.dispose()
    return frames


def view_of(at, url):
    """The Sales view of the filters the page ran with, computed outside the page (no cached loader)."""
    f = shown_filters(at)
    return sales_view(versions(url), window(url, f.period_start, f.period_end),
                      window(url, *queue_window(f.as_of)), f.view())  # fmt: skip


def assert_tiles(at, url):
    """The page draws its view's tiles (the figures themselves are checked against an oracle in tests/views)."""
    view = view_of(at, url)
    shown = metrics(at)
    for tile in view.tiles:
        assert shown[tile.label] == tile.value
        assert tile.sentence in texts(at)
    assert shown["Median first touch"] == view.median_text
    assert shown["90th percentile"] == view.p90_text
    return view


def test_tiles_are_the_view(sales, demo_db_url):
    view = assert_tiles(sales, demo_db_url)
    assert len(view.detail) > 0 and metrics(sales)["Follow-up"].endswith("%")
    # the tiles' figures are the metric's, by its definition
    row = view.tiles[0].row
    assert metrics(sales)["Follow-up"] == wording.format_value(
        row["met"] / (row["met"] + row["breached"]), "rate"
    )


def test_rep_and_team_tables_are_the_view(sales, demo_db_url):
    view = view_of(sales, demo_db_url)
    for shown, frame in ((table(sales, "owner_id", "owner", "team"), view.per_rep),
                         (table(sales, "team", "leads", "met"), view.per_team)):  # fmt: skip
        pd.testing.assert_frame_equal(
            shown.drop(columns="rate"), frame.drop(columns="rate"), check_dtype=False
        )
        assert shown["rate"].tolist() == [  # written the one way Accord writes a rate
            wording.format_value(r, "rate", missing="— (none decided)") for r in frame["rate"]
        ]
    chart = next(
        spec for title, spec in charts(sales).items() if title.startswith("First touch within 4 business")
    )
    met = next(t for t in chart["data"] if t["name"] == "Met")
    assert trace_values(met["x"]).sum() == view.per_rep["met"].sum() == (view.detail["status"] == "met").sum()
    assert {"sales_rep_csv", "sales_team_csv", "sales_queue_csv", "sales_delays_csv"} <= download_keys(sales)


def test_the_queue_lists_the_leads_overdue_or_due_soon(sales, demo_db_url):
    view = view_of(sales, demo_db_url)
    expected = view.queues[4].table
    shown = table(sales, "lead", "name", "company")
    assert len(expected) > 0
    assert shown["lead_id"].tolist() == expected["lead_id"].tolist()
    assert shown["owner"].tolist() == expected["owner"].tolist()
    assert view.queues[4].headline in texts(sales)
    assert (expected["hours_left"] < 0).sum() == view.queues[4].overdue
    widest = list(view.queues)[-1]
    sales.segmented_control(key="sales_queue_hours").set_value(widest).run()
    assert not sales.exception
    wider = table(sales, "lead", "name", "company")
    assert wider["lead_id"].tolist() == view.queues[widest].table["lead_id"].tolist()
    assert len(wider) >= len(shown)
    sales.segmented_control(key="sales_queue_hours").set_value(4.0).run()


def test_response_times_and_delays(sales, demo_db_url):
    view = view_of(sales, demo_db_url)
    histogram = next(spec for title, spec in charts(sales).items() if title.startswith("Time to first touch"))
    assert trace_values(histogram["data"][0]["y"]).sum() == view.detail["business_hours_taken"].notna().sum()
    assert histogram["layout"]["shapes"][0]["x0"] == 4  # the SLA line
    delays = table(sales, "team", "leads", "routed")
    pd.testing.assert_frame_equal(delays, view.delays, check_dtype=False)
    unrouted = ["(none)"] if view.delays["team"].isna().any() or "(none)" in set(view.delays["team"]) else []
    assert delays["team"].tolist() == [ALL, *unrouted, "Americas", "EMEA"]  # (none): leads not yet routed
    titles = list(charts(sales))
    assert any(t.startswith("Leads with 3+ touches within 5 business days") for t in titles)
    assert any(t.startswith("Leads accepted or rejected within 2 business days") for t in titles)


def test_a_team_filter_changes_the_numbers(monkeypatch, tmp_path, demo_db_url, sales):
    emea = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, team=["EMEA"])
    assert shown_filters(emea).teams == ("EMEA",)
    view = assert_tiles(emea, demo_db_url)
    assert set(view.detail["team"]) == {"EMEA"}
    assert metrics(emea)["Follow-up"] != metrics(sales)["Follow-up"]
    expected = view.queues[4].table
    queues = [
        d.value["lead_id"].tolist() for d in emea.dataframe if list(d.value.columns[:2]) == ["lead", "name"]
    ]
    assert queues == ([expected["lead_id"].tolist()] if len(expected) else [])
    assert set(table(emea, "team", "leads", "met")["team"]) == {"EMEA"}


def test_an_owner_without_leads_gets_sentences(monkeypatch, tmp_path, demo_db_url):
    engine = make_engine(demo_db_url)
    owners, leads = queries.read_owners(engine), queries.read_leads(engine)
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
    journal.add_agreement_version(make_engine(url), current.name, document, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
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
