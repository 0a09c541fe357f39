"""Plain-language agreements, field-level diffs, error placement, effective dates, reviews and consequences."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import settings as accord_settings
from analytics.agreement import Agreement, AgreementError, AgreementVersion, parse_agreement
from analytics.baseline import default_revenue_goal, mql_target
from analytics.commitments import evaluate
from analytics.revisions import (
    CHECKLIST_COLUMNS,
    TRIGGERED_COLUMNS,
    check_effective_from,
    commitment_field,
    commitment_label,
    consequences_table,
    default_effective_from,
    describe_business_time,
    describe_days,
    describe_terms,
    diff,
    earliest_effective_from,
    following_review,
    line_of,
    plain_language,
    problems,
    review_checklist,
    review_state,
    show,
    target_text,
    triggered_consequences,
    unified_yaml_diff,
    with_changes,
)
from tests.analytics.conftest import agreement, commitment, make_frames, ts

DEFAULT_TEXT = (accord_settings.ROOT / "agreements" / "sales-marketing.yaml").read_text()


@pytest.fixture(scope="module")
def default() -> Agreement:
    return parse_agreement(DEFAULT_TEXT)


def version(number: int, effective: str, doc: Agreement, created: str | None = None) -> AgreementVersion:
    """A stored version; dates are read in the agreement's timezone."""
    return AgreementVersion(agreement=doc.name, version=number, effective_from=ts(effective, doc.timezone),
                            document=doc, created_at=ts(created or effective, doc.timezone), author="a",
                            reason="r")  # fmt: skip


# --- plain language -------------------------------------------------------------------------------------


def test_the_default_agreement_reads_as_the_issue_says(default):
    sentences = plain_language(default).set_index("commitment")["sentence"]
    assert sentences["speed-to-lead"] == (
        "Sales follows up every MQL within 4 business hours, Mon–Fri 09:00–17:30 Europe/Berlin "
        "(Americas: Mon–Fri 09:00–17:30 America/New_York), for 90% of leads."
    )
    assert sentences["mql-volume"] == "Marketing hands over at least 750 MQLs a month."
    assert sentences["sourced-pipeline"].startswith(
        "Marketing sources at least EUR 5,000,000 of pipeline a month"
    )
    assert sentences["touches"].startswith("Sales touches every MQL at least 3 times within 5 business days")
    assert sentences["disposition"].startswith("Sales accepts or rejects every MQL within 2 business days")


def test_plain_language_has_one_row_per_commitment_with_party_and_target(default):
    table = plain_language(default)
    assert table["commitment"].tolist() == [c.id for c in default.commitments]
    assert table.groupby("party").size().to_dict() == {"marketing": 3, "sales": 3}
    assert table.set_index("commitment").loc["mql-acceptance", "target_text"] == "35%"
    assert (table["description"] != "").all()


def test_a_commitment_without_target_filters_and_kinds_are_spelled_out():
    doc = agreement(
        period="week",
        commitments=[
            commitment("volume", "mql_count", None, owner="marketing"),
            commitment(
                "paid", "mql_count", 40, owner="marketing", filters={"channel": ["Paid Search", "Social"]}
            ),
            commitment(
                "calls",
                "touches_within",
                0.5,
                params={"touches": 2, "business_days": 1.5, "kinds": ["call", "email"]},
            ),  # fmt: skip
            commitment("p90", "response_time_p90", 8),
        ],
    )
    sentences = plain_language(doc)["sentence"].tolist()
    assert sentences[0] == "Marketing's mql count is tracked without a target."
    assert (
        sentences[1]
        == "Marketing hands over at least 40 MQLs a week, counting only channel Paid Search or Social."
    )
    assert sentences[2] == (
        "Sales touches every MQL at least 2 times (call or email) within 1.5 business days "
        "(12 working hours counted from the handover), Mon–Fri 09:00–17:00 UTC, for 50% of leads."
    )
    assert (
        sentences[3]
        == "Sales gives 90% of MQLs a first touch within 8 business hours, Mon–Fri 09:00–17:00 UTC."
    )


def test_days_hours_and_team_calendars():
    assert describe_days(["mon", "tue", "wed", "thu", "fri"]) == "Mon–Fri"
    assert describe_days(["sat", "mon", "tue"]) == "Mon, Tue, Sat"
    assert describe_days(["mon", "tue", "wed", "fri", "sat", "sun"]) == "Mon–Wed, Fri–Sun"
    same = agreement(teams={"EMEA": {"timezone": "UTC"}})
    assert describe_business_time(same) == "Mon–Fri 09:00–17:00 UTC"
    other = agreement(
        teams={"US": {"timezone": "America/New_York", "calendar": {"hours": ["08:00", "16:00"]}}}
    )
    assert (
        describe_business_time(other) == "Mon–Fri 09:00–17:00 UTC (US: Mon–Fri 08:00–16:00 America/New_York)"
    )


def test_terms_name_period_calendar_teams_and_review(default):
    terms = describe_terms(default)
    assert terms[0] == "Judged per month in Europe/Berlin; amounts in EUR."
    assert "Business time: Mon–Fri 09:00–17:30 Europe/Berlin, 27 holidays." in terms
    assert "Team Americas: Mon–Fri 09:00–17:30 America/New_York, 30 holidays." in terms
    assert terms[-1] == "Reviewed every quarter, first planned for 2026-07-01."
    assert describe_terms(agreement())[-1].startswith("No review cadence set")


def test_values_are_formatted_by_kind():
    assert target_text(0.9, "rate") == "90%"
    assert target_text(1.0, "rate") == "100%"
    assert target_text(1234567.4, "amount", "USD") == "USD 1,234,567"
    assert target_text(1234567.4, "amount") == "1,234,567"
    assert target_text(1, "duration") == "1 business hour"
    assert target_text(float("nan"), "rate") == "no target"


# --- diff -------------------------------------------------------------------------------------------------


def test_a_changed_target_reads_as_in_the_issue(default):
    lowered = with_changes(default, targets={"speed-to-lead": 0.85})
    assert [c.text for c in diff(default, lowered)] == ["commitments[speed-to-lead].target: 0.90 -> 0.85"]
    assert diff(default, default) == []


def test_added_removed_and_changed_commitments_params_and_lists(default):
    document = default.to_document()
    document["commitments"] = [c for c in document["commitments"] if c["id"] != "touches"]
    document["commitments"].append({"id": "sqls", "owner": "marketing", "metric": "sql_count", "target": 200})
    document["consequences"] = [q for q in document["consequences"] if q["commitment"] != "touches"]
    document["commitments"][3]["params"] = {"business_hours": 8}
    document["calendar"]["holidays"] = [*document["calendar"]["holidays"][1:], "2027-12-31"]
    document["review"]["every"] = "month"
    new = parse_agreement(Agreement.model_validate(document).to_yaml())
    texts = [c.text for c in diff(default, new)]
    assert texts == [
        "calendar.holidays: removed 2025-01-01",
        "calendar.holidays: added 2027-12-31",
        "commitments[speed-to-lead].params.business_hours: 4 -> 8",
        "commitments[touches]: removed",
        "commitments[sqls]: added {id: sqls, owner: marketing, metric: sql_count, params: {}, target: 200, filters: {}}",
        "consequences[touches]: removed",
        "review.every: quarter -> month",
    ]
    kinds = {c.path: c.kind for c in diff(default, new)}
    assert kinds["commitments[touches]"] == "removed" and kinds["commitments[sqls]"] == "added"


def test_reordered_commitments_and_a_removed_optional_field(default):
    document = default.to_document()
    document["commitments"] = document["commitments"][::-1]
    del document["currency"]
    document["commitments"][0]["target"] = None
    new = Agreement.model_validate(document)
    changes = diff(default, new)
    texts = [c.text for c in changes]
    assert "currency: removed EUR" in texts
    # A null target stays in the document (it means "tracked without a target").
    assert "commitments[disposition].target: 0.80 -> (none)" in texts
    assert changes[-1].kind == "reordered" and changes[-1].path == "commitments"


def test_unified_yaml_diff(default):
    new = with_changes(default, targets={"mql-volume": 800})
    text = unified_yaml_diff(default, new, "version 1", "version 2")
    assert text.startswith("--- version 1\n+++ version 2\n")
    assert "-  target: 750.0\n" in text and "+  target: 800.0\n" in text
    assert unified_yaml_diff(default, default) == ""


def test_show_writes_values_as_in_yaml():
    assert show(0.9) == "0.90" and show(0.875) == "0.875" and show(5e6) == "5000000"
    assert show(True) == "true" and show("") == '""' and show(" x") == '" x"'


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([None, 0.0, 0.5, 0.85, 0.9, 1.0]), min_size=6, max_size=6))
def test_diff_is_empty_exactly_when_the_documents_are_equal(targets):
    base = parse_agreement(DEFAULT_TEXT)
    ids = [c.id for c in base.commitments]
    rates = {i: t for i, t in zip(ids, targets, strict=True) if i not in ("mql-volume", "sourced-pipeline")}
    new = with_changes(base, targets=rates)
    changes = diff(base, new)
    assert (changes == []) == (new == base)
    changed = {c.path for c in changes}
    expected = {f"commitments[{i}].target" for i, t in rates.items() if base.commitment(i).target != t}
    assert changed == expected


# --- editing and error placement ---------------------------------------------------------------------------


def test_with_changes_merges_params_and_validates_with_the_field_path(default):
    new = with_changes(default, params={"touches": {"touches": 4}})
    assert new.commitment("touches").params == {"touches": 4, "business_days": 5}
    with pytest.raises(AgreementError, match=r"^commitments\[3\]\.params\.business_hours: .*greater than 0"):
        with_changes(default, params={"speed-to-lead": {"business_hours": 0}})
    with pytest.raises(AgreementError, match=r"^commitments\[0\]\.target: must be a number"):
        with_changes(default, targets={"mql-volume": "lots"})
    with pytest.raises(AgreementError, match=r"commitments\[2\]\.target: 1\.5 is out of range"):
        with_changes(default, targets={"mql-acceptance": 1.5})
    with pytest.raises(AgreementError, match="unknown commitment 'nope'"):
        with_changes(default, targets={"nope": 1})
    assert with_changes(default, targets={"mql-volume": None}).commitment("mql-volume").target is None


def test_problems_split_an_error_into_paths_and_messages(default):
    with pytest.raises(AgreementError) as caught:
        with_changes(default, targets={"mql-volume": "x", "touches": "y"})
    assert problems(caught.value) == [
        ("commitments[0].target", "must be a number, got 'x'"),
        ("commitments[4].target", "must be a number, got 'y'"),
    ]
    assert problems("the agreement must be a mapping of fields (name, parties, ...), got list") == [
        ("", "the agreement must be a mapping of fields (name, parties, ...), got list")
    ]
    assert commitment_field("commitments[4].target") == (4, "target")
    assert commitment_field("commitments[4]") == (4, "")
    assert commitment_field("calendar.holidays[2]") == (None, "calendar.holidays[2]")


def test_line_of_finds_block_flow_and_missing_fields():
    text = DEFAULT_TEXT
    lines = text.splitlines()
    target_line = line_of(text, "commitments[0].target")
    assert lines[target_line - 1].strip() == "target: 750"
    holiday_line = line_of(text, "calendar.holidays[16]")
    assert "2026-12-25" in lines[holiday_line - 1]
    params_line = line_of(text, "commitments[3].params.business_hours")
    assert "business_hours: 4" in lines[params_line - 1]
    # a missing field points at the nearest enclosing field
    missing = line_of(text, "commitments[3].params.nope")
    assert lines[missing - 1].strip().startswith("params:")
    assert line_of("name: [", "name") is None
    assert line_of(text, "") is None


# --- effective dates ----------------------------------------------------------------------------------------


def test_default_effective_date_is_the_start_of_the_next_period():
    berlin = agreement(timezone="Europe/Berlin")
    assert default_effective_from(berlin, ts("2026-11-27T12:00")) == ts("2026-12-01", "Europe/Berlin")
    assert default_effective_from(berlin, ts("2026-11-30T23:30")) == ts("2027-01-01", "Europe/Berlin")
    weekly = agreement(period="week")
    assert default_effective_from(weekly, ts("2026-11-27T12:00")) == ts("2026-11-30")  # next Monday


def test_the_first_version_may_take_effect_any_time():
    doc = agreement(timezone="Europe/Berlin")
    assert check_effective_from("1970-01-01", [], ts("2026-11-27"), doc) == ts("1970-01-01", "Europe/Berlin")
    assert earliest_effective_from([], ts("2026-11-27"), doc) is None


def test_a_later_version_never_takes_effect_before_an_existing_one():
    doc = agreement(timezone="Europe/Berlin")
    existing = [version(1, "2026-01-01", doc), version(2, "2027-01-01", doc)]
    with pytest.raises(AgreementError) as caught:
        check_effective_from(dt.date(2026, 12, 1), existing, ts("2026-11-27"), doc)
    message = str(caught.value)
    assert message.startswith("effective_from: 2026-12-01 is before version 2's effective date 2027-01-01")
    assert "pick 2027-01-01 or later" in message
    assert check_effective_from(dt.date(2027, 1, 1), existing, ts("2026-11-27"), doc) == ts(
        "2027-01-01", "Europe/Berlin"
    )
    assert earliest_effective_from(existing, ts("2026-11-27"), doc) == ts("2027-01-01", "Europe/Berlin")


def test_a_later_version_never_rejudges_a_closed_period():
    doc = agreement(timezone="Europe/Berlin")
    existing = [version(1, "2026-01-01", doc)]
    with pytest.raises(AgreementError, match="before the current period 2026-11 .*pick 2026-11-01 or later"):
        check_effective_from("2026-10-15", existing, ts("2026-11-27"), doc)
    assert check_effective_from("2026-11-01", existing, ts("2026-11-27"), doc) == ts(
        "2026-11-01", "Europe/Berlin"
    )
    assert earliest_effective_from(existing, ts("2026-11-27"), doc) == ts("2026-11-01", "Europe/Berlin")
    aware = pd.Timestamp("2026-11-27T15:00", tz="UTC")
    assert check_effective_from(aware, existing, ts("2026-11-27"), doc) == aware


@pytest.mark.parametrize("bad", ["2026-02-30", "next month", None, float("nan")])
def test_an_effective_date_that_is_no_date(bad):
    with pytest.raises(AgreementError, match="^effective_from: "):
        check_effective_from(bad, [], ts("2026-11-27"), agreement())


# --- review -------------------------------------------------------------------------------------------------


def test_the_following_review_is_the_first_date_on_the_cadence_after_today():
    doc = agreement(review={"every": "half-year", "next": "2026-07-01"})
    assert following_review(doc, dt.date(2026, 6, 30)) == dt.date(2026, 7, 1)
    assert following_review(doc, dt.date(2026, 7, 1)) == dt.date(2027, 1, 1)  # the day itself has come
    assert following_review(doc, dt.date(2027, 8, 15)) == dt.date(2028, 1, 1)
    assert following_review(agreement(), dt.date(2026, 7, 1)) is None


def test_review_state_scheduled_due_overdue_and_no_cadence():
    doc = agreement(review={"every": "quarter", "next": "2026-12-01"})
    v = version(1, "2026-01-01", doc, created="2026-01-01")
    scheduled = review_state(v, ts("2026-11-01"))
    assert (scheduled.state, scheduled.next, scheduled.days) == ("scheduled", dt.date(2026, 12, 1), 30)
    assert scheduled.message == "Next review on 1 December 2026, in 30 days."
    due = review_state(v, ts("2026-11-20"))
    assert (due.state, due.days) == ("due", 11) and "in 11 days" in due.message
    assert review_state(v, ts("2026-12-01T10:00")).message.startswith("The review is due today")
    overdue = review_state(v, ts("2026-12-05"))
    assert (overdue.state, overdue.days) == ("overdue", -4) and "4 days ago" in overdue.message
    assert "set review.next (every quarter: 1 March 2027 would be next)" in overdue.message
    assert review_state(version(1, "2026-01-01", agreement()), ts("2026-12-05")).state == "no cadence"


def test_a_version_saved_after_the_planned_review_without_a_new_date_leaves_it_overdue():
    doc = agreement(review={"every": "quarter", "next": "2026-12-01"})
    saved_later = version(2, "2027-01-01", doc, created="2026-12-10")  # a change, not a review
    state = review_state(saved_later, ts("2026-12-20"))
    assert (state.state, state.next, state.days) == ("overdue", dt.date(2026, 12, 1), -19)
    reviewed = version(3, "2027-01-01", agreement(review={"every": "quarter", "next": "2027-03-01"}))
    assert review_state(reviewed, ts("2026-12-20")).state == "scheduled"


def _monthly_evaluation():
    doc = agreement(commitments=[commitment("volume", "mql_count", 3, owner="marketing"),
                                 commitment("speed", "followed_up_within", 0.5, params={"business_hours": 4})])  # fmt: skip
    counts = {1: 4, 2: 1, 3: 2, 4: 5, 5: 1}
    leads = [{"mql_at": ts(f"2026-{m:02d}-05T10:00"), "first_touch_at": ts(f"2026-{m:02d}-05T11:00")}
             for m, n in counts.items() for _ in range(n)]  # fmt: skip
    return doc, evaluate(doc, make_frames(leads=leads), "2026-01-01", "2026-06-01", ts("2026-05-20"))


def test_review_checklist_counts_misses_of_closed_periods_since_a_date():
    _, result = _monthly_evaluation()
    checklist = review_checklist(result)
    assert checklist.columns.tolist() == CHECKLIST_COLUMNS
    volume = checklist.set_index("commitment").loc["volume"]
    assert (volume["periods"], volume["met"], volume["missed"]) == (4, 2, 2)  # May is current: not counted
    assert volume["missed_periods"] == "2026-02, 2026-03"
    assert volume["check"] == "missed in 2 of 4 periods: revisit the target or agree how to get back on track"
    speed = checklist.set_index("commitment").loc["speed"]
    assert speed["check"] == "met in all 4 periods: is the target still ambitious enough?"
    since = review_checklist(result, since=ts("2026-03-01")).set_index("commitment").loc["volume"]
    assert (since["periods"], since["missed"], since["missed_periods"]) == (2, 1, "2026-03")
    assert review_checklist(result, since=ts("2026-05-01"))["check"].iloc[0].startswith("no closed period")


# --- consequences -------------------------------------------------------------------------------------------


def test_consequences_table_names_the_party(default):
    table = consequences_table(default).set_index("commitment")
    assert table.loc["speed-to-lead", "party"] == "sales"
    assert table.loc["speed-to-lead", "on_meet"].startswith("Marketing routes")
    assert table.loc["touches", "on_meet"] == ""


def test_triggered_consequences_come_from_the_version_that_judged_the_period():
    doc, _ = _monthly_evaluation()
    first = with_consequences(doc, miss="old miss", meet="old meet")
    second = with_consequences(with_changes(doc, targets={"volume": 2}), miss="new miss", meet="new meet")
    versions = [version(1, "2026-01-01", first), version(2, "2026-04-01", second)]
    _, result = _monthly_evaluation()
    leads = [{"mql_at": ts(f"2026-{m:02d}-05T10:00")} for m, n in {1: 4, 2: 1, 3: 2, 4: 1, 5: 1}.items()
             for _ in range(n)]  # fmt: skip
    result = evaluate(versions, make_frames(leads=leads), "2026-01-01", "2026-06-01", ts("2026-05-20"))
    triggered = triggered_consequences(versions, result, periods=3)
    assert triggered.columns.tolist() == TRIGGERED_COLUMNS
    rows = triggered[["period", "status", "version", "consequence"]].values.tolist()
    assert rows == [
        ["2026-04", "missed", 2, "new miss"],  # 1 lead < new target 2
        ["2026-03", "missed", 1, "old miss"],  # 2 leads < old target 3
        ["2026-02", "missed", 1, "old miss"],
    ]
    assert triggered_consequences(versions, result, periods=5)["consequence"].tolist()[-1] == "old meet"


def with_consequences(doc: Agreement, miss: str, meet: str) -> Agreement:
    document = doc.to_document()
    document["consequences"] = [{"commitment": "volume", "on_miss": miss, "on_meet": meet}]
    return Agreement.model_validate(document)


# --- reverse funnel starting point -------------------------------------------------------------------------


def test_default_revenue_goal_and_mql_target(default):
    assert default_revenue_goal(default, 40_000.0, 0.25) == 1_200_000.0  # 5M pipeline x 25%, 2 digits
    won = agreement(commitments=[commitment("won", "won_revenue", 987_654, owner="sales")])
    assert default_revenue_goal(won, math.nan, math.nan) == 990_000.0
    plain = agreement()
    assert default_revenue_goal(plain, 31_234.0, math.nan) == 310_000.0
    assert default_revenue_goal(plain, math.nan, math.nan) == 100_000.0
    assert mql_target(default) == 750.0
    filtered = agreement(commitments=[commitment("paid", "mql_count", 5, owner="marketing",
                                                 filters={"channel": ["Paid"]})])  # fmt: skip
    assert mql_target(filtered) is None


# --- labels ------------------------------------------------------------------------------------------------


def test_every_commitment_of_the_default_agreement_has_a_plain_label_with_its_own_windows():
    doc = parse_agreement(DEFAULT_TEXT)
    labels = {c.id: commitment_label(c) for c in doc.commitments}
    assert labels["speed-to-lead"] == "First touch within 4 business hours"
    assert labels["touches"] == "3+ touches within 5 business days"
    assert labels["disposition"] == "Accepted or rejected within 2 business days"
    assert labels["mql-volume"] == "MQLs handed over"
    for c in doc.commitments:
        assert c.metric not in labels[c.id] and "_" not in labels[c.id]
