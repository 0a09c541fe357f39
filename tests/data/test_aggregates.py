"""The Marketing history from aggregate queries equals the pandas engine (the oracle).

On SQLite and PostgreSQL (the ``engine`` fixture), on the demo company (recycled leads with two handovers,
moved and archived deals, archived leads added here) and on small Hypothesis-made data: the MQL -> SQL
trend (evaluate's rows through rows_for) and the channel volumes of the earlier periods (volume_by) are the
same for several as_of x slices (none, a team, an owner, a channel) x agreement versions (a version change
mid-history changes the commitment, its target and its filters).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_agreement
from analytics.commitments import document_in_force
from analytics.history import history_window
from analytics.periods import period_of
from connectors.demo import load_demo
from data import aggregates, queries, upserts
from data.frames import read_window
from views.filters import Filters, filters_for
from views.marketing import history_from_frames

DEFAULT = (Path(__file__).resolve().parents[2] / "agreements" / "sales-marketing.yaml").read_text()
TODAY = dt.date(2026, 3, 16)
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
CONVERSION = "\n  - {id: conversion, owner: marketing, metric: mql_to_sql_rate, target: %s, filters: %s}"


def _with(text: str, extra: str) -> str:
    return text.replace("\ncommitments:", "\ncommitments:" + extra, 1)


def _versions(text: str = DEFAULT, first: str = "") -> list[AgreementVersion]:
    """v1: ``first`` commitments only (none: the page tracks the rate without a target); v2 from October
    2025: a conversion target over four channels; v3 from February 2026: another target, EMEA only, and a
    second conversion commitment for an owner."""
    docs = [
        parse_agreement(_with(text, first)),
        parse_agreement(
            _with(
                text,
                CONVERSION
                % (
                    0.3,
                    "{channel: [Organic Search, Paid Search, Events, Webinars, web], segment: [SMB, Mid-Market]}",
                ),
            )
        ),
        parse_agreement(
            _with(
                text,
                CONVERSION
                % (0.35, "{team: [EMEA]}")
                + "\n  - {id: rep-conversion, owner: sales, metric: mql_to_sql_rate, target: 0.5,"
                " filters: {owner: [owner-02]}}",
            )
        ),
    ]
    starts = [
        EPOCH,
        *(pd.Timestamp(d, tz=docs[0].timezone).tz_convert("UTC") for d in ("2025-10-01", "2026-02-01")),
    ]
    return [
        AgreementVersion(agreement=d.name, version=i + 1, effective_from=s, document=d, created_at=EPOCH)
        for i, (d, s) in enumerate(zip(docs, starts, strict=True))
    ]


def _check(engine, versions, f: Filters, history_start):
    """The SQL history of ``f`` equals the pandas engine's on frames of the window it needs; returns the oracle's."""
    doc = document_in_force(versions, f.as_of)
    frames = read_window(engine, *history_window(doc, history_start, f.period_start, f.period_end, f.as_of))
    oracle = history_from_frames(versions, frames, f, history_start)
    found = aggregates.history_figures(engine, versions, f, history_start)
    where = f"as of {f.as_of}, {f.period}, slice {f.teams}/{f.owners}/{f.channels}"
    for name in ("trend", "previous", "usual"):
        expected, got = getattr(oracle, name), getattr(found, name)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, obj=f"{name} {where}")
    return oracle


def test_the_sql_history_equals_the_pandas_engine_on_the_demo(engine):
    load_demo(engine, leads=2_000, today=TODAY)
    with engine.begin() as conn:  # some archived leads: they leave every figure
        conn.execute(sa.text("UPDATE leads SET archived = :yes WHERE id % 23 = 0"), {"yes": True})
    assert queries.count_handovers(engine) > 0
    versions = _versions()
    owner = int(queries.read_owners(engine).dropna(subset=["team"])["id"].iloc[1])
    statuses = set()
    for as_of in ("2025-09-20T10:00", "2026-01-15T12:00", "2026-02-02T08:00", "2026-03-10T16:00"):
        moment = pd.Timestamp(as_of, tz="UTC")
        doc = document_in_force(versions, moment)
        history_start = period_of(moment - pd.DateOffset(months=11), doc.period, doc.timezone)["period_start"]
        for sliced in ({}, {"teams": ("EMEA",)}, {"owners": (owner,)}, {"channels": ("Organic Search",)}):
            for period in (None, "2025-08"):
                f = filters_for(versions, moment, period, **sliced)
                oracle = _check(engine, versions, f, history_start)
                statuses |= set(oracle.trend["status"])
                assert oracle.trend["n"].sum() > 0 and len(oracle.previous)
    # The comparison covers judged periods, provisional ones and those without a target.
    assert {"met", "missed", "provisional", "no target"} <= statuses, statuses


def test_a_repeat_handover_counts_in_its_own_period_with_its_own_sql(engine):
    """L1 handed over in January (SQL by a deal in its window), recycled, handed over again in March (SQL
    from the lead's sql_at, which falls in the second window); L2 once, in January, archived in a second
    step: the figures follow."""
    at = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    upserts.upsert_owners(
        engine, pd.DataFrame({"source": "crm", "external_id": ["o1"], "name": ["Ann"], "team": ["EMEA"]})
    )
    upserts.upsert_leads(engine, pd.DataFrame({
        "source": "crm", "external_id": ["L1", "L2"], "owner_external_id": ["o1", "o1"],
        "mql_at": [at("2026-03-02 10:00"), at("2026-01-07 10:00")], "sql_at": [at("2026-03-04 10:00"), pd.NaT],
        "channel": ["Events", "Webinars"], "segment": "SMB", "archived": [False, False],
    }))  # fmt: skip
    upserts.upsert_deals(engine, pd.DataFrame({
        "source": "crm", "external_id": ["D1"], "lead_external_id": ["L1"], "created_at": [at("2026-01-20 10:00")],
        "amount": [1000.0], "channel": ["Web"], "archived": [False],
    }))  # fmt: skip
    upserts.replace_handovers(engine, pd.DataFrame({
        "source": "crm", "lead_external_id": ["L1", "L1"], "mql_at": [at("2026-01-05 10:00"), at("2026-03-02 10:00")],
        "recycled": [False, True],
    }))  # fmt: skip
    versions = _versions()
    history_start = at("2025-12-31 23:00")  # January in Berlin
    f = filters_for(versions, at("2026-03-20 12:00"))
    found = aggregates.history_figures(engine, versions, f, history_start)
    trend = found.trend.set_index("period")
    assert trend.loc["2026-01", ["n", "met"]].tolist() == [2, 1]  # L1's first handover (by its deal), L2
    assert trend.loc["2026-03", ["n", "met"]].tolist() == [1, 1]  # L1 again, by its sql_at
    assert found.usual.set_index("channel").loc["Events", "sourced_pipeline"] == 1000.0
    _check(engine, versions, f, history_start)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE leads SET archived = :yes WHERE external_id = 'L2'"), {"yes": True})
    found = aggregates.history_figures(engine, versions, f, history_start)
    assert found.trend.set_index("period").loc["2026-01", ["n", "met"]].tolist() == [1, 1]
    _check(engine, versions, f, history_start)


# --- small made-up companies -------------------------------------------------------------------------------

_BASE = pd.Timestamp("2026-01-20T00:00", tz="UTC")
_hours = st.integers(min_value=0, max_value=60 * 24)


@st.composite
def small_company(draw):
    at = lambda hours: _BASE + pd.Timedelta(hours=hours)  # noqa: E731
    maybe = lambda: draw(st.one_of(st.none(), _hours))  # noqa: E731
    n = draw(st.integers(min_value=1, max_value=10))
    leads = pd.DataFrame({
        "source": "t", "external_id": [f"L{i}" for i in range(n)],
        "created_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "mql_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "sql_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", "nobody", None])) for _ in range(n)],
        "channel": [draw(st.sampled_from(["web", "event", None])) for _ in range(n)],
        "segment": [draw(st.sampled_from(["SMB", None])) for _ in range(n)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)],
    })  # fmt: skip
    k = draw(st.integers(min_value=0, max_value=8))
    deals = pd.DataFrame({
        "source": "t", "external_id": [f"D{i}" for i in range(k)],
        "lead_external_id": [draw(st.sampled_from([*leads["external_id"], "gone", None])) for _ in range(k)],
        "created_at": [at(draw(_hours)) for _ in range(k)],  # undated deals: see data.aggregates
        "amount": [draw(st.sampled_from([None, 100.0, 250.5])) for _ in range(k)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", None])) for _ in range(k)],
        "channel": [draw(st.sampled_from(["web", "partner", None])) for _ in range(k)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(k)],
    })  # fmt: skip
    recycled = draw(st.lists(st.sampled_from(list(leads["external_id"])), unique=True, max_size=3))
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
    return leads, deals, handovers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), as_of_hours=st.lists(_hours, min_size=1, max_size=2))
def test_the_sql_history_equals_the_pandas_engine_on_small_data(engine, company, as_of_hours):
    leads, deals, handovers = company
    with engine.begin() as conn:
        for table in ("handovers", "deals", "leads", "owners"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    upserts.upsert_owners(engine, pd.DataFrame({
        "source": "t", "external_id": ["o1", "o2"], "name": ["Ann", "Bo"], "team": ["EMEA", None],
    }))  # fmt: skip
    upserts.upsert_leads(engine, leads)
    if len(deals):
        upserts.upsert_deals(engine, deals)
    if len(handovers):
        upserts.replace_handovers(engine, handovers)
    versions = _versions()
    owner = int(queries.read_owners(engine).set_index("name").loc["Ann", "id"])
    history_start = pd.Timestamp("2025-12-31T23:00", tz="UTC")
    for hours in as_of_hours:
        moment = _BASE + pd.Timedelta(hours=hours, minutes=30)
        for sliced in ({}, {"teams": ("EMEA",)}, {"owners": (owner,)}, {"channels": ("web",)}):
            _check(engine, versions, filters_for(versions, moment, **sliced), history_start)
