"""Lifecycle cases on the pages: a HubSpot company synced with the real client from the local server, then shown.

Each test builds a small company in the local HubSpot-compatible server, syncs it into a fresh database
with the default agreement, opens the Marketing or Funnel page under AppTest at the pinned as-of (the
current period, November 2026) and holds the shown figure against a slow count made from the server's
own records — never from the functions the page calls.
"""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st

from analytics import wording
from connectors.hubspot.settings import HubSpotConfig
from connectors.hubspot.sync import sync
from data.engine import make_engine
from pages.components import loaders
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot
from tests.pages.dashboard_oracle import empty_crm, metrics, open_page, shown_filters, texts

TOKEN = "pat-na1-11111111-2222-4333-8444-555555555555"
MARKETING, FUNNEL = "pages/marketing.py", "pages/funnel.py"
CHANNEL = {"PAID_SEARCH": "Paid Search", "ORGANIC_SEARCH": "Organic Search", "EVENT": "Events"}


@pytest.fixture
def fake():
    server = FakeHubSpot(TOKEN, search_per_second=20)
    server.add_pipeline(
        "default",
        "Sales",
        [("appointmentscheduled", "Appointment", False, 0.2), ("closedwon", "Won", True, 1.0)],
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def company(fake, tmp_path):
    """(url, sync): a database with the default agreement, and a function that syncs the server into it."""
    url = empty_crm(tmp_path)
    config = HubSpotConfig(
        token=TOKEN, base_url=fake.base_url, page_size=50, search_per_second=20, backoff_seconds=0.05
    )

    def run(**options):
        engine = make_engine(url)
        try:
            return sync(engine, config=config, **options)
        finally:
            engine.dispose()

    return url, run


def show(monkeypatch, tmp_path, url, page, **params):
    """The page as a reader opening it after the sync (the caches forget what an earlier run read)."""
    loaders.clear()
    st.cache_resource.clear()
    folder = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    folder.mkdir()
    return open_page(monkeypatch, folder, url, page, **params)


def contact(fake, mql: str, source: str = "PAID_SEARCH") -> str:
    return fake.add(
        "contacts",
        {"lifecyclestage": "marketingqualifiedlead", "hs_v2_date_entered_marketingqualifiedlead": mql,
         "hs_analytics_source": source, "createdate": "2026-09-01T08:00:00Z"},
        at=mql,
    )  # fmt: skip


def deal(fake, lead: str, created: str, amount: str) -> str:
    props = {
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
        "amount": amount,
        "createdate": created,
    }
    return fake.add("deals", props, contact=lead, at=created)


# ------------------------------------------------------------------ slow counts from the server's records


def inside(when: str | None, at) -> bool:
    """Whether a HubSpot instant falls in the page's period up to its as-of."""
    f = shown_filters(at)
    return (
        when is not None
        and f.period_start <= pd.Timestamp(when) < f.period_end
        and pd.Timestamp(when) <= f.as_of
    )


def server_mqls(fake, at) -> int:
    """Contacts HubSpot still lists (merged-away ids are gone, archived ones left) with an MQL in the period."""
    return sum(
        inside(r.properties.get("hs_v2_date_entered_marketingqualifiedlead"), at)
        for r in fake.objects["contacts"].values()
        if not r.archived
    )


def server_pipeline(fake, at, source: str | None = None) -> float:
    """Amounts of the live deals created in the period whose first associated live contact is an MQL
    (of ``source``, when given)."""
    contacts = {r.id: r for r in fake.objects["contacts"].values() if not r.archived}
    total = 0.0
    for d in fake.objects["deals"].values():
        linked = sorted(c for c in fake.links["deals"].get(d.id, []) if c in contacts)
        if d.archived or not linked or not inside(d.properties.get("createdate"), at):
            continue
        lead = contacts[linked[0]].properties
        if lead.get("hs_v2_date_entered_marketingqualifiedlead") and source in (
            None,
            lead["hs_analytics_source"],
        ):
            total += float(d.properties["amount"])
    return total


def shown_amount(value: float) -> str:
    return wording.format_value(value, "amount", currency="EUR", beside=5_000_000)


# ------------------------------------------------------------------ the cases


def test_a_merge_on_the_marketing_page_leaves_one_mql(monkeypatch, tmp_path, fake, company):
    url, run = company
    survivor = contact(fake, "2026-11-03T10:00:00Z")
    ghost = contact(fake, "2026-11-05T10:00:00Z")
    deal(fake, ghost, "2026-11-09T10:00:00Z", "1500")
    run()
    before = show(monkeypatch, tmp_path, url, MARKETING)
    assert server_mqls(fake, before) == 2
    assert metrics(before)["MQLs"] == "2"

    fake.merge(survivor, ghost)
    assert run().objects["contacts"].merged == 1
    after = show(monkeypatch, tmp_path, url, MARKETING)
    assert server_mqls(fake, after) == 1
    assert metrics(after)["MQLs"] == "1"  # no double MQL
    # the merged-away lead's deal now belongs to the survivor: still marketing-sourced, once
    assert server_pipeline(fake, after) == 1500
    assert metrics(after)["Sourced pipeline"] == shown_amount(1500)
    assert "Handovers: 1 first-time, 0 re-qualified after recycling" in " ".join(
        c.value for c in after.caption
    )


def test_a_recycled_lead_shows_in_two_periods(monkeypatch, tmp_path, fake, company):
    url, run = company
    lead = fake.add(
        "contacts", {"lifecyclestage": "lead", "hs_analytics_source": "EVENT"}, at="2026-10-01T09:00:00Z"
    )
    fake.update("contacts", lead, {"lifecyclestage": "marketingqualifiedlead",
                                   "hs_v2_date_entered_marketingqualifiedlead": "2026-10-06T10:00:00Z"},
                at="2026-10-06T10:00:00Z")  # fmt: skip
    fake.update(
        "contacts", lead, {"hs_lead_status": "RECYCLED", "lifecyclestage": "lead"}, at="2026-10-20T10:00:00Z"
    )
    fake.update("contacts", lead, {"lifecyclestage": "marketingqualifiedlead", "hs_lead_status": "NEW",
                                   "hs_v2_date_entered_marketingqualifiedlead": "2026-11-04T10:00:00Z"},
                at="2026-11-04T10:00:00Z")  # fmt: skip
    call = fake.add("calls", {"hs_timestamp": "2026-10-06T11:00:00Z"}, contact=lead)  # the first one's touch
    run()
    # slow count: each entry into MQL in the server's lifecycle history is a handover in its own month
    entries = [e["timestamp"] for e in fake.objects["contacts"][int(lead)].history_of("lifecyclestage")
               if e["value"] == "marketingqualifiedlead"]  # fmt: skip
    assert sorted(pd.Timestamp(e).strftime("%Y-%m") for e in entries) == ["2026-10", "2026-11"]

    october = show(monkeypatch, tmp_path, url, MARKETING, as_of="2026-10-30")
    november = show(monkeypatch, tmp_path, url, MARKETING)
    assert (metrics(october)["MQLs"], metrics(november)["MQLs"]) == ("1", "1")
    said = {at: " ".join(c.value for c in at.caption) for at in (october, november)}
    assert "Handovers: 1 first-time, 0 re-qualified after recycling" in said[october]
    assert "Handovers: 0 first-time, 1 re-qualified after recycling" in said[november]

    # Each handover has its own clock: the call an hour after the first MQL follows up October's
    # handover; November's, untouched for two weeks, is missed (slow: the server's activity times).
    touched = [pd.Timestamp(fake.objects["calls"][int(call)].properties["hs_timestamp"])]
    handed = sorted(pd.Timestamp(e) for e in entries)
    within = [any(h <= t <= h + pd.Timedelta(hours=4) for t in touched) for h in handed]
    assert within == [True, False]
    sales = {p: show(monkeypatch, tmp_path, url, "pages/sales.py", **a) for p, a in
             (("2026-10", {"as_of": "2026-10-30"}), ("2026-11", {}))}  # fmt: skip
    assert [metrics(sales[p])["Follow-up"] for p in ("2026-10", "2026-11")] == [
        wording.format_value(float(w), "rate") for w in within
    ]


def test_a_moved_deal_counts_on_the_page_for_its_new_leads_channel(monkeypatch, tmp_path, fake, company):
    url, run = company
    paid = contact(fake, "2026-11-02T10:00:00Z", source="PAID_SEARCH")
    organic = contact(fake, "2026-11-03T10:00:00Z", source="ORGANIC_SEARCH")
    moved = deal(fake, paid, "2026-11-06T10:00:00Z", "2500")
    run()

    def by_channel():
        out = {}
        for source, channel in (("PAID_SEARCH", "Paid Search"), ("ORGANIC_SEARCH", "Organic Search")):
            at = show(monkeypatch, tmp_path, url, MARKETING, channel=[channel])
            assert shown_filters(at).channels == (channel,)
            out[channel] = (metrics(at)["Sourced pipeline"], shown_amount(server_pipeline(fake, at, source)))
        return out

    before = by_channel()
    assert before == {"Paid Search": (shown_amount(2500),) * 2, "Organic Search": (shown_amount(0),) * 2}

    fake.link(
        "deals", moved, [organic]
    )  # HubSpot leaves the deal's modified date: only reconciliation sees it
    assert run().objects["deals"].relinked == 1
    after = by_channel()
    assert after == {"Paid Search": (shown_amount(0),) * 2, "Organic Search": (shown_amount(2500),) * 2}


def test_an_archived_deal_leaves_marketing_and_funnel_and_returns_on_restore(
    monkeypatch, tmp_path, fake, company
):
    url, run = company
    lead = contact(fake, "2026-11-02T10:00:00Z")
    other = contact(fake, "2026-11-04T10:00:00Z")
    kept = deal(fake, other, "2026-11-05T10:00:00Z", "800")
    sold = deal(fake, lead, "2026-11-06T10:00:00Z", "1200")
    assert kept != sold

    def shown():
        marketing = show(monkeypatch, tmp_path, url, MARKETING)
        funnel = show(monkeypatch, tmp_path, url, FUNNEL)
        # slow: the period's MQL contacts with a live deal reached SQL (a deal means qualified)
        live = {
            c for d in fake.objects["deals"].values() if not d.archived for c in fake.links["deals"][d.id]
        }
        qualified = sum(
            inside(r.properties.get("hs_v2_date_entered_marketingqualifiedlead"), funnel) and r.id in live
            for r in fake.objects["contacts"].values()
        )
        assert metrics(marketing)["Sourced pipeline"] == shown_amount(server_pipeline(fake, marketing))
        assert metrics(funnel)["SQL"] == f"{qualified:,}"
        pipeline = [t for t in texts(funnel) if "sourced pipeline" in t.lower()]
        return server_pipeline(fake, marketing), qualified, pipeline

    run()
    assert shown()[:2] == (2000, 2)
    fake.archive("deals", sold)
    run()
    gone = shown()
    assert gone[:2] == (800, 1)
    assert any(wording.format_value(800, "amount", currency="EUR") in t for t in gone[2]), gone[2]
    fake.restore("deals", sold)
    run()
    back = shown()
    assert back[:2] == (2000, 2)
    assert any(wording.format_value(2000, "amount", currency="EUR") in t for t in back[2]), back[2]
