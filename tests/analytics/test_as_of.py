"""As of means as of (issue 13, item 5): nothing recorded after the as-of instant changes a figure shown as of it."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings

from analytics.agreement import AgreementVersion, parse_document
from analytics.commitments import evaluate
from analytics.snapshots import week_figures, week_overview
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts

AS_OF = ts("2026-11-27 12:00")  # Friday of W48 (Mon 23 - Sun 29 November 2026)
WEEKLY = [
    commitment("mql-volume", "mql_count", 3, owner="marketing"),
    commitment("speed-to-lead", "followed_up_within", 0.5, params={"business_hours": 4}),
]


def _version(document, number, created, effective="1970-01-01T00:00:00Z"):
    return AgreementVersion(agreement=document.name, version=number, effective_from=pd.Timestamp(effective),
                            document=document, created_at=pd.Timestamp(created))  # fmt: skip


def test_an_agreement_version_saved_after_as_of_is_not_used():
    v1 = _version(
        agreement(commitments=[commitment("m", "mql_count", 10, owner="marketing")]), 1, "2026-01-01T00:00Z"
    )
    # Saved on 1 December with effect from 1 November: not known on 27 November.
    v2 = _version(agreement(commitments=[commitment("m", "mql_count", 99, owner="marketing")]), 2,
                  "2026-12-01T09:00Z", effective="2026-11-01T00:00Z")  # fmt: skip
    frames = make_frames(leads=[{"mql_at": ts("2026-11-02 10:00")}])
    row = evaluate([v1, v2], frames, "2026-11-01", "2026-12-01", AS_OF).iloc[0]
    assert (row["version"], row["target"]) == (1, 10)
    later = evaluate([v1, v2], frames, "2026-11-01", "2026-12-01", ts("2026-12-02")).iloc[0]
    assert (later["version"], later["target"]) == (2, 99)


def test_a_snapshot_frozen_after_as_of_is_not_used_and_the_week_of_as_of_is_in_progress():
    document = agreement(period="week", commitments=WEEKLY)
    versions = [_version(document, 1, "2026-01-01T00:00Z")]
    early = make_frames(leads=[{"mql_at": ts("2026-11-23 10:00")}])
    # Rows recorded after as_of: a lead handed over on Saturday, a touch on Friday afternoon.
    full = make_frames(
        leads=[
            {"mql_at": ts("2026-11-23 10:00"), "first_touch_at": ts("2026-11-27 15:00")},
            {"mql_at": ts("2026-11-28 10:00"), "created_at": ts("2026-11-28 09:00")},
        ]  # fmt: skip
    )
    # A final snapshot of W48 frozen on 30 November (after as_of), with the later lead in it.
    late = pd.DataFrame({"week": ["2026-W48"], "final": [True], "frozen_at": [ts("2026-11-30 06:00")],
                         "figures": [week_figures(versions, full, "2026-W48", ts("2026-11-30 06:00"))]})  # fmt: skip
    overview = week_overview(versions, full, late, "2026-W48", AS_OF)
    assert overview.frozen == {}
    week = overview.week_rows().set_index("commitment")
    assert (week["period_state"] == "current").all()  # in progress
    assert week.loc["mql-volume", "actual"] == 1
    assert week.loc["speed-to-lead", "breached"] == 1  # the touch after as_of has not happened
    truth = week_overview(versions, early, None, "2026-W48", AS_OF).week_rows().set_index("commitment")
    pd.testing.assert_frame_equal(week[["actual", "status", "n"]], truth[["actual", "status", "n"]])


def _truncated(frames, as_of):
    """The frames as a database restored to as_of would hold them: later rows gone, later times unknown."""
    leads = frames["leads"]
    leads = leads[~(leads["created_at"] > as_of).fillna(False)].copy()
    for column in ("mql_at", "sql_at", "owner_assigned_at", "first_touch_at", "disposition_at"):
        later = (leads[column] > as_of).fillna(False)
        if column == "disposition_at":
            leads.loc[later, "disposition"] = "open"
        leads.loc[later, column] = pd.NaT
    deals = frames["deals"]
    deals = deals[~(deals["created_at"] > as_of).fillna(False)].copy()
    later = (deals["closed_at"] > as_of).fillna(False)
    deals.loc[later, ["is_won", "is_closed"]] = False
    deals.loc[later, "closed_at"] = pd.NaT
    activities = frames["activities"]
    activities = activities[~(activities["occurred_at"] > as_of).fillna(False)]
    return {"leads": leads, "deals": deals, "activities": activities, "owners": frames["owners"]}


PROPERTY = [
    commitment("mqls", "mql_count", 3, owner="marketing"),
    commitment("sqls", "sql_count", 1, owner="marketing"),
    commitment("pipe", "sourced_pipeline", 5000, owner="marketing"),
    commitment("won", "won_revenue", 5000, owner="marketing"),
    commitment("speed", "followed_up_within", 0.8, params={"business_hours": 4}),
    commitment("accept", "acceptance_rate", 0.5, owner="marketing"),
    commitment("touch", "touches_within", 0.5, params={"touches": 2, "business_days": 2}),
    commitment("p90", "response_time_p90", 8),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY))
def test_rows_and_times_after_as_of_change_nothing(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    full = evaluate(doc, frames, "2026-01-01", "2026-07-01", as_of)
    known = evaluate(doc, _truncated(frames, as_of), "2026-01-01", "2026-07-01", as_of)
    pd.testing.assert_frame_equal(full, known)
