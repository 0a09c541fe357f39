"""Pure mapping from recorded HubSpot payloads (shaped like the API's JSON) to canonical rows."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.schema import coerce_frame, input_columns
from connectors.hubspot import mapping
from connectors.hubspot.settings import PropertyChoices

T = pd.Timestamp

# A contact as GET /crm/v3/objects/contacts returns it with Accord's properties (values are strings or null).
CONTACT = {
    "id": "51",
    "properties": {
        "createdate": "2026-03-02T08:15:00.000Z",
        "lastmodifieddate": "2026-03-06T10:00:00.125Z",
        "hs_object_id": "51",
        "lifecyclestage": "salesqualifiedlead",
        "hs_lead_status": "CONNECTED",
        "hubspot_owner_id": "28434287",
        "hubspot_owner_assigneddate": "2026-03-03T09:05:00.000Z",
        "hs_v2_date_entered_marketingqualifiedlead": "2026-03-03T09:00:00.000Z",
        "hs_lifecyclestage_marketingqualifiedlead_date": "2026-03-03T09:00:00.000Z",
        "hs_v2_date_entered_salesqualifiedlead": "2026-03-05T14:30:00.000Z",
        "hs_lifecyclestage_salesqualifiedlead_date": None,
        "hs_first_outreach_date": "2026-03-03T11:00:00.000Z",
        "hs_sa_first_engagement_date": "2026-03-04T08:00:00.000Z",
        "hs_analytics_source": "PAID_SEARCH",
        "hs_analytics_source_data_2": "Brand Search",
        "accord_segment": "Mid-Market",
        "accord_rejection_reason": None,
        "accord_disposition_date": None,
    },
    "createdAt": "2026-03-02T08:15:00.000Z",
    "updatedAt": "2026-03-06T10:00:00.125Z",
    "archived": False,
}

# An older portal: only the legacy lifecycle date names, rejected by sales with a reason and a date.
LEGACY_REJECTED = {
    "id": "77",
    "properties": {
        "createdate": "2025-11-10T16:00:00Z",
        "lastmodifieddate": "2025-11-14T09:00:00Z",
        "lifecyclestage": "marketingqualifiedlead",
        "hs_lead_status": "UNQUALIFIED",
        "hubspot_owner_id": "101",
        "hs_lifecyclestage_marketingqualifiedlead_date": "2025-11-11T07:30:00Z",
        "hs_lifecyclestage_salesqualifiedlead_date": "",
        "hs_analytics_source": "SOCIAL_MEDIA",
        "accord_rejection_reason": "not_icp",
        "accord_disposition_date": "2025-11-12T15:45:00Z",
    },
    "createdAt": "2025-11-10T16:00:00Z",
    "updatedAt": "2025-11-14T09:00:00Z",
    "archived": False,
}

PIPELINES = [
    {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": [
            {
                "id": "appointmentscheduled",
                "label": "Appointment Scheduled",
                "metadata": {"isClosed": "false", "probability": "0.2"},
            },
            {
                "id": "closedwon",
                "label": "Closed Won",
                "metadata": {"isClosed": "true", "probability": "1.0"},
            },
            {
                "id": "closedlost",
                "label": "Closed Lost",
                "metadata": {"isClosed": "true", "probability": "0.0"},
            },
        ],
    },
    {
        "id": "7612345",
        "label": "Renewals",
        "displayOrder": 1,
        "stages": [
            {
                "id": "98765001",
                "label": "Renewal due",
                "metadata": {"isClosed": "false", "probability": "0.5"},
            },
            {"id": "98765002", "label": "Renewed", "metadata": {"isClosed": "true", "probability": "1.0"}},
        ],
    },
]


def _deal(deal_id: str, **properties) -> dict:
    base = {
        "dealname": "Acme GmbH – Growth plan",
        "createdate": "2026-04-01T10:00:00.000Z",
        "closedate": "2026-05-15T12:00:00.000Z",
        "hs_lastmodifieddate": "2026-05-15T12:00:01.000Z",
        "amount": "32000",
        "deal_currency_code": "EUR",
        "dealstage": "closedwon",
        "pipeline": "default",
        "hs_is_closed": "true",
        "hs_is_closed_won": "true",
        "hubspot_owner_id": "101",
        "hs_analytics_source": "ORGANIC_SEARCH",
    }
    base.update(properties)
    return {
        "id": deal_id,
        "properties": base,
        "createdAt": base["createdate"],
        "updatedAt": base["hs_lastmodifieddate"],
        "archived": False,
        "associations": {
            "contacts": {
                "results": [{"id": "901", "type": "deal_to_contact"}, {"id": "77", "type": "deal_to_contact"}]
            }
        },
    }


def _lead(records, **choices) -> dict:
    mapped = mapping.leads_frame(records, PropertyChoices(**choices))
    return mapped.frame.set_index("external_id").to_dict("index")


def test_contact_maps_every_sla_fact():
    lead = _lead([CONTACT])["51"]

    assert lead["source"] == "hubspot"
    assert lead["created_at"] == T("2026-03-02T08:15:00Z")
    assert lead["mql_at"] == T("2026-03-03T09:00:00Z")
    assert lead["sql_at"] == T("2026-03-05T14:30:00Z")
    assert lead["owner_external_id"] == "28434287"
    assert lead["owner_assigned_at"] == T("2026-03-03T09:05:00Z")
    assert lead["channel"] == "Paid Search"
    assert lead["campaign"] == "Brand Search"
    assert lead["segment"] == "Mid-Market"
    assert lead["lifecycle_stage"] == "salesqualifiedlead"
    assert lead["lead_status"] == "CONNECTED"
    assert lead["first_touch_at"] == T("2026-03-03T11:00:00Z")  # outreach before the owner's engagement
    assert lead["disposition"] == "accepted"
    assert lead["disposition_at"] == lead["sql_at"]  # no disposition date property: the SQL date
    assert pd.isna(lead["rejection_reason"])
    assert lead["archived"] is False or lead["archived"] == False  # noqa: E712 (nullable boolean)
    assert lead["updated_at"] == T("2026-03-06T10:00:00.125Z")


def test_legacy_lifecycle_dates_and_a_rejection_with_reason():
    lead = _lead([LEGACY_REJECTED])["77"]

    assert lead["mql_at"] == T("2025-11-11T07:30:00Z")
    assert pd.isna(lead["sql_at"])  # "" is missing, not an error
    assert lead["disposition"] == "rejected"
    assert lead["disposition_at"] == T("2025-11-12T15:45:00Z")
    assert lead["rejection_reason"] == "not_icp"
    assert lead["channel"] == "Organic Social"
    assert pd.isna(lead["first_touch_at"])


def test_v2_date_wins_over_legacy_name():
    record = {
        **CONTACT,
        "properties": {
            **CONTACT["properties"],
            "hs_lifecyclestage_marketingqualifiedlead_date": "2020-01-01T00:00:00Z",
        },
    }
    assert _lead([record])["51"]["mql_at"] == T("2026-03-03T09:00:00Z")


def test_first_engagement_reset_by_an_owner_change_does_not_move_the_first_touch():
    props = {
        **CONTACT["properties"],
        "hs_first_outreach_date": None,
        "hs_sa_first_engagement_date": "2026-03-03T10:00:00Z",
    }
    before = _lead([{**CONTACT, "properties": props}])["51"]["first_touch_at"]
    # New owner: HubSpot resets the engagement date to the new owner's first touch, later.
    props_after = {
        **props,
        "hs_first_outreach_date": "2026-03-03T10:00:00Z",
        "hs_sa_first_engagement_date": "2026-03-09T16:00:00Z",
    }
    after = _lead([{**CONTACT, "properties": props_after}])["51"]["first_touch_at"]
    assert before == after == T("2026-03-03T10:00:00Z")


@pytest.mark.parametrize(
    ("status", "sql", "decided", "expected", "at"),
    [
        ("UNQUALIFIED", None, "2026-03-04T12:00:00Z", "rejected", "2026-03-04T12:00:00Z"),
        ("UNQUALIFIED", "2026-03-05T14:30:00Z", None, "rejected", None),  # the current status wins
        ("OPEN_DEAL", None, "2026-03-04T12:00:00Z", "accepted", "2026-03-04T12:00:00Z"),
        ("OPEN_DEAL", None, None, "accepted", None),
        ("IN_PROGRESS", "2026-03-05T14:30:00Z", None, "accepted", "2026-03-05T14:30:00Z"),
        ("IN_PROGRESS", None, "2026-03-04T12:00:00Z", "open", None),  # open: no disposition time
        (None, None, None, "open", None),
    ],
)
def test_disposition_rules(status, sql, decided, expected, at):
    props = {
        **CONTACT["properties"],
        "hs_lead_status": status,
        "hs_v2_date_entered_salesqualifiedlead": sql,
        "accord_disposition_date": decided,
        "accord_rejection_reason": "no_budget",
    }
    lead = _lead([{**CONTACT, "properties": props}])["51"]
    assert lead["disposition"] == expected
    assert (pd.isna(lead["disposition_at"]) and at is None) or lead["disposition_at"] == T(at)
    assert (lead["rejection_reason"] == "no_budget") == (expected == "rejected")


def test_configured_properties_and_accepted_statuses_are_used():
    props = {
        **CONTACT["properties"],
        "hs_v2_date_entered_salesqualifiedlead": None,
        "hs_lead_status": "MEETING_SET",
        "company_size_band": "Enterprise",
        "why_rejected": "ignored, not rejected",
    }
    lead = _lead(
        [{**CONTACT, "properties": props}],
        segment="company_size_band",
        rejection_reason="why_rejected",
        accepted_statuses=("MEETING_SET",),
    )["51"]
    assert lead["segment"] == "Enterprise"
    assert lead["disposition"] == "accepted"
    assert pd.isna(lead["rejection_reason"])


def test_legacy_epoch_millisecond_values_parse():
    props = {**CONTACT["properties"], "createdate": "1772439300000"}
    assert _lead([{**CONTACT, "properties": props}])["51"]["created_at"] == T("2026-03-02T08:15:00Z")


def test_unparseable_date_rejects_the_record_with_its_reason_and_keeps_the_rest():
    bad = {**CONTACT, "id": "52", "properties": {**CONTACT["properties"], "createdate": "not-a-date"}}
    mapped = mapping.leads_frame([CONTACT, bad, LEGACY_REJECTED])

    assert mapped.frame["external_id"].tolist() == ["51", "77"]
    [rejected] = mapped.rejected
    assert rejected["external_id"] == "52"
    assert rejected["object"] == "contacts"
    assert rejected["column_name"] == "createdate"
    assert rejected["reasons"] == ["createdate: 'not-a-date' is not a date"]
    assert rejected["raw"] is bad


def test_lead_frame_has_the_connector_columns_and_dtypes():
    frame = mapping.leads_frame([CONTACT, LEGACY_REJECTED]).frame
    assert set(frame.columns) == set(input_columns("leads")) - {"touches"}
    pd.testing.assert_frame_equal(frame, coerce_frame(frame, "leads", partial=True))


def test_deal_maps_amount_stage_labels_flags_and_first_contact():
    stages = mapping.stage_index(PIPELINES)
    won, renewal = (
        _deal("9001"),
        _deal(
            "9002",
            dealstage="98765001",
            pipeline="7612345",
            hs_is_closed=None,
            hs_is_closed_won=None,
            amount="1250.5",
            closedate="2026-09-30T00:00:00Z",
        ),
    )
    frame = mapping.deals_frame([won, renewal], stages).frame.set_index("external_id")

    assert frame.loc["9001", "stage"] == "Closed Won"
    assert frame.loc["9001", "pipeline"] == "Sales Pipeline"
    assert bool(frame.loc["9001", "is_closed"]) and bool(frame.loc["9001", "is_won"])
    assert frame.loc["9001", "closed_at"] == T("2026-05-15T12:00:00Z")
    assert frame.loc["9001", "amount"] == 32000.0
    assert frame.loc["9001", "currency"] == "EUR"
    assert frame.loc["9001", "channel"] == "Organic Search"
    assert frame.loc["9001", "lead_external_id"] == "77"  # the smallest associated contact id
    assert frame.loc["9002", "stage"] == "Renewal due"
    assert frame.loc["9002", "pipeline"] == "Renewals"
    # No hs_is_closed: the stage metadata decides; an open deal's closedate is only expected.
    assert not bool(frame.loc["9002", "is_closed"]) and not bool(frame.loc["9002", "is_won"])
    assert pd.isna(frame.loc["9002", "closed_at"])
    assert frame.loc["9002", "amount"] == 1250.5


def test_deal_with_unknown_stage_keeps_the_raw_ids():
    frame = mapping.deals_frame(
        [_deal("9003", dealstage="555", pipeline="999", hs_is_closed=None, hs_is_closed_won=None)], {}
    ).frame
    assert frame.loc[0, "stage"] == "555" and frame.loc[0, "pipeline"] == "999"
    assert pd.isna(frame.loc[0, "is_closed"])


def test_deal_with_a_bad_amount_is_rejected():
    mapped = mapping.deals_frame(
        [_deal("9004", amount="12,5x"), _deal("9005")], mapping.stage_index(PIPELINES)
    )
    assert mapped.frame["external_id"].tolist() == ["9005"]
    assert mapped.rejected[0]["reasons"] == ["amount: '12,5x' is not a number"]
    assert mapped.rejected[0]["object"] == "deals"


def test_associations_from_a_batch_read_override_the_records_own():
    frame = mapping.deals_frame([_deal("9001")], {}, associations={"9001": ["4242"]}).frame
    assert frame.loc[0, "lead_external_id"] == "4242"
    frame = mapping.deals_frame([_deal("9001")], {}, associations={}).frame
    assert pd.isna(frame.loc[0, "lead_external_id"])


def test_activities_become_touch_rows():
    records = [
        {
            "id": "50000001",
            "properties": {"hs_timestamp": "2026-03-03T11:00:00.000Z", "hubspot_owner_id": "101"},
            "createdAt": "2026-03-03T11:05:00Z",
            "updatedAt": "2026-03-03T11:05:00Z",
            "archived": False,
            "associations": {"contacts": {"results": [{"id": "51", "type": "call_to_contact"}]}},
        },
        {
            "id": "50000002",
            "properties": {"hs_timestamp": None, "hubspot_owner_id": None},
            "createdAt": "2026-03-04T09:00:00Z",
            "updatedAt": "2026-03-04T09:00:00Z",
            "archived": True,
            "archivedAt": "2026-03-05T00:00:00Z",
        },
    ]
    frame = mapping.activities_frame(records, "calls", "call").frame

    assert frame["kind"].tolist() == ["call", "call"]
    assert frame["lead_external_id"].tolist()[0] == "51" and pd.isna(frame["lead_external_id"].iloc[1])
    assert frame["occurred_at"].tolist() == [T("2026-03-03T11:00:00Z"), T("2026-03-04T09:00:00Z")]
    assert frame["archived"].tolist() == [False, True]
    bad = dict(records[0], id="50000003", properties={"hs_timestamp": "yesterday"})
    assert mapping.activities_frame([bad], "calls", "call").rejected[0]["column_name"] == "hs_timestamp"


def test_owners_primary_team_and_archived_owner():
    owners = mapping.owners_frame(
        [
            {
                "id": "101",
                "email": "anna@lumen.example",
                "firstName": "Anna",
                "lastName": "Becker",
                "archived": False,
                "teams": [
                    {"id": "1", "name": "Partners", "primary": False},
                    {"id": "2", "name": "EMEA", "primary": True},
                ],
                "updatedAt": "2026-01-01T00:00:00Z",
            },
            {
                "id": "102",
                "email": "left@lumen.example",
                "firstName": None,
                "lastName": None,
                "archived": True,
                "teams": [],
                "updatedAt": "2026-02-01T00:00:00Z",
            },
        ]
    ).frame.set_index("external_id")

    assert owners.loc["101", "team"] == "EMEA"
    assert bool(owners.loc["101", "active"])
    assert owners.loc["102", "name"] == "left@lumen.example"
    assert not bool(owners.loc["102", "active"]) and pd.isna(owners.loc["102", "team"])


# ----------------------------------------------------------------------------- hostile values (issue 8)


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999999999",  # epoch ms past what pandas holds: was OutOfBoundsDatetime
        9223372036854775,  # a JSON number, ms in the year 292 277
        "-99999999999999999",
        "-2208988800001",  # 1 ms before 1900
        "7289654400000",  # 2201-01-01: after 2200
        "-5",  # read as the year -5: was stored as a date no database can hold
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2201-01-01",
    ],
)
def test_a_date_outside_1900_to_2200_rejects_the_record(value):
    record = {**CONTACT, "properties": {**CONTACT["properties"], "createdate": value}}
    mapped = mapping.leads_frame([record])
    assert mapped.frame.empty
    assert mapped.rejected[0]["reasons"] == [f"createdate: {value!r} is not a date"]


def test_the_first_and_last_moments_of_1900_to_2200_are_dates():
    stamps, bad = mapping.parse_instants(["1900-01-01T00:00:00Z", "-2208988800000", "2200-12-31T23:59:59.999Z",
                                          "7289654399999"])  # fmt: skip
    assert not bad.any()
    assert stamps.tolist() == [T("1900-01-01", tz="UTC")] * 2 + [T("2200-12-31 23:59:59.999", tz="UTC")] * 2


def test_a_nul_character_in_any_stored_text_rejects_the_record():
    """PostgreSQL text cannot hold a NUL; the record is kept aside rather than stored altered."""
    nul_segment = {**CONTACT, "properties": {**CONTACT["properties"], "accord_segment": "a\x00b"}}
    nul_id = {**CONTACT, "id": "6\x00"}
    mapped = mapping.leads_frame([nul_segment, nul_id, {**CONTACT, "id": "52"}])
    assert mapped.frame["external_id"].tolist() == ["52"]
    reason = "contains a NUL character (\\x00), which cannot be stored"
    assert [(r["external_id"], r["reasons"]) for r in mapped.rejected] == [
        ("51", [f"accord_segment: {reason}"]),
        ("6\ufffd", [f"id: {reason}"]),  # shown with U+FFFD; the raw record keeps the id as sent
    ]
    assert mapped.rejected[1]["raw"]["id"] == "6\x00"


@pytest.mark.parametrize(
    ("frame", "prop", "limit"),
    [
        ("leads_frame", "lifecyclestage", 64),
        ("leads_frame", "accord_segment", 255),
        ("deals_frame", "dealname", 255),
        ("deals_frame", "deal_currency_code", 8),
        ("activities_frame", "hubspot_owner_id", 255),
    ],
)
def test_text_longer_than_its_column_rejects_the_record_naming_property_and_limit(frame, prop, limit):
    make = {"leads_frame": mapping.leads_frame, "deals_frame": mapping.deals_frame,
            "activities_frame": lambda r: mapping.activities_frame(r, "calls", "call")}[frame]  # fmt: skip
    base = {"id": "1", "properties": {"createdate": "2026-03-01", "hs_timestamp": "2026-03-01"}}
    fits = {**base, "properties": {**base["properties"], prop: "x" * limit}}
    too_long = {**base, "id": "2", "properties": {**base["properties"], prop: "x" * (limit + 1)}}
    mapped = make([fits, too_long])
    assert mapped.frame["external_id"].tolist() == ["1"]
    shown = repr("x" * min(limit + 1, 40)) + ("..." if limit + 1 > 40 else "")
    assert mapped.rejected[0]["reasons"] == [f"{prop}: {shown} is longer than {limit} characters"]
    assert mapped.rejected[0]["column_name"] == prop


def test_an_id_longer_than_its_column_rejects_the_record():
    mapped = mapping.deals_frame([{"id": "8" * 256, "properties": {"createdate": "2026-03-01"}}])
    assert mapped.frame.empty and mapped.rejected[0]["reasons"] == [
        f"id: {'8' * 40!r}... is longer than 255 characters"
    ]


def test_owners_with_unusable_names_are_rejected_with_the_reason_and_numbers_are_text():
    mapped = mapping.owners_frame(
        [
            {"id": "1", "firstName": 1, "lastName": 2.5, "email": 5, "teams": [{"name": 7, "primary": True}]},
            {"id": "2", "firstName": ["Ann"]},
            {"id": "3", "lastName": {"text": "Lee"}},
            {"id": "4", "firstName": "n" * 300},
            {"id": "5", "email": "e" * 330 + "@x.example"},
            {
                "id": "6",
                "email": "e" * 300 + "@x.example",
            },  # a fine e-mail, too long to stand in for the name
            {"id": "7", "firstName": "A\x00"},
            {"id": "8", "teams": "EMEA"},
        ]
    )
    assert mapped.frame[["external_id", "name", "email", "team"]].fillna("-").to_dict("records") == [
        {"external_id": "1", "name": "1 2.5", "email": "5", "team": "7"},
        {"external_id": "6", "name": "-", "email": "e" * 300 + "@x.example", "team": "-"},
    ]
    reasons = {r["external_id"]: r["reasons"] for r in mapped.rejected}
    assert reasons == {
        "2": ["firstName: ['Ann'] is not text"],
        "3": ["lastName: {'text': 'Lee'} is not text"],
        "4": [f"firstName/lastName: {'n' * 40!r}... is longer than 255 characters"],
        "5": [f"email: {'e' * 40!r}... is longer than 320 characters"],
        "7": ["firstName/lastName: contains a NUL character (\\x00), which cannot be stored"],
        "8": ["teams: 'EMEA' is not a list of teams"],
    }
    assert all(r["object"] == "owners" for r in mapped.rejected)


# ----------------------------------------------------------------------------- touches: oracle


def _slow_touch_updates(leads: pd.DataFrame, activities: pd.DataFrame) -> dict:
    """The obvious loop: per lead, count live activities and take the earliest time."""
    out = {}
    for lead in leads.itertuples(index=False):
        times = [
            a.occurred_at
            for a in activities.itertuples(index=False)
            if a.lead_external_id == lead.external_id and not a.archived
        ]
        first = min([t for t in [lead.first_touch_at, *times] if not pd.isna(t)], default=pd.NaT)
        touches = len(times)
        same_first = (pd.isna(first) and pd.isna(lead.first_touch_at)) or first == lead.first_touch_at
        if pd.isna(lead.touches) or lead.touches != touches or not same_first:
            out[lead.external_id] = (first, touches)
    return out


moments = st.one_of(
    st.none(), st.integers(0, 20).map(lambda d: T("2026-01-01", tz="UTC") + pd.Timedelta(days=d))
)


@settings(max_examples=40, deadline=None)
@given(
    leads=st.lists(st.tuples(moments, st.one_of(st.none(), st.integers(0, 3))), min_size=1, max_size=6),
    acts=st.lists(
        st.tuples(st.integers(0, 7), moments.filter(lambda m: m is not None), st.booleans()), max_size=12
    ),
)
def test_touch_updates_match_the_obvious_loop(leads, acts):
    lead_frame = pd.DataFrame(
        {
            "source": ["hubspot"] * len(leads),
            "external_id": [str(i) for i in range(len(leads))],
            "first_touch_at": pd.Series([f for f, _ in leads], dtype="datetime64[us, UTC]"),
            "touches": pd.array([n for _, n in leads], dtype="Int64"),
        }
    )
    act_frame = pd.DataFrame(
        {
            "lead_external_id": pd.Series([str(i) for i, _, _ in acts], dtype="str"),
            "occurred_at": pd.Series([t for _, t, _ in acts], dtype="datetime64[us, UTC]"),
            "archived": pd.array([a for _, _, a in acts], dtype="boolean"),
        }
    )
    fast = mapping.touch_updates(lead_frame, act_frame)
    got = {row.external_id: (row.first_touch_at, row.touches) for row in fast.itertuples(index=False)}
    want = _slow_touch_updates(lead_frame, act_frame)
    assert got.keys() == want.keys()
    for key, (first, touches) in want.items():
        assert got[key][1] == touches
        assert (pd.isna(got[key][0]) and pd.isna(first)) or got[key][0] == first


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.just(""),
            st.text(max_size=12),
            st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
                lambda d: d.isoformat().replace("+00:00", "Z")
            ),
        ),
        max_size=8,
    )
)
def test_parse_instants_never_loses_a_value_silently(values):
    stamps, bad = mapping.parse_instants(pd.Series(values, dtype=object))
    for value, stamp, is_bad in zip(values, stamps, bad, strict=True):
        present = value not in (None, "")
        # Every present value is either a timestamp or flagged bad; missing ones are neither.
        assert (not pd.isna(stamp)) + bool(is_bad) == (1 if present else 0)
