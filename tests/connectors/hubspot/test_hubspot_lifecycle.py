"""HubSpot lifecycle end to end: merges, recycled leads, moved deals and archived records, in the figures.

Each test builds a small company in the local HubSpot-compatible server, syncs it with the real client,
reads the database as the pages do and evaluates the agreement at an explicit as-of instant.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics.commitments import evaluate
from connectors.hubspot.settings import HubSpotConfig
from connectors.hubspot.sync import sync
from data import queries, syncs
from tests.analytics.conftest import agreement, commitment, ts
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot

TOKEN = "pat-na1-11111111-2222-4333-8444-555555555555"
AS_OF = ts("2026-03-31 18:00")
DOC = agreement(
    commitments=[
        commitment("mql-volume", "mql_count", 10, owner="marketing"),
        commitment("pipeline", "sourced_pipeline", 1000, owner="marketing"),
        commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4}),
    ]
)


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
def config(fake) -> HubSpotConfig:
    return HubSpotConfig(
        token=TOKEN, base_url=fake.base_url, page_size=50, search_per_second=20, backoff_seconds=0.05
    )


def contact(fake, mql: str, source: str = "PAID_SEARCH") -> str:
    return fake.add(
        "contacts",
        {
            "lifecyclestage": "marketingqualifiedlead",
            "hs_v2_date_entered_marketingqualifiedlead": mql,
            "hs_analytics_source": source,
            "createdate": "2026-01-01T08:00:00Z",
        },
        at=mql,
    )


def deal(fake, lead: str, created: str, amount: str = "1000", source: str = "PAID_SEARCH") -> str:
    props = {"dealstage": "appointmentscheduled", "pipeline": "default", "amount": amount, "createdate": created,
             "hs_analytics_source": source}  # fmt: skip
    return fake.add("deals", props, contact=lead, at=created)  # modified when created, long ago


def figures(engine, by: str | None = None) -> pd.DataFrame:
    frames = {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine),
        "deals": queries.read_deals(engine),
        "activities": queries.read_activities(engine),
    }
    return evaluate(DOC, frames, "2026-01-01", "2026-04-01", AS_OF, by=by)


def actual(result: pd.DataFrame, cid: str, period: str) -> float:
    row = result[(result["commitment"] == cid) & (result["period"] == period)]
    return float(row["actual"].sum())


@pytest.mark.parametrize("second", ["incremental", "full"])
def test_a_merge_leaves_one_lead_with_both_histories_and_no_double_mql(engine, fake, config, second):
    survivor = contact(fake, "2026-01-05T10:00:00Z")
    ghost = contact(fake, "2026-01-07T10:00:00Z")
    call = fake.add("calls", {"hs_timestamp": "2026-01-07T11:00:00Z"}, contact=ghost)
    sold = deal(fake, ghost, "2026-01-20T10:00:00Z")
    sync(engine, config=config)
    assert actual(figures(engine), "mql-volume", "2026-01") == 2  # two contacts, as HubSpot had them

    fake.merge(survivor, ghost)
    summary = sync(engine, config=config, full=second == "full")

    assert summary.objects["contacts"].merged == 1
    leads = queries.read_leads(engine, source="hubspot")
    assert leads["external_id"].tolist() == [survivor]
    assert actual(figures(engine), "mql-volume", "2026-01") == 1  # no double MQL
    activities = queries.read_activities(engine, source="hubspot").set_index("external_id")
    deals = queries.read_deals(engine, source="hubspot").set_index("external_id")
    assert activities.loc[call, "lead_external_id"] == survivor
    assert deals.loc[sold, "lead_external_id"] == survivor
    assert actual(figures(engine), "pipeline", "2026-01") == 1000  # still marketing-sourced, once
    assert sync(engine, config=config).objects["contacts"].merged == 0  # nothing left to fold


def test_a_recycled_contact_is_two_handovers_each_with_its_own_clock(engine, fake, config):
    lead = fake.add(
        "contacts", {"lifecyclestage": "lead", "hs_analytics_source": "EVENT"}, at="2026-01-02T09:00:00Z"
    )
    fake.update(
        "contacts",
        lead,
        {
            "lifecyclestage": "marketingqualifiedlead",
            "hs_v2_date_entered_marketingqualifiedlead": "2026-01-05T10:00:00Z",
        },
        at="2026-01-05T10:00:00Z",
    )
    fake.add("calls", {"hs_timestamp": "2026-01-05T11:00:00Z"}, contact=lead)
    fake.update("contacts", lead, {"hs_lead_status": "RECYCLED"}, at="2026-01-20T10:00:00Z")
    fake.update("contacts", lead, {"lifecyclestage": "lead"}, at="2026-01-20T10:00:01Z")
    fake.update(
        "contacts",
        lead,
        {"lifecyclestage": "marketingqualifiedlead", "hs_lead_status": "NEW",
         "hs_v2_date_entered_marketingqualifiedlead": "2026-03-02T10:00:00Z"},
        at="2026-03-02T10:00:00Z",
    )  # fmt: skip

    summary = sync(engine, config=config)

    assert summary.objects["contacts"].handovers == 2
    stored = queries.read_handovers(engine, source="hubspot")
    assert stored["mql_at"].tolist() == [ts("2026-01-05 10:00"), ts("2026-03-02 10:00")]
    assert stored["recycled"].tolist() == [False, True]
    assert (stored["disposition"].iloc[0], stored["rejection_reason"].iloc[0]) == ("rejected", "Recycled")
    result = figures(engine)
    assert [actual(result, "mql-volume", p) for p in ("2026-01", "2026-02", "2026-03")] == [1, 0, 1]
    speed = result[result["commitment"] == "speed"].set_index("period")
    assert (speed.loc["2026-01", "met"], speed.loc["2026-01", "breached"]) == (1, 0)  # called within an hour
    assert (speed.loc["2026-03", "met"], speed.loc["2026-03", "breached"]) == (
        0,
        1,
    )  # its own clock, untouched


def test_a_moved_deal_counts_for_its_new_leads_channel(engine, fake, config):
    paid = contact(fake, "2026-01-05T10:00:00Z", source="PAID_SEARCH")
    organic = contact(fake, "2026-01-06T10:00:00Z", source="ORGANIC_SEARCH")
    moved = deal(fake, paid, "2026-01-20T10:00:00Z", amount="2500")
    sync(engine, config=config)
    before = figures(engine, by="channel")
    assert actual(before[before["channel"] == "Paid Search"], "pipeline", "2026-01") == 2500

    fake.link("deals", moved, [organic])  # HubSpot keeps the deal's modified date: search will not see it
    summary = sync(engine, config=config)

    assert summary.objects["deals"].relinked == 1
    after = figures(engine, by="channel")
    assert actual(after[after["channel"] == "Organic Search"], "pipeline", "2026-01") == 2500
    assert actual(after[after["channel"] == "Paid Search"], "pipeline", "2026-01") == 0
    assert any(r.path == "/crm/v4/associations/deals/contacts/batch/read" for r in fake.requests("POST"))


def test_associations_flag_rereads_closed_old_deals_too(engine, fake, config):
    first = contact(fake, "2026-01-05T10:00:00Z")
    second = contact(fake, "2026-01-06T10:00:00Z")
    old = fake.add(
        "deals",
        {"dealstage": "closedwon", "pipeline": "default", "amount": "700", "createdate": "2025-01-10T10:00:00Z",
         "closedate": "2025-02-10T10:00:00Z"},
        contact=first,
        at="2025-02-10T10:00:00Z",
    )  # fmt: skip
    sync(engine, config=config)
    fake.link("deals", old, [second])
    assert sync(engine, config=config).objects["deals"].relinked == 0  # closed and old: not re-read each run
    assert sync(engine, config=config, associations=True).objects["deals"].relinked == 1
    assert queries.read_deals(engine, source="hubspot")["lead_external_id"].tolist() == [second]


def test_an_archived_deal_and_contact_leave_the_figures_and_return_on_restore(engine, fake, config):
    lead = contact(fake, "2026-02-03T10:00:00Z")
    sold = deal(fake, lead, "2026-02-10T10:00:00Z", amount="1200")
    sync(engine, config=config)
    assert actual(figures(engine), "pipeline", "2026-02") == 1200

    fake.archive("deals", sold)
    sync(engine, config=config)
    assert actual(figures(engine), "pipeline", "2026-02") == 0

    fake.restore("deals", sold)
    fake.archive("contacts", lead)
    sync(engine, config=config)
    result = figures(engine)
    assert actual(result, "pipeline", "2026-02") == 0  # its lead is gone: no longer marketing-sourced
    assert actual(result, "mql-volume", "2026-02") == 0

    fake.restore("contacts", lead)
    sync(engine, config=config)
    result = figures(engine)
    assert actual(result, "pipeline", "2026-02") == 1200
    assert actual(result, "mql-volume", "2026-02") == 1


LATER = ("2026-11-20T10:00:00Z", "2026-11-25T10:00:00Z")  # after the suite's pinned now: after any cursor


def history_read(fake, since: int) -> set[str]:
    """Contact ids whose lifecycle history the requests after the first ``since`` asked for."""
    ids: set[str] = set()
    for r in fake.requests()[since:]:
        if r.path == "/crm/v3/objects/contacts/batch/read" and r.body.get("propertiesWithHistory"):
            ids |= {i["id"] for i in r.body["inputs"]}
        elif r.path == "/crm/v3/objects/contacts" and r.query.get("propertiesWithHistory"):
            ids.add("list page")  # a page read with history: every contact on it
    return ids


def test_a_full_resync_reads_the_history_of_changed_contacts_only(engine, fake, config):
    quiet = [contact(fake, f"2026-01-{1 + i % 28:02d}T10:00:00Z") for i in range(149)]  # pages of 50: three
    moving = contact(fake, "2026-01-08T10:00:00Z")
    sync(engine, config=config)
    assert syncs.get_sync_state(engine, "hubspot", "contact_history")[0] is not None

    fake.update("contacts", moving, {"hs_lead_status": "RECYCLED", "lifecyclestage": "lead"}, at=LATER[0])
    fake.update(
        "contacts", moving, {"hs_lead_status": "NEW", "lifecyclestage": "marketingqualifiedlead"}, at=LATER[1]
    )
    edited = [quiet[0], quiet[60]]  # on the first and second page: another change, still one handover each
    for lead in edited:
        fake.update("contacts", lead, {"hs_lead_status": "IN_PROGRESS"}, at=LATER[1])
    before = len(fake.requests())
    summary = sync(engine, config=config, full=True)

    assert history_read(fake, before) == {moving, *edited}  # the 147 unchanged contacts cost nothing more
    reads = [r for r in fake.requests()[before:] if r.path == "/crm/v3/objects/contacts/batch/read"]
    assert len(reads) == 1  # the three pages' changed contacts in one batch read
    assert summary.objects["contacts"].handovers == 2
    stored = queries.read_handovers(engine, source="hubspot")
    assert stored["lead_external_id"].tolist() == [moving, moving]
    assert set(queries.read_leads(engine, source="hubspot")["external_id"]) == {*quiet, moving}


def test_a_database_synced_before_handovers_reads_every_history_on_its_next_full_sync(engine, fake, config):
    recycled = contact(fake, "2026-01-05T10:00:00Z")
    fake.update(
        "contacts",
        recycled,
        {"hs_lead_status": "RECYCLED", "lifecyclestage": "lead"},
        at="2026-02-01T10:00:00Z",
    )
    fake.update(
        "contacts",
        recycled,
        {"hs_lead_status": "NEW", "lifecyclestage": "marketingqualifiedlead"},
        at="2026-03-02T10:00:00Z",
    )
    sync(engine, config=config)
    with engine.begin() as conn:  # as a database synced by a version without handovers left it
        conn.execute(sa.text("DELETE FROM handovers"))
        conn.execute(sa.text("DELETE FROM sync_state WHERE object = 'contact_history'"))
    sync(engine, config=config)  # incremental: nothing changed, and it does not claim the histories
    assert syncs.get_sync_state(engine, "hubspot", "contact_history")[0] is None

    before = len(fake.requests())
    summary = sync(engine, config=config, full=True)
    assert history_read(fake, before) == {recycled}
    assert summary.objects["contacts"].handovers == 2
    assert syncs.get_sync_state(engine, "hubspot", "contact_history")[0] is not None
