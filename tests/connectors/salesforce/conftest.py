"""Fixtures of the Salesforce connector tests: a seeded local Salesforce over HTTPS and a config aimed at it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import trustme

from connectors.salesforce.settings import SalesforceConfig
from connectors.salesforce.sync import sync
from data import queries
from tests.connectors.salesforce.fake_salesforce import FakeSalesforce

CLIENT_ID = "3MVG9fake.consumer.key.for.accord.tests"
CLIENT_SECRET = "F4K3C0NSUM3RS3CR3T0123456789ABCDEF"
LEADS = 150
OPPORTUNITIES = 40


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch) -> str:
    """The test CA is trusted by requests (and so by simple-salesforce) through REQUESTS_CA_BUNDLE."""
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(path))
    return str(path)


@pytest.fixture
def fake_sf(ca, trusted):
    """A local Salesforce with a seeded org: REST pages of 50, so every object spans several pages."""
    fake = FakeSalesforce(ca, CLIENT_ID, CLIENT_SECRET)
    fake.page_size = 50
    fake.seed(leads=LEADS, opportunities=OPPORTUNITIES)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def sf_config(fake_sf) -> SalesforceConfig:
    """The connector aimed at the fake: small Bulk pages and id batches, no waiting, no reserve."""
    return SalesforceConfig(
        login_url=fake_sf.base_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        bulk_page_size=60,
        ids_per_query=25,
        bulk_poll_seconds=0.0,
        backoff_seconds=0.0,
        limit_reserve_share=0.0,
        limit_reserve_min=0,
        timeout=(2.0, 10.0),
    )


def run(engine, fake, config, **kwargs):
    """One sync at the fake's clock."""
    return sync(engine, config=config, now=lambda: fake.clock, sleep=lambda s: None, **kwargs)


# ----------------------------------------------------------------------------- expected rows, independently


def _utc(value):
    if value is None:
        return pd.NaT
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_convert("UTC").floor("ms")
    return pd.Timestamp(value).tz_localize("UTC")


def expected(fake, mql_from_history: bool = False, with_campaigns: bool = True) -> dict[str, pd.DataFrame]:
    """What a faithful sync of ``fake`` stores, computed straight from the org's records."""
    org = fake.records
    converted_opp = {
        r["ConvertedOpportunityId"]: i for i, r in org["Lead"].items() if r["ConvertedOpportunityId"]
    }
    converted_contact = {
        r["ConvertedContactId"]: i for i, r in org["Lead"].items() if r["ConvertedContactId"]
    }
    history = {}
    for h in sorted(org["LeadHistory"].values(), key=lambda h: h["CreatedDate"]):
        if h["Field"] == "Status" and h["NewValue"] == "Marketing Qualified":
            history.setdefault(h["LeadId"], h["CreatedDate"])
    campaign = {}
    for m in sorted(org["CampaignMember"].values(), key=lambda m: m["CreatedDate"]):
        campaign.setdefault(m["LeadId"], m["Campaign.Name"])
    owners = pd.DataFrame(
        [
            {"external_id": i, "name": r["Name"], "team": r["Department"], "active": r["IsActive"]}
            for i, r in org["User"].items()
        ]
    )
    leads = pd.DataFrame(
        [
            {
                "external_id": i,
                "created_at": _utc(r["CreatedDate"]),
                "mql_at": _utc(history.get(i) if mql_from_history else r["MQL_Date__c"]),
                "sql_at": _utc(r["ConvertedDate"]) if r["IsConverted"] else pd.NaT,
                "owner_external_id": r["OwnerId"],
                "channel": r["LeadSource"],
                "campaign": campaign.get(i) if with_campaigns else None,
                "lead_status": r["Status"],
                "rejection_reason": r["Rejection_Reason__c"]
                if r["Status"] in ("Unqualified", "Closed - Not Converted")
                else None,
                "archived": r["IsDeleted"],
                "name": " ".join(p for p in (r.get("FirstName"), r.get("LastName")) if p) or None,
                "company": r.get("Company"),
                "email": r.get("Email"),
            }
            for i, r in org["Lead"].items()
        ]
    )
    deals = pd.DataFrame(
        [
            {
                "external_id": i,
                "name": r["Name"],
                "amount": float("nan") if r["Amount"] is None else r["Amount"],
                "stage": r["StageName"],
                "is_closed": r["IsClosed"],
                "is_won": r["IsWon"],
                "closed_at": _utc(r["CloseDate"]) if r["IsClosed"] else pd.NaT,
                "lead_external_id": converted_opp.get(i),
                "archived": r["IsDeleted"],
            }
            for i, r in org["Opportunity"].items()
        ]
    )
    activities = pd.DataFrame(
        [
            {
                "external_id": i,
                "lead_external_id": r["WhoId"]
                if r["WhoId"].startswith("00Q")
                else converted_contact.get(r["WhoId"]),
                "kind": "meeting"
                if obj == "Event"
                else {"Call": "call", "Email": "email"}.get(r["TaskSubtype"], "task"),
                "archived": r["IsDeleted"],
            }
            for obj in ("Task", "Event")
            for i, r in org[obj].items()
        ]
    )
    return {"owners": owners, "leads": leads, "deals": deals, "activities": activities}


def stored(engine) -> dict[str, pd.DataFrame]:
    """The salesforce rows in the database."""
    return {
        "owners": queries.read_owners(engine, source="salesforce"),
        "leads": queries.read_leads(engine, source="salesforce"),
        "deals": queries.read_deals(engine, source="salesforce"),
        "activities": queries.read_activities(engine, source="salesforce"),
    }


def assert_matches(engine, fake, mql_from_history: bool = False, with_campaigns: bool = True) -> None:
    """The database holds exactly the org's records, column by column (the message names table and column)."""
    got = stored(engine)
    for table, want in expected(fake, mql_from_history, with_campaigns).items():
        have = got[table]
        assert len(have) == len(want), f"{table}: {len(have)} rows stored, the org has {len(want)}"
        assert not have["external_id"].duplicated().any(), f"{table}: duplicated rows"
        have = have.set_index("external_id").sort_index()
        want = want.set_index("external_id").sort_index()
        for column in want.columns:
            left = have[column].astype(object).where(have[column].notna(), None).tolist()
            right = want[column].astype(object).where(want[column].notna(), None).tolist()
            if column.endswith("_at"):
                left = [None if v is None else pd.Timestamp(v).floor("ms") for v in left]
            assert left == right, f"{table}.{column} differs from the org"
