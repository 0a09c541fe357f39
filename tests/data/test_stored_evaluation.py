"""The evaluation answered by the database equals the pandas engine (the oracle), and the Overview built on it.

On SQLite and PostgreSQL (the ``engine`` fixture): :class:`data.stored_evaluation.StoredEvaluation` gives
``evaluate``'s rows exactly (every column: figures, targets, pacing, status) for every commitment of the
agreement (counts, amounts, rates, clocks, durations) x period (ISO weeks as the Overview judges them, the
agreement's months) x slice x as_of x agreement version, on the demo company (recycled leads, archived
ones) and on small Hypothesis-made companies; and ``views.overview.overview_view`` draws the same page from
it as from the frames. Where the database cannot answer, it says so (:class:`NotStored`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_agreement
from analytics.commitments import evaluate
from analytics.periods import period_grid, week_of
from analytics.slicing import slice_frames
from analytics.snapshots import week_version
from connectors.demo import load_demo
from data import queries, upserts
from data.facts import FACTS, refresh_facts
from data.frames import read_window
from data.stored_evaluation import NotStored, StoredEvaluation
from tests.data.test_facts import DEFAULT, DURATIONS, EPOCH
from views.filters import filters_for
from views.overview import data_window, overview_view

TODAY = dt.date(2026, 3, 16)
# Besides the default's commitments and the two durations: SQLs, the conversion rate and won revenue, some
# filtered, so every metric the database counts is compared.
EXTRA = """
  - {id: sqls, owner: marketing, metric: sql_count, target: 40}
  - {id: conversion, owner: marketing, metric: mql_to_sql_rate, target: 0.3, filters: {segment: [SMB, Mid-Market]}}
  - {id: won, owner: sales, metric: won_revenue, target: 50000}
  - {id: emea-accept, owner: sales, metric: acceptance_rate, target: 0.5, filters: {team: [EMEA]}}
  - {id: events-mqls, owner: marketing, metric: mql_count, target: 20, filters: {channel: [Events, web]}}
consequences:"""  # noqa: E501


def _versions(text: str = DEFAULT) -> list[AgreementVersion]:
    """v1 the default with every metric; v2 from 2026-02-01 stricter on other hours with other targets."""
    text = text.replace("consequences:", DURATIONS.replace("consequences:", EXTRA), 1)
    first = parse_agreement(text)
    second = parse_agreement(
        text.replace("business_hours: 4", "business_hours: 2")
        .replace('hours: ["09:00", "17:30"]\n  holidays', 'hours: ["08:00", "16:00"]\n  holidays', 1)
        .replace("target: 0.3,", "target: 0.45,")
    )
    effective = pd.Timestamp("2026-02-01", tz=first.timezone).tz_convert("UTC")
    return [
        AgreementVersion(
            agreement=first.name, version=1, effective_from=EPOCH, document=first, created_at=EPOCH
        ),
        AgreementVersion(
            agreement=first.name, version=2, effective_from=effective, document=second, created_at=EPOCH
        ),
    ]


def _same(engine, versions, frames, start, end, as_of, sliced, weekly: bool) -> pd.DataFrame:
    """evaluate on the frames (sliced) equals the stored evaluation of the same call; returns the oracle's."""
    if weekly:  # as the Overview judges a week: by its version made weekly (prorated targets)
        versions = [week_version(versions, start, end)]
    expected = evaluate(versions, slice_frames(frames, **sliced), start, end, as_of)
    try:
        got = StoredEvaluation(engine).sliced(**sliced).evaluate(versions, start, end, as_of)
    except NotStored:  # only where no lead was ever handed over: no fact row tells a stored version apart
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(FACTS)).scalar_one() == 0
        return expected
    where = f"{start:%Y-%m-%d}..{end:%Y-%m-%d} as of {as_of}, slice {sliced}"
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-9, obj=where)
    return expected


def test_the_stored_evaluation_equals_the_pandas_engine_on_the_demo(engine):
    load_demo(engine, leads=2_000, today=TODAY)
    with engine.begin() as conn:  # some archived leads and deals: they leave every figure
        conn.execute(sa.text("UPDATE leads SET archived = :yes WHERE id % 23 = 0"), {"yes": True})
        conn.execute(sa.text("UPDATE deals SET archived = :yes WHERE id % 7 = 0"), {"yes": True})
    assert queries.count_handovers(engine) > 0
    versions = _versions()
    refresh_facts(engine, versions)
    tz = versions[0].document.timezone
    frames = read_window(engine, pd.Timestamp("2025-10-01", tz="UTC"), pd.Timestamp("2026-03-20", tz="UTC"))
    owner = int(queries.read_owners(engine).dropna(subset=["team"])["id"].iloc[1])
    statuses, metrics = set(), set()
    for as_of in ("2026-01-20T10:00", "2026-02-03T16:45", "2026-03-16T00:00"):
        moment = pd.Timestamp(as_of, tz="UTC")
        months = period_grid("month", tz, moment - pd.DateOffset(months=3), moment)
        weeks = period_grid("week", tz, moment - pd.Timedelta(weeks=5), moment)
        for sliced in (
            {},
            {"teams": ("EMEA",)},
            {"owners": (owner,)},
            {"channels": ("Organic Search", "Events")},
        ):
            rows = _same(engine, versions, frames, months["period_start"].iloc[0], months["period_end"].iloc[-1],
                         moment, sliced, weekly=False)  # fmt: skip
            statuses |= set(rows["status"])
            metrics |= set(rows.loc[rows["n"] > 0, "metric"])
            for week in weeks.itertuples():
                for at in (moment, min(moment, week.period_end)):
                    rows = _same(
                        engine, versions, frames, week.period_start, week.period_end, at, sliced, True
                    )
                    statuses |= set(rows["status"])
    assert metrics == {c.metric for v in versions for c in v.document.commitments}, metrics
    assert {"met", "missed", "on track", "provisional", "no target"} <= statuses, statuses


_BASE = pd.Timestamp("2026-03-02T00:00", tz="UTC")
_hours = st.integers(min_value=0, max_value=20 * 24)


@st.composite
def small_company(draw):
    at = lambda hours: _BASE + pd.Timedelta(hours=hours)  # noqa: E731
    maybe = lambda: draw(st.one_of(st.none(), _hours))  # noqa: E731
    n = draw(st.integers(min_value=1, max_value=10))
    ids = [f"L{i}" for i in range(n)]
    leads = pd.DataFrame({
        "source": "t", "external_id": ids,
        "created_at": [pd.NaT if (h := maybe()) is None else at(h - 24) for _ in range(n)],
        "mql_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "sql_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "first_touch_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "disposition": [draw(st.sampled_from(["accepted", "rejected", "open", None])) for _ in range(n)],
        "disposition_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", "nobody", None])) for _ in range(n)],
        "channel": [draw(st.sampled_from(["web", "Events", None])) for _ in range(n)],
        "segment": [draw(st.sampled_from(["SMB", None])) for _ in range(n)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)],
    })  # fmt: skip
    k = draw(st.integers(min_value=0, max_value=8))
    deals = pd.DataFrame({
        "source": "t", "external_id": [f"D{i}" for i in range(k)],
        "lead_external_id": [draw(st.sampled_from([*ids, "gone", None])) for _ in range(k)],
        "created_at": [at(draw(_hours)) for _ in range(k)],
        "closed_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(k)],
        "is_won": [draw(st.booleans()) for _ in range(k)],
        "amount": [draw(st.sampled_from([None, 100.0, 250.5])) for _ in range(k)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", None])) for _ in range(k)],
        "channel": [draw(st.sampled_from(["web", "partner", None])) for _ in range(k)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(k)],
    })  # fmt: skip
    deals["is_closed"] = deals["closed_at"].notna()
    m = draw(st.integers(min_value=0, max_value=12))
    activities = pd.DataFrame({
        "source": "t", "external_id": [f"A{i}" for i in range(m)],
        "lead_external_id": [draw(st.sampled_from(ids)) for _ in range(m)],
        "kind": [draw(st.sampled_from(["call", "email"])) for _ in range(m)],
        "occurred_at": [at(draw(_hours)) for _ in range(m)],
    })  # fmt: skip
    recycled = draw(st.lists(st.sampled_from(ids), unique=True, max_size=2))
    handovers = pd.DataFrame(
        [
            {
                "source": "t",
                "lead_external_id": lead,
                "mql_at": at(h),
                "recycled": i > 0,
                "sql_at": pd.NaT if (s := maybe()) is None else at(s),
            }  # fmt: skip
            for lead in recycled
            for i, h in enumerate(sorted(draw(st.lists(_hours, min_size=2, max_size=3))))
        ],
        columns=["source", "lead_external_id", "mql_at", "recycled", "sql_at"],
    )
    return leads, deals, activities, handovers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), as_of_hours=st.lists(_hours, min_size=1, max_size=2))
def test_the_stored_evaluation_equals_the_pandas_engine_on_small_data(engine, company, as_of_hours):
    leads, deals, activities, handovers = company
    with engine.begin() as conn:
        for table in ("sla_facts", "handovers", "activities", "deals", "leads", "owners"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    upserts.upsert_owners(engine, pd.DataFrame({
        "source": "t", "external_id": ["o1", "o2"], "name": ["Ann", "Bo"], "team": ["EMEA", None],
    }))  # fmt: skip
    upserts.upsert_leads(engine, leads)
    for table, rows in (("deals", deals), ("activities", activities)):
        if len(rows):
            getattr(upserts, f"upsert_{table}")(engine, rows)
    if len(handovers):
        upserts.replace_handovers(engine, handovers)
    versions = _versions()[:1]
    refresh_facts(engine, versions)
    frames = read_window(engine, pd.Timestamp("2026-02-01", tz="UTC"), pd.Timestamp("2026-04-15", tz="UTC"))
    owner = int(queries.read_owners(engine).set_index("name").loc["Ann", "id"])
    tz = versions[0].document.timezone
    for hours in as_of_hours:
        moment = _BASE + pd.Timedelta(hours=hours, minutes=30)
        for sliced in ({}, {"teams": ("EMEA",)}, {"owners": (owner,)}, {"channels": ("web",)}):
            _same(engine, versions, frames, pd.Timestamp("2026-03-01", tz=tz), pd.Timestamp("2026-04-01", tz=tz),
                  moment, sliced, weekly=False)  # fmt: skip
            for week in period_grid("week", tz, _BASE, moment).itertuples():
                _same(
                    engine, versions, frames, week.period_start, week.period_end, moment, sliced, weekly=True
                )


def test_the_overview_drawn_from_the_database_is_the_overview_drawn_from_the_rows(engine):
    load_demo(engine, leads=1_500, today=TODAY)
    versions = _versions()
    refresh_facts(engine, versions)
    moment = pd.Timestamp("2026-03-12T15:00", tz="UTC")
    tz = versions[-1].document.timezone
    owner = int(queries.read_owners(engine).dropna(subset=["team"])["id"].iloc[0])
    for sliced in ({}, {"teams": ("EMEA",)}, {"owners": (owner,)}):
        f = filters_for(versions, moment, **sliced)
        for week in (week_of(moment, tz), week_of(moment - pd.Timedelta(weeks=2), tz)):
            frames = read_window(engine, *data_window(versions, f, week))
            expected = overview_view(versions, frames, None, f, week)
            got = overview_view(versions, StoredEvaluation(engine), None, f, week)
            pd.testing.assert_frame_equal(
                got.figures_csv, expected.figures_csv, check_exact=False, rtol=1e-12
            )
            pd.testing.assert_frame_equal(
                got.overview.trend, expected.overview.trend, check_exact=False, rtol=1e-12
            )
            pd.testing.assert_frame_equal(got.table, expected.table)
            assert [c.caption for c in got.cards] == [c.caption for c in expected.cards]
            assert [g.sentence for g in got.gaps] == [g.sentence for g in expected.gaps]
            assert got.about == expected.about and len(got.cards) > 5


def test_without_the_facts_of_a_version_the_database_says_it_cannot_answer(engine):
    load_demo(engine, leads=300, today=TODAY)
    versions = _versions()
    refresh_facts(engine, versions[:1])  # version 2's facts are not stored
    stored = StoredEvaluation(engine)
    january = (pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC"))
    assert len(stored.evaluate(versions, *january, pd.Timestamp("2026-01-20", tz="UTC")))  # judged by v1
    with pytest.raises(NotStored, match="version 2"):
        stored.evaluate(versions, pd.Timestamp("2026-02-02", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC"),
                        pd.Timestamp("2026-02-20", tz="UTC"))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(FACTS.delete())
    with pytest.raises(NotStored, match="facts"):
        StoredEvaluation(engine).evaluate(versions, *january, pd.Timestamp("2026-01-20", tz="UTC"))
