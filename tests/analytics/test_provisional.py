"""Windows still running out (issue 13, item 4): a closed period is provisional until its last window ran out."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from analytics.agreement import parse_document
from analytics.commitments import MIN_DECIDED, WINDOWED, evaluate
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts

TOUCHES = commitment("touch", "touches_within", 0.5, params={"touches": 1, "business_days": 5})
VOLUME = commitment("mqls", "mql_count", 2, owner="marketing")


def _week(as_of):
    doc = agreement(period="week", commitments=[TOUCHES, VOLUME])
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-06 10:00")}, {"mql_at": ts("2026-03-06 11:00")}],  # Friday of W10
        activities=[{"lead_id": 1, "occurred_at": ts("2026-03-06 12:00"), "kind": "call"}],
    )
    return evaluate(doc, frames, "2026-03-02", "2026-03-09", as_of).set_index("commitment")


def test_a_closed_week_with_open_windows_is_provisional_not_met():
    rows = _week(ts("2026-03-09 09:00"))  # Monday: the week has closed, lead 2's 5 days run to Friday
    touch = rows.loc["touch"]
    assert touch["period_state"] == "provisional" and touch["status"] == "provisional"
    assert (touch["met"], touch["pending"]) == (1, 1)
    # Counts are final at the close.
    assert rows.loc["mqls", ["period_state", "status"]].tolist() == ["closed", "met"]


def test_the_week_settles_when_the_last_window_has_run_out():
    rows = _week(ts("2026-03-13 12:00"))  # Friday 12:00: lead 2's window ran out at 11:00
    touch = rows.loc["touch"]
    assert (touch["period_state"], touch["status"], touch["pending"]) == ("closed", "met", 0)
    assert touch["actual"] == 0.5


def test_a_current_rate_on_few_decided_leads_says_so():
    doc = agreement(commitments=[commitment("accept", "acceptance_rate", 0.5)])
    leads = [
        {"mql_at": ts("2026-03-02 10:00"), "disposition": "accepted", "disposition_at": ts("2026-03-03")}
    ]
    row = evaluate(doc, make_frames(leads=leads), "2026-03-01", "2026-04-01", ts("2026-03-10")).iloc[0]
    assert row["status"] == "too few decided"
    many = make_frames(leads=leads * MIN_DECIDED)
    assert evaluate(doc, many, "2026-03-01", "2026-04-01", ts("2026-03-10")).iloc[0]["status"] == "on track"


PROPERTY = [
    commitment("speed", "followed_up_within", 0.8, params={"business_hours": 4}),
    commitment("touch", "touches_within", 0.5, params={"touches": 2, "business_days": 2}),
    commitment("settle", "dispositioned_within", 0.5, params={"business_days": 3}),
    commitment("accept", "acceptance_rate", 0.5),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY, period="week"))
def test_only_a_settled_rate_is_met_or_missed_and_a_settled_window_leaves_nothing_pending(scenario):
    document, frames, as_of = scenario
    result = evaluate(parse_document(document), frames, "2026-01-01", "2026-07-01", as_of)
    rates = result[result["kind"] == "rate"]
    judged = rates[rates["status"].isin(["met", "missed"])]
    assert (judged["period_state"] == "closed").all()
    settled = rates[(rates["period_state"] == "closed") & rates["metric"].isin(WINDOWED)]
    assert (settled["pending"] == 0).all(), settled[["period", "metric", "pending"]]
    provisional = rates[rates["period_state"] == "provisional"]
    assert (provisional["period_end"] <= as_of).all()
    assert provisional["status"].isin(["provisional", "no target", "no data"]).all()


def test_a_provisional_rate_is_said_as_such_with_its_pending_leads():
    from analytics.wording import result_sentence

    touch = _week(ts("2026-03-09 09:00")).loc["touch"].to_dict()
    sentence = result_sentence(touch, noun="of leads touched within 5 business days")
    assert "provisional" in sentence and "1 leads still pending" in sentence and ": missed" not in sentence
