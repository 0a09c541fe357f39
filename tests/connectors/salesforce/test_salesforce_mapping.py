"""The pure Salesforce mapping on payloads recorded in the shape Salesforce sends them (REST JSON, Bulk CSV)."""

from __future__ import annotations

import json

import pandas as pd

from connectors.salesforce import mapping
from connectors.salesforce.settings import FieldChoices

# A REST queryAll page's records, as Salesforce sends them (attributes, "+0000" offsets, JSON types).
REST_LEADS = json.loads(
    """[
  {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q5g00000A1bCdEAF"},
   "Id": "00Q5g00000A1bCdEAF", "CreatedDate": "2026-03-02T14:05:09.000+0000", "OwnerId": "0055g00000XyZaBAAV",
   "Status": "Working - Contacted", "LeadSource": "Web", "IsConverted": false, "ConvertedDate": null,
   "ConvertedOpportunityId": null, "ConvertedContactId": null, "IsDeleted": false,
   "SystemModstamp": "2026-03-04T08:00:00.000+0000", "MQL_Date__c": "2026-03-03T10:00:00.000+0000",
   "Rejection_Reason__c": null},
  {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q5g00000A1bCeEAF"},
   "Id": "00Q5g00000A1bCeEAF", "CreatedDate": "2026-03-05T09:00:00.000+0000", "OwnerId": "0055g00000XyZaBAAV",
   "Status": "Closed - Not Converted", "LeadSource": "Partner Referral", "IsConverted": false,
   "ConvertedDate": null, "ConvertedOpportunityId": null, "ConvertedContactId": null, "IsDeleted": true,
   "SystemModstamp": "2026-03-09T08:00:00.000+0000", "MQL_Date__c": "2026-03-05T09:30:00.000+0000",
   "Rejection_Reason__c": "No budget"},
  {"attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q5g00000A1bCfEAF"},
   "Id": "00Q5g00000A1bCfEAF", "CreatedDate": "2026-03-06T09:00:00.000+0000", "OwnerId": "0055g00000XyZaBAAV",
   "Status": "Qualified", "LeadSource": null, "IsConverted": true, "ConvertedDate": "2026-03-20",
   "ConvertedOpportunityId": "0065g00000OpPoRAAV", "ConvertedContactId": "0035g00000CoNtAAAV",
   "IsDeleted": false, "SystemModstamp": "2026-03-20T08:00:00.000+0000", "MQL_Date__c": null,
   "Rejection_Reason__c": null}
]"""
)
HISTORY = [
    {"LeadId": "00Q5g00000A1bCdEAF", "Field": "Status", "OldValue": "Marketing Qualified",
     "NewValue": "Working - Contacted", "CreatedDate": "2026-03-03T15:30:00.000+0000"},
    {"LeadId": "00Q5g00000A1bCeEAF", "Field": "Status", "OldValue": "Open - Not Contacted",
     "NewValue": "Unqualified", "CreatedDate": "2026-03-06T09:00:00.000+0000"},
    {"LeadId": "00Q5g00000A1bCeEAF", "Field": "Status", "OldValue": "Unqualified",
     "NewValue": "Working - Contacted", "CreatedDate": "2026-03-07T09:00:00.000+0000"},
    {"LeadId": "00Q5g00000A1bCeEAF", "Field": "Status", "OldValue": "Working - Contacted",
     "NewValue": "Closed - Not Converted", "CreatedDate": "2026-03-08T11:00:00.000+0000"},
]  # fmt: skip


def _leads(records=REST_LEADS, history=HISTORY, fields=None):
    return mapping.leads_frame(records, mapping.status_changes(history), FieldChoices(), fields)


def test_rest_leads_become_canonical_leads():
    mapped = _leads()
    assert mapped.rejected == []
    rows = mapped.frame.set_index("external_id")
    working, rejected, converted = rows.index
    t = pd.Timestamp
    assert rows.loc[working, "mql_at"] == t("2026-03-03 10:00", tz="UTC")
    assert rows.loc[working, "disposition"] == "accepted"
    assert rows.loc[working, "disposition_at"] == t("2026-03-03 15:30", tz="UTC")  # dated by LeadHistory
    assert rows.loc[rejected, "disposition"] == "rejected" and bool(rows.loc[rejected, "archived"])
    assert rows.loc[rejected, "disposition_at"] == t("2026-03-08 11:00", tz="UTC")  # the decision that stands
    assert rows.loc[rejected, "rejection_reason"] == "No budget"
    assert pd.isna(rows.loc[working, "rejection_reason"])
    assert rows.loc[converted, "sql_at"] == t("2026-03-20", tz="UTC")
    assert rows.loc[converted, "disposition_at"] == t(
        "2026-03-20", tz="UTC"
    )  # no Status change: ConvertedDate
    assert rows.loc[converted, "lifecycle_stage"] == "converted"
    assert rows.loc[working, "channel"] == "Web" and pd.isna(rows.loc[converted, "channel"])
    assert rows.loc[working, "updated_at"] == t("2026-03-04 08:00", tz="UTC")


def test_without_the_mql_field_the_handover_is_the_first_change_into_an_mql_status():
    lead_fields = frozenset(REST_LEADS[0]) - {"MQL_Date__c"}
    records = [{k: v for k, v in r.items() if k != "MQL_Date__c"} for r in REST_LEADS]
    history = [*HISTORY, {"LeadId": "00Q5g00000A1bCfEAF", "Field": "Status", "OldValue": "Open - Not Contacted",
                          "NewValue": "Marketing Qualified", "CreatedDate": "2026-03-10T12:00:00.000+0000"}]  # fmt: skip
    rows = _leads(records, history, lead_fields).frame.set_index("external_id")["mql_at"]
    # created as an MQL (its first change left the MQL status): its creation; never an MQL: none
    assert rows.iloc[0] == pd.Timestamp("2026-03-02 14:05:09", tz="UTC")
    assert pd.isna(rows.iloc[1])
    assert rows.iloc[2] == pd.Timestamp("2026-03-10 12:00", tz="UTC")


def test_bulk_csv_rows_read_like_rest_json():
    # The same leads as Bulk API 2.0 CSV cells: text everywhere, "Z" offsets, empty cells already None.
    def as_csv(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.endswith("+0000"):
            return value.replace("+0000", "Z")
        return value

    bulk = [{k: as_csv(v) for k, v in r.items() if k != "attributes"} for r in REST_LEADS]
    rest = _leads().frame
    pd.testing.assert_frame_equal(_leads(bulk).frame, rest)


def test_malformed_records_are_kept_aside_with_reasons_and_the_rest_kept():
    bad = [
        {**REST_LEADS[0], "Id": "00QBADDATE0000000A", "CreatedDate": "yesterday"},
        {**REST_LEADS[0], "Id": None},
        {**REST_LEADS[0], "Id": "00QBADFLAG0000000A", "IsConverted": "perhaps"},
        {**REST_LEADS[0], "Id": "00QBADTEXT0000000A", "LeadSource": "We\x00b"},
        {**REST_LEADS[0], "Id": "00QLONGTXT0000000A", "Status": "x" * 65},
    ]
    mapped = _leads([*bad, REST_LEADS[2]])
    assert mapped.frame["external_id"].tolist() == [REST_LEADS[2]["Id"]]
    reasons = [r["reasons"][0] for r in mapped.rejected]
    assert reasons == [
        "CreatedDate: 'yesterday' is not a date",
        "Id: missing: a record without an Id cannot be kept up to date",
        "IsConverted: 'perhaps' is not true or false",
        "LeadSource: contains a NUL character (\\x00), which cannot be stored",
        "Status: " + repr("x" * 40)[:40] + "... is longer than 64 characters",
    ]
    assert all(r["source"] == "salesforce" and r["object"] == "Lead" and r["raw"] for r in mapped.rejected)


def test_opportunities_keep_a_missing_amount_missing_and_link_their_lead():
    records = [
        {"attributes": {"type": "Opportunity"}, "Id": "0065g00000OpPoRAAV", "Name": "Acme renewal",
         "CreatedDate": "2026-03-20T08:00:00.000+0000", "CloseDate": "2026-04-30", "Amount": None,
         "StageName": "Closed Won", "IsClosed": True, "IsWon": True, "OwnerId": "0055g00000XyZaBAAV",
         "LeadSource": "Web", "IsDeleted": False, "SystemModstamp": "2026-04-30T08:00:00.000+0000"},
        {"attributes": {"type": "Opportunity"}, "Id": "0065g00000OpPoSAAV", "Name": "Globex",
         "CreatedDate": "2026-03-21T08:00:00.000+0000", "CloseDate": "2026-06-30", "Amount": 0.0,
         "StageName": "Prospecting", "IsClosed": False, "IsWon": False, "OwnerId": "0055g00000XyZaBAAV",
         "LeadSource": None, "IsDeleted": False, "SystemModstamp": "2026-03-21T08:00:00.000+0000"},
        {"Id": "0065g00000OpPoTAAV", "Amount": "a lot", "CloseDate": "2026-13-45"},
    ]  # fmt: skip
    mapped = mapping.deals_frame(records, {"0065g00000OpPoRAAV": "00Q5g00000A1bCfEAF"})
    rows = mapped.frame.set_index("external_id")
    won, open_ = rows.index
    assert pd.isna(rows.loc[won, "amount"]) and rows.loc[open_, "amount"] == 0.0  # null stays null, 0 stays 0
    assert rows.loc[won, "closed_at"] == pd.Timestamp("2026-04-30", tz="UTC")
    assert pd.isna(rows.loc[open_, "closed_at"])  # an open deal's CloseDate is only expected
    assert rows.loc[won, "lead_external_id"] == "00Q5g00000A1bCfEAF" and pd.isna(
        rows.loc[open_, "lead_external_id"]
    )
    assert bool(rows.loc[won, "is_won"]) and not bool(rows.loc[open_, "is_closed"])
    assert mapped.rejected[0]["reasons"] == [
        "CloseDate: '2026-13-45' is not a date",
        "Amount: 'a lot' is not a number",
    ]


def test_tasks_and_events_on_a_lead_or_its_converted_contact_become_touches():
    tasks = [
        {"Id": "00T1", "WhoId": "00Q5g00000A1bCdEAF", "OwnerId": "005A", "TaskSubtype": "Call",
         "CreatedDate": "2026-03-03T16:00:00.000+0000", "CompletedDateTime": "2026-03-03T15:55:00.000+0000",
         "IsDeleted": False},
        {"Id": "00T2", "WhoId": "0035g00000CoNtAAAV", "OwnerId": "005A", "TaskSubtype": "Email",
         "CreatedDate": "2026-03-21T09:00:00.000+0000", "CompletedDateTime": None, "IsDeleted": False},
        {"Id": "00T3", "WhoId": "0035g00000OtHeRAAV", "OwnerId": "005A", "TaskSubtype": "Task",
         "CreatedDate": "2026-03-21T09:00:00.000+0000", "IsDeleted": True},
    ]  # fmt: skip
    mapped = mapping.activities_frame(tasks, "Task", {"0035g00000CoNtAAAV": "00Q5g00000A1bCfEAF"})
    rows = mapped.frame.set_index("external_id")
    assert rows["lead_external_id"].tolist()[:2] == ["00Q5g00000A1bCdEAF", "00Q5g00000A1bCfEAF"]
    assert pd.isna(rows.loc["00T3", "lead_external_id"]) and bool(rows.loc["00T3", "archived"])
    assert rows["kind"].tolist() == ["call", "email", "task"]
    assert rows.loc["00T1", "occurred_at"] == pd.Timestamp("2026-03-03 15:55", tz="UTC")
    events = mapping.activities_frame(
        [{"Id": "00U1", "WhoId": "00Q5g00000A1bCdEAF", "StartDateTime": "2026-03-05T10:00:00.000+0000",
          "CreatedDate": "2026-03-04T10:00:00.000+0000", "IsDeleted": False}], "Event"
    )  # fmt: skip
    assert events.frame["kind"].tolist() == ["meeting"]
    assert events.frame["occurred_at"].iloc[0] == pd.Timestamp("2026-03-05 10:00", tz="UTC")


def test_users_become_owners_with_the_configured_team_field():
    users = [
        {"Id": "005A", "Name": "Ada Byron", "Email": "ada@example.com", "IsActive": True, "Region__c": "EMEA",
         "Department": "Sales", "SystemModstamp": "2026-01-01T00:00:00.000+0000"},
        {"Id": "005B", "Name": "Bo", "IsActive": False, "Region__c": None, "SystemModstamp": "not a date"},
    ]  # fmt: skip
    mapped = mapping.owners_frame(users, "Region__c")
    assert mapped.frame[["external_id", "team", "active"]].to_dict("records") == [
        {"external_id": "005A", "team": "EMEA", "active": True}
    ]
    assert mapped.rejected[0]["reasons"] == ["SystemModstamp: 'not a date' is not a date"]


def test_latest_per_id_keeps_the_last_read_of_a_record():
    records = [{"Id": "1", "v": 1}, {"Id": "2", "v": 1}, {"Id": "1", "v": 2}]
    assert mapping.latest_per_id(records) == [{"Id": "2", "v": 1}, {"Id": "1", "v": 2}]
