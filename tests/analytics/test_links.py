"""Record links: HubSpot and Salesforce formats exactly; files, the demo and unknown bases get none."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.links import record_link, record_links

BASES = {
    "hubspot": {"portal_id": 139482, "ui_domain": "app.hubspot.com"},
    "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
}


def test_hubspot_contacts_and_deals_open_their_record_page():
    assert (
        record_link("hubspot", "lead", "51", BASES) == "https://app.hubspot.com/contacts/139482/record/0-1/51"
    )
    assert (
        record_link("hubspot", "deal", "9001", BASES)
        == "https://app.hubspot.com/contacts/139482/record/0-3/9001"
    )


def test_salesforce_leads_and_opportunities_open_their_lightning_page():
    assert record_link("salesforce", "lead", "00Q5g00000AbCdEAAA", BASES) == (
        "https://acme.my.salesforce.com/lightning/r/Lead/00Q5g00000AbCdEAAA/view"
    )
    assert record_link("salesforce", "deal", "0065g00000XyZAAA", BASES) == (
        "https://acme.my.salesforce.com/lightning/r/Opportunity/0065g00000XyZAAA/view"
    )


@pytest.mark.parametrize(
    ("source", "bases"),
    [("demo", BASES), ("crm", BASES), ("hubspot", {}), ("salesforce", {"hubspot": BASES["hubspot"]})],
)
def test_rows_without_a_crm_or_without_a_stored_base_have_no_link(source, bases):
    assert record_link(source, "lead", "L1", bases) is None


def test_an_id_is_escaped_into_the_path_and_a_missing_id_has_no_link():
    assert record_link("hubspot", "lead", "a/b", BASES).endswith("/record/0-1/a%2Fb")
    assert record_link("hubspot", "lead", None, BASES) is None


def test_the_series_form_gives_each_row_its_own_link():
    links = record_links(
        pd.Series(["hubspot", "crm", "salesforce"]), pd.Series(["1", "L1", "00Q"]), "lead", BASES
    )
    assert links.isna().tolist() == [False, True, False]
    assert links.iloc[0] == record_link("hubspot", "lead", "1", BASES)
