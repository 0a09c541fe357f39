"""Follow-up detail per lead and the overdue queue, by hand and against the slow business clock."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from analytics.agreement import parse_document
from analytics.commitments import evaluate
from analytics.followup import DETAIL_COLUMNS, FollowupError, followup_detail, followup_queue
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, slow_business_seconds, ts

SPEED = commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})
AS_OF = ts("2026-03-09 10:00")  # Monday; UTC, Mon-Fri 09:00-17:00


def test_detail_per_lead_by_hand():
    doc = agreement(commitments=[SPEED])
    frames = make_frames(
        owners=[{"id": 7, "name": "Ann", "external_id": "o-7"}],
        leads=[
            # Fri 15:00, touched Mon 09:30: 2 h + 0.5 h = 2.5 h: met. Created 14:00, assigned 14:30.
            {"mql_at": ts("2026-03-06 15:00"), "first_touch_at": ts("2026-03-09 09:30"), "owner_id": 7,
             "created_at": ts("2026-03-06 14:00"), "owner_assigned_at": ts("2026-03-06 14:30")},
            # Fri 16:00, untouched: 1 h Friday + 3 h Monday: due Mon 12:00; at Mon 10:00 2 h used, 2 h left
            {"mql_at": ts("2026-03-06 16:00"), "owner_id": 7},
            # Thu 10:00, untouched: due Thu 14:00; at Mon 10:00 7 + 8 + 1 = 16 h used: 12 h overdue
            {"mql_at": ts("2026-03-05 10:00"), "created_at": ts("2026-03-04 16:00"),
             "owner_assigned_at": ts("2026-03-05 09:30")},
        ],
    )  # fmt: skip
    detail = followup_detail(doc, frames, AS_OF)
    assert list(detail.columns) == DETAIL_COLUMNS
    by_lead = detail.set_index("lead_id")
    assert by_lead["status"].to_dict() == {1: "met", 2: "pending", 3: "breached"}
    assert by_lead.loc[1, "business_hours_taken"] == 2.5
    assert math.isnan(by_lead.loc[1, "hours_left"])
    assert by_lead.loc[2, "due_at"] == ts("2026-03-09 12:00")
    assert by_lead.loc[2, "hours_left"] == 2.0
    assert by_lead.loc[3, "due_at"] == ts("2026-03-05 14:00")
    assert by_lead.loc[3, "hours_left"] == -12.0
    # Assigned at 14:30, before the 15:00 handover: no routing delay, the rep's clock is the whole 2.5 h.
    assert by_lead.loc[1, "routing_hours"] == 0.0 and by_lead.loc[1, "rep_hours"] == 2.5
    assert by_lead.loc[3, "routing_hours"] == 0.0  # created Wed, assigned Thu 09:30, handed over Thu 10:00
    assert math.isnan(by_lead.loc[3, "rep_hours"])  # not touched yet
    assert math.isnan(by_lead.loc[2, "routing_hours"])  # assignment unknown
    assert by_lead.loc[1, "owner"] == "Ann" and pd.isna(by_lead.loc[3, "owner"])
    assert (detail["limit_hours"] == 4.0).all()
    assert detail["mql_at"].is_monotonic_increasing

    queue = followup_queue(detail, within_hours=2)
    assert queue["lead_id"].tolist() == [3, 2]  # most urgent (overdue) first
    assert queue["overdue"].tolist() == [True, False]
    assert followup_queue(detail, within_hours=1)["lead_id"].tolist() == [3]


def test_routing_and_rep_delay_split_the_clock():
    doc = agreement(commitments=[SPEED])
    frames = make_frames(
        leads=[
            # Handed over Mon 09:00 (created the week before), assigned 10:00, touched 12:00.
            {"mql_at": ts("2026-03-02 09:00"), "created_at": ts("2026-02-23 09:00"),
             "owner_assigned_at": ts("2026-03-02 10:00"), "first_touch_at": ts("2026-03-02 12:00")},
            # Touched before anyone was assigned: all of the clock is routing, none is the rep's.
            {"mql_at": ts("2026-03-03 09:00"), "owner_assigned_at": ts("2026-03-03 13:00"),
             "first_touch_at": ts("2026-03-03 11:00")},
        ],
    )  # fmt: skip
    by_lead = followup_detail(doc, frames, AS_OF).set_index("lead_id")
    assert by_lead.loc[1, ["routing_hours", "rep_hours", "business_hours_taken"]].tolist() == [1.0, 2.0, 3.0]
    assert by_lead.loc[2, ["routing_hours", "rep_hours"]].tolist() == [4.0, 0.0]


def test_limit_filters_and_range():
    doc = agreement(
        commitments=[
            commitment("speed-events", "followed_up_within", 0.9, params={"business_hours": 1},
                       filters={"channel": ["Events"]}),
            commitment("speed", "followed_up_within", 0.9, params={"business_hours": 8}),
        ]
    )  # fmt: skip
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-03-02 09:00"), "channel": "Events"},
            {"mql_at": ts("2026-03-03 09:00"), "channel": "Webinars"},
        ]
    )
    first = followup_detail(doc, frames, AS_OF)
    assert first["lead_id"].tolist() == [1] and first["limit_hours"].iloc[0] == 1.0
    chosen = followup_detail(doc, frames, AS_OF, commitment="speed")
    assert chosen["lead_id"].tolist() == [1, 2] and (chosen["limit_hours"] == 8.0).all()
    explicit = followup_detail(doc, frames, AS_OF, business_hours=2, start="2026-03-03", end="2026-03-04")
    assert explicit["lead_id"].tolist() == [2] and explicit["limit_hours"].iloc[0] == 2.0


def test_errors_say_what_to_do():
    doc = agreement()  # mql_count only
    with pytest.raises(FollowupError, match="no followed_up_within commitment; pass business_hours"):
        followup_detail(doc, make_frames(), AS_OF)
    with pytest.raises(
        FollowupError, match="no followed_up_within commitment 'fast'; follow-up commitments: speed"
    ):
        followup_detail(agreement(commitments=[SPEED]), make_frames(), AS_OF, commitment="fast")
    with pytest.raises(FollowupError, match="more than 0"):
        followup_detail(doc, make_frames(), AS_OF, business_hours=0)
    with pytest.raises(FollowupError, match="0 or more"):
        followup_queue(pd.DataFrame({"hours_left": [], "due_at": [], "lead_id": []}), within_hours=-1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=[SPEED]))
def test_detail_agrees_with_the_metric_and_the_slow_clock(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    detail = followup_detail(doc, frames, as_of)
    # the same leads and statuses as the followed_up_within metric
    result = evaluate(doc, frames, "2025-12-01", "2026-08-01", as_of)
    counts = detail["status"].value_counts()
    for status in ("met", "breached", "pending"):
        assert result[status].sum() == counts.get(status, 0)
    leads = frames["leads"].set_index("id")
    for row in detail.itertuples():
        team = leads.loc[row.lead_id, "team"]
        calendar = doc.calendar_for(team if team in doc.teams else None)
        elapsed = slow_business_seconds(row.mql_at, as_of, calendar)
        # due_at: exactly 4 business hours after the handover
        assert slow_business_seconds(row.mql_at, row.due_at, calendar) == pytest.approx(4 * 3600)
        if pd.isna(row.first_touch_at):
            assert row.hours_left == pytest.approx((4 * 3600 - elapsed) / 3600)
        else:
            taken = slow_business_seconds(row.mql_at, row.first_touch_at, calendar)
            assert row.business_hours_taken == pytest.approx(taken / 3600)
