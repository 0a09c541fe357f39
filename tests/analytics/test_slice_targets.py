"""A company target is not a slice's target (issue 13, item 3)."""

from __future__ import annotations

import pytest

from analytics.agreement import AgreementError, parse_agreement
from analytics.commitments import evaluate
from analytics.revisions import diff, plain_language
from analytics.slicing import slice_frames
from tests.analytics.conftest import agreement, commitment, make_frames, ts

AS_OF = ts("2026-04-02 12:00")
MARCH = ("2026-03-01", "2026-04-01")


def _frames():
    leads = [{"mql_at": ts(f"2026-03-{d:02d} 10:00"), "team": t, "channel": c, "owner_id": o}
             for d, t, c, o in [(2, "EMEA", "Events", 1), (3, "EMEA", "Paid Search", 2), (4, "APAC", "Events", 1)]]  # fmt: skip
    owners = [{"id": 1, "name": "Ann", "external_id": "o-1"}, {"id": 2, "name": "Bo", "external_id": "o-2"}]
    return make_frames(leads=leads, owners=owners)


def test_a_team_filter_of_a_count_has_no_target_without_a_slice_target():
    doc = agreement(commitments=[commitment("mqls", "mql_count", 3, owner="marketing")])
    row = evaluate(doc, slice_frames(_frames(), teams=["EMEA"]), *MARCH, AS_OF).iloc[0]
    assert row["actual"] == 2
    assert row["status"] == "no target"  # not "missed" against the company's 3


def test_a_slice_target_judges_its_slice_as_a_filter_and_as_a_breakdown_row():
    doc = agreement(
        commitments=[
            commitment("mqls", "mql_count", 3, owner="marketing",
                       slice_targets={"team": {"EMEA": 2, "APAC": 5}, "owner": {"Ann": 1}})
        ]
    )  # fmt: skip
    emea = evaluate(doc, slice_frames(_frames(), teams=["EMEA"]), *MARCH, AS_OF).iloc[0]
    assert (emea["target"], emea["status"]) == (2, "met")
    both = evaluate(doc, slice_frames(_frames(), teams=["EMEA", "APAC"]), *MARCH, AS_OF).iloc[0]
    assert (both["target"], both["status"]) == (7, "missed")
    by_team = evaluate(doc, _frames(), *MARCH, AS_OF, by="team").set_index("team")
    assert by_team.loc["APAC", ["target", "status"]].tolist() == [5, "missed"]
    by_owner = evaluate(doc, _frames(), *MARCH, AS_OF, by="owner").set_index("owner")
    assert by_owner.loc["Ann", "target"] == 1 and by_owner.loc["Ann", "status"] == "met"
    assert by_owner.loc["Bo", "status"] == "no target"
    ann = evaluate(doc, slice_frames(_frames(), owners=[1]), *MARCH, AS_OF).iloc[0]
    assert ann["target"] == 1
    # Narrowed along two kinds: no count target.
    two = evaluate(doc, slice_frames(_frames(), teams=["EMEA"], owners=[1]), *MARCH, AS_OF).iloc[0]
    assert two["status"] == "no target"


def test_a_channel_filter_gets_no_needed_per_week_from_the_company_target():
    doc = agreement(commitments=[commitment("mqls", "mql_count", 300, owner="marketing")])
    row = evaluate(doc, slice_frames(_frames(), channels=["Events"]), *MARCH, ts("2026-03-10 12:00")).iloc[0]
    assert row["status"] == "no target"
    assert row["needed_per_week"] != row["needed_per_week"]  # NaN


def test_a_rate_target_holds_for_every_slice():
    doc = agreement(commitments=[commitment("accept", "acceptance_rate", 0.5, owner="sales")])
    frames = _frames()
    frames["leads"]["disposition"] = ["accepted", "rejected", "accepted"]
    frames["leads"]["disposition_at"] = [ts("2026-03-05")] * 3
    row = evaluate(doc, slice_frames(frames, teams=["EMEA"]), *MARCH, AS_OF).iloc[0]
    assert (row["target"], row["status"]) == (0.5, "met")


TEXT = """
name: A
parties: [marketing]
commitments:
  - id: mqls
    owner: marketing
    metric: mql_count
    target: 750
    slice_targets:
      team: {EMEA: 200}
      channel: {Paid Search: 120}
"""


def test_slice_targets_round_trip_and_are_said_in_plain_language():
    doc = parse_agreement(TEXT)
    assert parse_agreement(doc.to_yaml()) == doc
    sentence = plain_language(doc)["sentence"].iloc[0]
    assert "team EMEA: at least 200" in sentence and "channel Paid Search: at least 120" in sentence


def test_slice_targets_are_refused_on_a_rate_and_for_an_unknown_kind():
    rate = TEXT.replace("mql_count", "acceptance_rate").replace("target: 750", "target: 0.5")
    with pytest.raises(AgreementError, match=r"commitments\[0\]\.slice_targets\.team: slice targets are for"):
        parse_agreement(rate)
    with pytest.raises(AgreementError, match=r"slice_targets\.region"):
        parse_agreement(TEXT.replace("team: {EMEA", "region: {EMEA"))


def test_a_changed_slice_target_is_a_listed_change():
    before, after = parse_agreement(TEXT), parse_agreement(TEXT.replace("EMEA: 200", "EMEA: 250"))
    changes = [str(c) for c in diff(before, after)]
    assert any("slice_targets" in c and "200" in c and "250" in c for c in changes), changes


def test_the_weekly_overview_of_a_slice_keeps_the_slice_its_links_and_no_company_target():
    from analytics.snapshots import week_overview

    doc = agreement(period="week", commitments=[commitment("mqls", "mql_count", 3, owner="marketing"),
                                                commitment("pipe", "sourced_pipeline", 10, owner="marketing")])  # fmt: skip
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-03-02 10:00"), "team": "APAC"},
            {"mql_at": ts("2026-03-03 10:00"), "team": "EMEA"},
        ],
        deals=[{"lead_id": 1, "created_at": ts("2026-03-04 10:00"), "amount": 40.0, "team": "EMEA"}],
    )
    overview = week_overview(doc, slice_frames(frames, teams=["EMEA"]), None, "2026-W10", ts("2026-03-09"),
                             use_frozen=False)  # fmt: skip
    week = overview.week_rows().set_index("commitment")
    assert week.loc["mqls", ["actual", "status"]].tolist() == [1, "no target"]
    assert week.loc["pipe", "actual"] == 40.0  # its lead (APAC) is outside the slice: still marketing-sourced
