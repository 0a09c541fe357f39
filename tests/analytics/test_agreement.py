"""The agreement document: the default file, round trips, calendars, versions, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pandas as pd
import pytest

from analytics.agreement import (
    Agreement,
    AgreementError,
    AgreementVersion,
    parse_agreement,
    parse_document,
    version_in_force,
    versions_from_rows,
)
from analytics.calendar import BusinessCalendar
from analytics.metrics import METRICS
from tests.analytics.conftest import BASE_DOCUMENT

VALID = textwrap.dedent(
    """\
    name: Test SLA
    parties: [marketing, sales]
    period: month
    timezone: Europe/Berlin
    calendar: {workdays: [mon, tue, wed, thu, fri], hours: ["09:00", "17:30"], holidays: [2026-12-25]}
    commitments:
      - id: mql-volume
        owner: marketing
        metric: mql_count
        target: 400
        filters: {channel: [Organic Search, Paid Search]}
      - id: speed-to-lead
        owner: sales
        metric: followed_up_within
        params: {business_hours: 4}
        target: 0.90
    consequences:
      - commitment: speed-to-lead
        on_miss: Sales funds two extra webinar slots next quarter
    review: {every: quarter, next: 2027-01-15}
    """
)


def error_for(text: str) -> str:
    with pytest.raises(AgreementError) as caught:
        parse_agreement(text)
    return str(caught.value)


def test_a_valid_document_parses_with_its_fields():
    doc = parse_agreement(VALID)
    assert doc.name == "Test SLA"
    assert doc.calendar.holidays == (dt.date(2026, 12, 25),)
    assert doc.commitments[0].filters.channel == ("Organic Search", "Paid Search")
    assert doc.commitments[1].metric_params().business_hours == 4.0
    assert doc.review.every == "quarter" and doc.review.next == dt.date(2027, 1, 15)
    assert doc.commitment("speed-to-lead").target == 0.9


def test_to_yaml_and_to_document_round_trip():
    doc = parse_agreement(VALID)
    assert parse_agreement(doc.to_yaml()) == doc
    assert parse_document(json.loads(json.dumps(doc.to_document()))) == doc


def test_the_default_agreement(default_agreement_text):
    doc = parse_agreement(default_agreement_text)
    assert doc.name == "Sales and Marketing SLA"
    assert doc.parties == ("marketing", "sales")
    assert (doc.period, doc.timezone, doc.currency) == ("month", "Europe/Berlin", "EUR")
    assert doc.calendar.hours == ("09:00", "17:30")
    assert doc.calendar.workdays == ("mon", "tue", "wed", "thu", "fri")
    assert {d.year for d in doc.calendar.holidays} == {2025, 2026, 2027}
    assert dt.date(2026, 10, 3) in doc.calendar.holidays  # German Unity Day
    assert set(doc.teams) == {"EMEA", "Americas"}
    assert doc.calendar_for("Americas").timezone == "America/New_York"
    assert dt.date(2026, 11, 26) in doc.calendar_for("Americas").holidays  # Thanksgiving
    assert doc.calendar_for("EMEA") == doc.calendar_for(None)
    by_id = {c.id: c for c in doc.commitments}
    assert {c: (by_id[c].owner, by_id[c].metric) for c in by_id} == {
        "mql-volume": ("marketing", "mql_count"),
        "sourced-pipeline": ("marketing", "sourced_pipeline"),
        "mql-acceptance": ("marketing", "acceptance_rate"),
        "speed-to-lead": ("sales", "followed_up_within"),
        "touches": ("sales", "touches_within"),
        "disposition": ("sales", "dispositioned_within"),
    }
    assert by_id["speed-to-lead"].params == {"business_hours": 4} and by_id["speed-to-lead"].target == 0.90
    assert by_id["touches"].params == {"touches": 3, "business_days": 5} and by_id["touches"].target == 0.40
    assert by_id["disposition"].params == {"business_days": 2} and by_id["disposition"].target == 0.80
    assert by_id["mql-acceptance"].target == 0.35
    assert {q.commitment for q in doc.consequences} == set(by_id)  # a consequence for every commitment
    assert doc.review.every == "quarter"


def test_calendar_for_a_team_takes_its_own_settings_and_falls_back_to_the_agreement():
    doc = parse_document(
        {
            **BASE_DOCUMENT,
            "timezone": "Europe/Berlin",
            "calendar": {"workdays": ["mon", "wed"], "hours": ["08:00", "16:00"], "holidays": ["2026-05-01"]},
            "teams": {
                "US": {
                    "timezone": "America/New_York",
                    "calendar": {"workdays": ["tue"], "hours": ["10:00", "24:00"]},
                },
                "Paris": {"timezone": "Europe/Paris"},
            },
        }
    )
    assert doc.calendar_for(None) == BusinessCalendar(
        timezone="Europe/Berlin", workdays=(0, 2), hours=("08:00", "16:00"), holidays=(dt.date(2026, 5, 1),)
    )
    assert doc.calendar_for("US") == BusinessCalendar(
        timezone="America/New_York", workdays=(1,), hours=("10:00", "24:00")
    )
    assert doc.calendar_for("Paris") == BusinessCalendar(
        timezone="Europe/Paris", workdays=(0, 2), hours=("08:00", "16:00"), holidays=(dt.date(2026, 5, 1),)
    )
    assert doc.calendar_for("Nowhere") == doc.calendar_for(None)
    assert set(doc.team_calendars()) == {"US", "Paris"}


def test_target_may_be_null_but_not_left_out():
    doc = parse_document(
        {**BASE_DOCUMENT, "commitments": [{**BASE_DOCUMENT["commitments"][0], "target": None}]}
    )
    assert doc.commitments[0].target is None
    without = {k: v for k, v in BASE_DOCUMENT["commitments"][0].items() if k != "target"}
    with pytest.raises(AgreementError, match=r"commitments\[0\]\.target: required field is missing"):
        parse_document({**BASE_DOCUMENT, "commitments": [without]})


# --- bad input: each error names the field path and what is allowed ----------------------------


def test_unparseable_yaml_gives_the_line():
    message = error_for("name: Test\nparties: [marketing, sales\ncommitments: []\n")
    assert message.startswith("YAML syntax error at line 3")


def test_a_duplicate_yaml_key_gives_the_line():
    message = error_for(VALID + "name: Other\n")
    assert message == "YAML syntax error at line 21, column 1: duplicate key 'name'"


def test_a_document_that_is_not_a_mapping():
    assert "must be a mapping" in error_for("- just\n- a list\n")


def test_missing_field():
    assert error_for(VALID.replace("name: Test SLA\n", "")) == "name: required field is missing"
    text = VALID.replace("    metric: mql_count\n", "")
    assert error_for(text) == "commitments[0].metric: required field is missing"


def test_unknown_metric_lists_the_known_ones():
    message = error_for(VALID.replace("metric: mql_count", "metric: mql_cnt"))
    assert message.startswith("commitments[0].metric: unknown metric 'mql_cnt'; known metrics: ")
    for name in METRICS:
        assert name in message


def test_target_of_the_wrong_type():
    message = error_for(VALID.replace("target: 400", 'target: "400"'))
    assert message == "commitments[0].target: must be a number, got '400'"
    assert "commitments[0].target: must be a number" in error_for(
        VALID.replace("target: 400", "target: true")
    )


def test_rate_target_outside_zero_to_one():
    message = error_for(VALID.replace("target: 0.90", "target: 90"))
    assert message == "commitments[1].target: 90 is out of range for a rate metric: must be between 0 and 1"
    message = error_for(VALID.replace("target: 400", "target: -5"))
    assert message == "commitments[0].target: -5 is out of range for a count metric: must be at least 0"


def test_holiday_not_a_date():
    message = error_for(VALID.replace("holidays: [2026-12-25]", "holidays: [2026-12-25, christmas]"))
    assert message == "calendar.holidays[1]: 'christmas' is not a date; use YYYY-MM-DD"
    assert "calendar.holidays[0]: '2026-02-30' is not a date" in error_for(
        VALID.replace("2026-12-25", "'2026-02-30'")
    )


def test_unknown_party():
    message = error_for(VALID.replace("owner: sales", "owner: finance"))
    assert message == "commitments[1].owner: unknown party 'finance'; parties: marketing, sales"


def test_duplicate_commitment_id():
    message = error_for(VALID.replace("id: speed-to-lead", "id: mql-volume"))
    assert message == "commitments[1].id: duplicate id 'mql-volume' (also commitments[0])"


def test_bad_timezone():
    message = error_for(VALID.replace("timezone: Europe/Berlin", "timezone: Europe/Berln"))
    assert message == "timezone: unknown timezone 'Europe/Berln'; use an IANA name such as 'Europe/Berlin'"
    bad_team = VALID.replace("calendar: {", "teams: {US: {timezone: Mars/Base}}\ncalendar: {")
    assert error_for(bad_team).startswith("teams.US.timezone: unknown timezone 'Mars/Base'")


def test_params_are_validated_per_metric():
    zero = error_for(VALID.replace("business_hours: 4", "business_hours: 0"))
    assert zero == "commitments[1].params.business_hours: Input should be greater than 0"
    missing = error_for(VALID.replace("params: {business_hours: 4}", "params: {}"))
    assert missing == "commitments[1].params.business_hours: required field is missing"
    extra = error_for(VALID.replace("business_hours: 4", "business_hours: 4, hours: 2"))
    assert extra == "commitments[1].params.hours: unknown field; allowed fields: business_hours"
    none = error_for(VALID.replace("metric: mql_count", "metric: mql_count\n    params: {window: 3}"))
    assert none == "commitments[0].params.window: unknown field; this metric takes no params"
    kinds = error_for(
        VALID.replace("metric: followed_up_within", "metric: touches_within").replace(
            "business_hours: 4", "touches: 3, business_days: 5, kinds: [call, fax]"
        )
    )
    assert kinds.startswith("commitments[1].params.kinds[1]: Input should be 'call', 'email'")


def test_calendar_fields():
    assert error_for(VALID.replace("workdays: [mon,", "workdays: [monday,")).startswith(
        "calendar.workdays[0]: Input should be 'mon', 'tue'"
    )
    unquoted = error_for(VALID.replace('hours: ["09:00", "17:30"]', 'hours: ["09:00", 17:30]'))
    assert unquoted == 'calendar.hours[1]: 1050 is a number; write the time in quotes, e.g. "17:30"'
    backwards = error_for(VALID.replace('hours: ["09:00", "17:30"]', 'hours: ["17:30", "09:00"]'))
    assert backwards == "calendar.hours: the start 17:30 must be before the end 09:00"
    assert error_for(VALID.replace('"17:30"', '"25:00"')).startswith(
        "calendar.hours[1]: '25:00' is not a time of day"
    )
    assert error_for(VALID.replace("workdays: [mon, tue, wed, thu, fri]", "workdays: []")).startswith(
        "calendar.workdays: name at least one working day"
    )


def test_unknown_fields_list_the_allowed_ones():
    message = error_for(VALID.replace("period: month", "period: month\nowner: sales"))
    assert message.startswith("owner: unknown field; allowed fields: name, parties, period, timezone")
    message = error_for(VALID.replace("filters: {channel:", "filters: {region: [EU], channel:"))
    assert (
        message
        == "commitments[0].filters.region: unknown field; allowed fields: channel, team, owner, segment"
    )


def test_enumerations_say_what_is_allowed():
    assert error_for(VALID.replace("period: month", "period: fortnight")) == (
        "period: Input should be 'week', 'month' or 'quarter'"
    )
    assert error_for(VALID.replace("every: quarter", "every: weekly")).startswith(
        "review.every: Input should be 'month', 'quarter', 'half-year' or 'year'"
    )


def test_consequence_for_an_unknown_commitment():
    message = error_for(VALID.replace("  - commitment: speed-to-lead", "  - commitment: speed"))
    assert (
        message
        == "consequences[0].commitment: unknown commitment 'speed'; commitments: mql-volume, speed-to-lead"
    )


def test_several_problems_are_listed_together():
    message = error_for(VALID.replace("name: Test SLA\n", "").replace("period: month", "period: daily"))
    assert message.splitlines()[0] == "2 problems in the agreement:"
    assert "- name: required field is missing" in message


def test_unknown_commitment_lookup():
    with pytest.raises(
        AgreementError, match="unknown commitment 'nope'; commitments: mql-volume, speed-to-lead"
    ):
        parse_agreement(VALID).commitment("nope")


# --- versions ------------------------------------------------------------------------------------


def version(n: int, effective: str, doc: Agreement | None = None) -> AgreementVersion:
    doc = doc or parse_agreement(VALID)
    return AgreementVersion(
        agreement=doc.name, version=n, effective_from=pd.Timestamp(effective, tz="UTC"), document=doc,
        author="ops@example.com", reason="test", created_at=pd.Timestamp("2026-01-01", tz="UTC"),
    )  # fmt: skip


def test_version_in_force_is_the_latest_started_one_ties_to_the_highest_version():
    versions = [
        version(1, "2026-01-01"),
        version(3, "2026-04-01"),
        version(2, "2026-04-01"),
        version(4, "2026-07-01"),
    ]
    at = lambda text: version_in_force(versions, pd.Timestamp(text, tz="UTC"))  # noqa: E731
    assert at("2025-12-31") is None
    assert at("2026-01-01").version == 1
    assert at("2026-03-31 23:59").version == 1
    assert at("2026-04-01").version == 3
    assert at("2026-12-01").version == 4
    assert version_in_force([], pd.Timestamp("2026-01-01", tz="UTC")) is None


def test_version_in_force_needs_an_aware_instant():
    with pytest.raises(AgreementError, match="needs a timezone"):
        version_in_force([version(1, "2026-01-01")], "2026-03-01")


def test_a_version_must_belong_to_its_agreement():
    doc = parse_agreement(VALID)
    with pytest.raises(ValueError, match="differs from the version's agreement"):
        AgreementVersion(agreement="Other", version=1, effective_from=pd.Timestamp("2026-01-01", tz="UTC"),
                         document=doc, created_at=pd.Timestamp("2026-01-01", tz="UTC"))  # fmt: skip


def test_versions_from_stored_rows():
    doc = parse_agreement(VALID)
    rows = pd.DataFrame(
        {
            "agreement": ["Test SLA", "Test SLA"],
            "version": [1, 2],
            "effective_from": pd.to_datetime(["2026-01-01", "2026-04-01"], utc=True),
            "document": [doc.to_document(), {**doc.to_document(), "period": "week"}],
            "author": ["ann@example.com", None],
            "reason": ["first", "weekly reviews"],
            "created_at": pd.to_datetime(["2025-12-20", "2026-03-28"], utc=True),
        }
    )
    versions = versions_from_rows(rows)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].document == doc and versions[1].document.period == "week"
    assert versions[1].author == "" and versions[1].reason == "weekly reviews"
    assert version_in_force(versions, pd.Timestamp("2026-05-01", tz="UTC")).version == 2
    broken = rows.assign(document=[doc.to_document(), {**doc.to_document(), "period": "daily"}])
    with pytest.raises(AgreementError, match="Test SLA version 2: period: Input should be"):
        versions_from_rows(broken)


def test_an_impossible_date_is_named_at_its_field(default_agreement_text):
    text = default_agreement_text.replace("2026-12-25,", "2026-13-45,", 1)
    with pytest.raises(AgreementError, match=r"calendar\.holidays\[\d+\]"):
        parse_agreement(text)


def test_a_commitment_without_target_survives_storage_and_yaml(default_agreement_text):
    text = default_agreement_text.replace("target: 750", "target: null", 1)
    doc = parse_agreement(text)
    assert doc.commitment("mql-volume").target is None
    assert parse_document(doc.to_document()) == doc
    assert parse_agreement(doc.to_yaml()) == doc
