"""Breakdowns for the Marketing, Sales and Funnel pages: by hand, and against evaluate() as the oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from analytics.agreement import AgreementVersion, parse_document
from analytics.commitments import (
    UnknownMetricError,
    evaluate,
    row_for,
    rows_for,
    stage_targets,
    tracked_id,
    with_tracked,
)
from analytics.followup import delays_by, followup_by, followup_detail, followup_queue
from analytics.groups import ALL, NO_REASON, NO_VALUE, UNASSIGNED, BreakdownError
from analytics.periods import period_of
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts
from views.marketing import acceptance_by, rejection_reasons, volume_by
from views.sales import QUEUE_COLUMNS, queue_table, queue_window

AS_OF = ts("2026-03-20 12:00")  # Friday; UTC, Mon-Fri 09:00-17:00
MARCH = ("2026-03-01", "2026-04-01")
SPEED = commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})
ACCEPT = commitment("accept", "acceptance_rate", 0.5, owner="marketing")
MQLS = commitment("mqls", "mql_count", 10, owner="marketing")


def march_frames():
    """Five leads handed over in March (one in February), two deals, one rejected after as_of."""
    return make_frames(
        owners=[{"id": 1, "name": "Ann", "external_id": "o-1"}, {"id": 2, "name": "Bo", "external_id": "o-2"}],
        leads=[
            {"mql_at": ts("2026-03-02 10:00"), "channel": "Events", "campaign": "Roadshow",
             "sql_at": ts("2026-03-05 10:00"), "disposition": "accepted", "disposition_at": ts("2026-03-03 10:00")},
            {"mql_at": ts("2026-03-03 10:00"), "channel": "Events", "campaign": "Summit",
             "disposition": "rejected", "disposition_at": ts("2026-03-04 10:00"), "rejection_reason": "not_icp"},
            {"mql_at": ts("2026-03-04 10:00"), "channel": "Paid Search", "campaign": "Brand",
             "disposition": "rejected", "disposition_at": ts("2026-03-05 10:00")},
            # rejected only after as_of: still open at as_of
            {"mql_at": ts("2026-03-05 10:00"), "channel": "Paid Search", "campaign": "Brand",
             "disposition": "rejected", "disposition_at": ts("2026-03-25 10:00"), "rejection_reason": "duplicate"},
            {"mql_at": ts("2026-03-06 10:00"), "channel": None, "sql_at": ts("2026-03-09 10:00")},
            {"mql_at": ts("2026-02-20 10:00"), "channel": "Events", "sql_at": ts("2026-02-21 10:00")},
        ],
        deals=[
            {"lead_id": 1, "created_at": ts("2026-03-10 10:00"), "amount": 1000.0, "channel": "Events"},
            {"lead_id": 6, "created_at": ts("2026-03-11 10:00"), "amount": 500.0, "channel": "Partners"},
            {"lead_id": None, "created_at": ts("2026-03-12 10:00"), "amount": 9999.0, "channel": "Events"},
            {"lead_id": 2, "created_at": ts("2026-03-25 10:00"), "amount": 700.0, "channel": "Events"},  # after as_of
        ],
    )  # fmt: skip


# --- marketing -------------------------------------------------------------------------------------------


def test_volume_by_channel_by_hand():
    doc = agreement(commitments=[MQLS])
    table = volume_by(doc, march_frames(), *MARCH, AS_OF).set_index("channel")
    assert table["mqls"].to_dict() == {"Events": 2, "Paid Search": 2, NO_VALUE: 1}
    assert table["sqls"].to_dict() == {"Events": 1, "Paid Search": 0, NO_VALUE: 1}
    # the deal without a lead is not marketing-sourced; the one created after as_of does not exist yet;
    # lead 6's deal (own channel "Partners") takes its lead's channel, Events
    assert table["sourced_pipeline"].to_dict() == {"Events": 1500.0, "Paid Search": 0.0, NO_VALUE: 0.0}
    assert table.loc["Events", "mql_to_sql"] == 0.5
    assert table["share_of_mqls"].sum() == pytest.approx(1.0)
    assert table.index.tolist()[:2] == ["Events", "Paid Search"]  # most MQLs first


def test_volume_by_campaign_follows_the_deals_lead():
    doc = agreement(commitments=[MQLS])
    table = volume_by(doc, march_frames(), *MARCH, AS_OF, by="campaign").set_index("campaign")
    assert table["mqls"].to_dict() == {"Brand": 2, "Roadshow": 1, "Summit": 1, NO_VALUE: 1}
    # lead 1's deal counts for its campaign; lead 6 (February, no campaign) for "(none)"
    assert table.loc["Roadshow", "sourced_pipeline"] == 1000.0
    assert table.loc[NO_VALUE, "sourced_pipeline"] == 500.0


def test_volume_by_campaign_without_any_lead():
    """An owner with deals only (e.g. a sales manager): no lead, so no campaign and no sourced deal."""
    doc = agreement(commitments=[MQLS])
    frames = make_frames(deals=[{"created_at": ts("2026-03-05 10:00"), "amount": 1000.0, "lead_id": 7}])
    table = volume_by(doc, frames, *MARCH, AS_OF, by="campaign")
    assert table.empty


def test_acceptance_and_rejection_reasons_by_hand():
    doc = agreement(commitments=[ACCEPT])
    table = acceptance_by(doc, march_frames(), *MARCH, AS_OF).set_index("channel")
    assert table.loc["Events"].to_dict() | {} == {
        "leads": 2, "accepted": 1, "rejected": 1, "open": 0, "acceptance_rate": 0.5, "top_reason": "not_icp"
    }  # fmt: skip
    assert table.loc["Paid Search", ["accepted", "rejected", "open"]].tolist() == [0, 1, 1]
    assert table.loc["Paid Search", "top_reason"] == NO_REASON
    assert math.isnan(table.loc[NO_VALUE, "acceptance_rate"]) and pd.isna(table.loc[NO_VALUE, "top_reason"])

    reasons = rejection_reasons(doc, march_frames(), *MARCH, AS_OF)
    assert reasons.to_dict("list") == {
        "channel": ["Events", "Paid Search"], "reason": ["not_icp", NO_REASON], "rejected": [1, 1],
        "share": [1.0, 1.0],
    }  # fmt: skip
    overall = rejection_reasons(doc, march_frames(), *MARCH, ts("2026-03-31 12:00"), by=None)
    assert overall.set_index("reason")["rejected"].to_dict() == {
        "duplicate": 1,
        "not_icp": 1,
        NO_REASON: 1,
    }
    assert list(overall.columns) == ["reason", "rejected", "share"]


def test_rejection_shares_add_up_per_group():
    leads = [
        {"mql_at": ts("2026-03-02 10:00") + pd.Timedelta(hours=i), "channel": c, "disposition": "rejected",
         "disposition_at": ts("2026-03-10 10:00"), "rejection_reason": r}
        for i, (c, r) in enumerate([("A", "x"), ("A", "x"), ("A", "y"), ("B", "y"), ("B", None)])
    ]  # fmt: skip
    reasons = rejection_reasons(agreement(), make_frames(leads=leads), *MARCH, AS_OF)
    assert reasons.groupby("channel")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert reasons[reasons["channel"] == "A"]["reason"].tolist() == ["x", "y"]  # most frequent first
    assert reasons["channel"].tolist()[0] == "A"  # the channel with most rejections first


def test_breakdowns_refuse_unknown_fields_and_empty_windows():
    doc = agreement()
    with pytest.raises(BreakdownError, match="unknown breakdown by='owner'; use one of: channel"):
        volume_by(doc, march_frames(), *MARCH, AS_OF, by="owner")
    with pytest.raises(BreakdownError, match="the window is empty"):
        acceptance_by(doc, march_frames(), "2026-04-01", "2026-03-01", AS_OF)


def test_breakdowns_of_a_window_without_leads_are_empty_frames():
    doc = agreement()
    for build in (volume_by, acceptance_by, rejection_reasons):
        assert build(doc, march_frames(), "2025-01-01", "2025-02-01", AS_OF).empty
    assert volume_by(doc, make_frames(), *MARCH, AS_OF).empty


ORACLE_COMMITMENTS = [
    commitment("mqls", "mql_count", 5, owner="marketing"),
    commitment("sqls", "sql_count", 2, owner="marketing"),
    commitment("pipeline", "sourced_pipeline", 1000, owner="marketing"),
    commitment("accept", "acceptance_rate", 0.5, owner="marketing"),
]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=ORACLE_COMMITMENTS, period="month"))
def test_channel_breakdowns_agree_with_evaluate(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    month = period_of(as_of, "month", doc.timezone)
    start, end = month["period_start"], month["period_end"]
    result = evaluate(doc, frames, start, end, as_of, by="channel").set_index(["commitment", "channel"])
    volume = volume_by(doc, frames, start, end, as_of).set_index("channel")
    acceptance = acceptance_by(doc, frames, start, end, as_of).set_index("channel")

    def per_channel(cid: str, column: str = "actual") -> dict:
        rows = result.loc[cid] if cid in result.index.get_level_values(0) else pd.DataFrame(columns=[column])
        return {k: v for k, v in rows[column].items() if v}

    assert {k: v for k, v in volume["mqls"].items() if v} == per_channel("mqls")
    assert {k: v for k, v in volume["sqls"].items() if v} == per_channel("sqls")
    assert {k: v for k, v in volume["sourced_pipeline"].items() if v} == pytest.approx(
        per_channel("pipeline")
    )
    for column, outcome in (("accepted", "met"), ("rejected", "breached"), ("open", "pending")):
        assert {k: v for k, v in acceptance[column].items() if v} == per_channel("accept", outcome)
    reasons = rejection_reasons(doc, frames, start, end, as_of)
    assert reasons.groupby("channel")["rejected"].sum().to_dict() == {
        k: v for k, v in acceptance["rejected"].items() if v
    }


# --- tracked metrics ---------------------------------------------------------------------------------------


def test_with_tracked_adds_what_is_missing_and_changes_nothing():
    doc = agreement(commitments=[MQLS, commitment("sql_count", "acceptance_rate", 0.4)])
    versions = with_tracked(doc, ["mql_count", "sql_count", "won_revenue", "sql_count"])
    added = versions[0].document.commitments[2:]
    assert [c.id for c in added] == ["sql_count-tracked", "won_revenue"]  # the id sql_count is taken
    assert all(c.target is None and c.owner == "marketing" for c in added)
    assert len(doc.commitments) == 2  # the input is not changed
    assert tracked_id(doc, "mql_count") == "mqls" and tracked_id(doc, "sql_count") == "sql_count-tracked"
    result = evaluate(versions, march_frames(), *MARCH, AS_OF)
    sqls = result.set_index("commitment").loc["sql_count-tracked"]
    assert sqls["actual"] == 2 and sqls["status"] == "no target"
    with pytest.raises(UnknownMetricError, match="unknown metric 'leads'"):
        with_tracked(doc, ["leads"])
    assert with_tracked(doc, [], party="sales")[0].document == doc


def test_rows_for_follows_a_metric_across_versions():
    v1 = agreement(commitments=[MQLS])
    v2 = agreement(commitments=[commitment("mql-volume", "mql_count", 20, owner="marketing")])
    versions = [
        AgreementVersion(agreement="Test SLA", version=1, effective_from=ts("2026-01-01"), document=v1,
                         created_at=ts("2026-01-01")),
        AgreementVersion(agreement="Test SLA", version=2, effective_from=ts("2026-03-01"), document=v2,
                         created_at=ts("2026-03-01")),
    ]  # fmt: skip
    result = evaluate(versions, march_frames(), "2026-02-01", "2026-04-01", AS_OF)
    rows = rows_for(result, v2, "mql_count")
    assert rows["period"].tolist() == ["2026-02", "2026-03"]
    assert rows["target"].tolist() == [10.0, 20.0]
    assert row_for(result, v2, "mql_count", "2026-03")["actual"] == 5
    assert row_for(result, v2, "mql_count", "2026-05") is None


def test_stage_targets_come_from_unfiltered_count_commitments():
    doc = agreement(commitments=[MQLS, commitment("sqls", "sql_count", 4, filters={"channel": ["Events"]})])
    assert stage_targets(doc) == {"MQL": 10.0}
    assert stage_targets(agreement(commitments=[commitment("sqls", "sql_count", None)])) == {}


# --- sales -------------------------------------------------------------------------------------------------


def detail_frame():
    """A hand-made followup_detail frame: Ann 2 met 1 breached-untouched, Bo 1 pending, one unassigned."""
    return pd.DataFrame(
        {
            "lead_id": [1, 2, 3, 4, 5],
            "owner_id": pd.array([1, 1, 1, 2, None], dtype="Int64"),
            "owner": pd.Series(["Ann", "Ann", "Ann", "Bo", None], dtype="str"),
            "team": pd.Series(["A", "A", "B", "B", None], dtype="str"),
            "first_touch_at": pd.to_datetime(["2026-03-02 11:00", "2026-03-02 12:00", None, None, "2026-03-03 09:00"],
                                             utc=True),
            "business_hours_taken": [1.0, 3.0, np.nan, np.nan, 10.0],
            "status": ["met", "met", "breached", "pending", "breached"],
            "routing_hours": [0.5, 1.5, np.nan, 2.0, 4.0],
            "rep_hours": [0.5, 1.5, np.nan, np.nan, 6.0],
        }
    )  # fmt: skip


def test_followup_by_owner_team_and_overall_by_hand():
    per_owner = followup_by(detail_frame(), by="owner")
    assert per_owner["owner"].tolist() == [UNASSIGNED, "Ann", "Bo"]  # worst rate first, no rate last
    ann = per_owner.set_index("owner").loc["Ann"]
    assert (ann["leads"], ann["met"], ann["breached"], ann["pending"]) == (3, 2, 1, 0)
    assert ann["rate"] == pytest.approx(2 / 3) and ann["median_hours"] == 2.0
    assert ann["p90_hours"] == pytest.approx(2.8) and ann["overdue_untouched"] == 1
    assert ann["team"] == "A"  # the team of most of Ann's leads
    assert math.isnan(per_owner.set_index("owner").loc["Bo", "rate"])
    assert pd.isna(per_owner.set_index("owner").loc[UNASSIGNED, "owner_id"])

    per_team = followup_by(detail_frame(), by="team").set_index("team")
    assert per_team["leads"].to_dict() == {"A": 2, "B": 2, NO_VALUE: 1}
    assert per_team.loc["B", "breached"] == 1 and per_team.loc["A", "rate"] == 1.0

    overall = followup_by(detail_frame(), by=None)
    assert len(overall) == 1 and overall.loc[0, "rate"] == 0.5 and overall.loc[0, "median_hours"] == 3.0
    empty = followup_by(detail_frame().iloc[:0], by=None)
    assert empty.loc[0, "leads"] == 0 and math.isnan(empty.loc[0, "rate"])
    assert followup_by(detail_frame().iloc[:0], by="owner").empty


def test_delays_by_team_by_hand():
    delays = delays_by(detail_frame(), by="team")
    assert delays["team"].tolist() == [ALL, NO_VALUE, "A", "B"]
    everyone = delays.iloc[0]
    assert (everyone["leads"], everyone["routed"]) == (5, 4)
    assert everyone["routing_median"] == 1.75 and everyone["rep_median"] == 1.5
    assert everyone["taken_median"] == 3.0
    team_a = delays.set_index("team").loc["A"]
    assert team_a["routing_p90"] == pytest.approx(1.4) and team_a["rep_p90"] == pytest.approx(1.4)
    empty = delays_by(detail_frame().iloc[:0])
    assert empty["team"].tolist() == [ALL] and empty.loc[0, "leads"] == 0
    assert math.isnan(empty.loc[0, "routing_median"])
    by_owner = delays_by(detail_frame(), by="owner")
    assert by_owner["owner"].tolist() == [ALL, UNASSIGNED, "Ann", "Bo"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=[SPEED, commitment("median", "response_time_median", 4),
                              commitment("p90", "response_time_p90", 8)], period="month"))  # fmt: skip
def test_followup_by_agrees_with_evaluate(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    month = period_of(as_of, "month", doc.timezone)
    start, end = month["period_start"], month["period_end"]
    detail = followup_detail(doc, frames, as_of, start=start, end=end)
    per_owner = followup_by(detail, by="owner")
    result = evaluate(doc, frames, start, end, as_of, by="owner")
    speed = result[result["commitment"] == "speed"]
    expected = {
        (-1 if pd.isna(r.owner_id) else int(r.owner_id)): (r.met, r.breached, r.pending)
        for r in speed.itertuples()
    }
    got = {
        (-1 if pd.isna(r.owner_id) else int(r.owner_id)): (r.met, r.breached, r.pending)
        for r in per_owner.itertuples()
    }
    assert got == expected
    overall = followup_by(detail, by=None).iloc[0]
    whole = evaluate(doc, frames, start, end, as_of).set_index("commitment")
    for column, cid in (("median_hours", "median"), ("p90_hours", "p90"), ("rate", "speed")):
        want = whole.loc[cid, "actual"] if len(whole) else np.nan
        assert overall[column] == pytest.approx(want, nan_ok=True)


def test_queue_window_and_table():
    start, end = queue_window(ts("2026-03-20 12:00"), days=7)
    assert (start, end) == (ts("2026-03-13"), ts("2026-03-21"))
    with pytest.raises(BreakdownError, match="at least 1 day"):
        queue_window(ts("2026-03-20 12:00"), days=0)

    doc = agreement(commitments=[SPEED])
    frames = make_frames(
        owners=[{"id": 1, "name": "Ann", "external_id": "o-1"}],
        leads=[
            {
                "mql_at": ts("2026-03-19 10:00"),
                "owner_id": 1,
                "channel": "Events",
            },  # due Thu 14:00: 10 h used, overdue by 6
            {"mql_at": ts("2026-03-20 10:00")},  # due Fri 14:00: 2 h left, no owner
            {"mql_at": ts("2026-03-20 11:00"), "first_touch_at": ts("2026-03-20 11:30")},  # touched
        ],
    )
    queue = followup_queue(followup_detail(doc, frames, AS_OF), within_hours=4)
    table = queue_table(queue, frames["leads"], "Europe/Berlin")
    assert list(table.columns) == QUEUE_COLUMNS
    assert table["lead"].tolist() == ["leads-1", "leads-2"]
    assert table["owner"].tolist() == ["Ann", UNASSIGNED]
    assert table["state"].tolist() == ["overdue by 6.0 business hours", "due in 2.0 business hours"]
    assert str(table["due"].dt.tz) == "Europe/Berlin" and table["due"].iloc[1] == ts("2026-03-20 14:00")
    assert queue_table(queue.iloc[:0], frames["leads"], "UTC").empty
