"""SLA facts: the SQL figures over stored instants equal the pandas evaluation (the oracle).

On SQLite and PostgreSQL (the ``engine`` fixture), on the demo company (recycled leads included, read
back as the pages read it) and on small Hypothesis-made data, for every clock commitment x period x
slice x several as_of.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import alembic.command
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_agreement, version_in_force
from analytics.commitments import evaluate
from analytics.schema import empty_frame
from connectors.demo import generate, load_demo
from data import facts, queries, upserts
from data.engine import _alembic_config, current_revision, head_revision, make_engine, upgrade
from data.facts import CLOCK_METRICS, FACTS, compute_facts, figures, read_frames, refresh_facts
from data.frames import read_window
from tests.conftest import empty_postgres
from tests.data.test_handovers import write_history, write_recycled_lead

DEFAULT = (Path(__file__).resolve().parents[2] / "agreements" / "sales-marketing.yaml").read_text()
TODAY = dt.date(2026, 3, 16)
# The default agreement has no duration commitment: the oracle tests add the two.
DURATIONS = """
  - {id: median-response, owner: sales, metric: response_time_median, target: 3}
  - {id: p90-response, owner: sales, metric: response_time_p90, target: 8}
  - {id: decided-by-eod, owner: sales, metric: dispositioned_within, params: {business_days: 1, reading: end_of_day}, target: 0.5}
consequences:"""  # noqa: E501
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
KEY = ["agreement", "version", "commitment", "lead_id", "row_id"]


def _versions(text: str = DEFAULT) -> list[AgreementVersion]:
    """Two versions: the default, then from 2026-02-01 a stricter one on other hours, so facts differ
    per version and each period is judged by the one in force when it started."""
    text = text.replace("consequences:", DURATIONS, 1) if "consequences:" in text else text
    first = parse_agreement(text)
    stricter = text.replace("business_hours: 4", "business_hours: 2").replace(
        'hours: ["09:00", "17:30"]\n  holidays', 'hours: ["08:00", "16:00"]\n  holidays', 1
    )
    second = parse_agreement(stricter)
    effective = pd.Timestamp("2026-02-01", tz=first.timezone).tz_convert("UTC")
    return [
        AgreementVersion(
            agreement=first.name, version=1, effective_from=EPOCH, document=first, created_at=EPOCH
        ),
        AgreementVersion(
            agreement=first.name, version=2, effective_from=effective, document=second, created_at=EPOCH
        ),
    ]


def _group_value(row, by: str | None):
    if by is None:
        return None
    if by == "owner":
        return None if pd.isna(row.owner_id) else int(row.owner_id)
    value = getattr(row, by)
    return None if value == "(none)" else value


def _check_against_evaluate(
    engine, versions, frames, start, end, as_ofs, bys=(None, "team", "owner", "channel")
):
    """Every clock row of evaluate (per period, per slice) equals the SQL figures; returns rows compared.

    Also no SQL row is left over: a period or group the oracle has no leads for has no facts either.
    """
    compared = 0
    for as_of in as_ofs:
        for by in bys:
            result = evaluate(versions, frames, start, end, as_of, by=by)
            result = result[result["metric"].isin(CLOCK_METRICS) & (result["n"] > 0)]
            result = result.assign(
                _version=[
                    (version_in_force(versions, s) or min(versions, key=lambda v: v.effective_from)).version
                    for s in result["period_start"]
                ]
            )
            for (cid, number), rows in result.groupby(["commitment", "_version"]):
                version = next(v for v in versions if v.version == number)
                got = figures(
                    engine, version.agreement, number, cid, version.document.period,
                    rows["period_start"].min(), rows["period_end"].max(), as_of,
                    by=None if by is None else ("owner_id" if by == "owner" else by),
                )  # fmt: skip
                column = None if by is None else ("owner_id" if by == "owner" else by)
                sql = {
                    (r["period_start"], None if column is None or pd.isna(r[column]) else r[column]): r
                    for r in got.to_dict("records")
                }
                assert len(sql) == len(rows), f"{cid} v{number} by={by} as_of={as_of}: rows differ"
                for row in rows.itertuples(index=False):
                    where = f"{cid} v{number} {row.period} by={by} as_of={as_of}"
                    value = _group_value(row, by)
                    fig = sql[
                        (row.period_start, int(value) if by == "owner" and value is not None else value)
                    ]
                    assert fig["n"] == row.n, where
                    if row.kind == "rate":
                        assert (fig["met"], fig["breached"], fig["pending"]) == (
                            row.met,
                            row.breached,
                            row.pending,
                        ), where
                    if math.isnan(row.actual):
                        assert math.isnan(fig["actual"]), where
                    else:
                        assert fig["actual"] == pytest.approx(row.actual, rel=1e-12, abs=1e-9), where
                    compared += 1
    return compared


def _stored(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        stored = pd.DataFrame(
            conn.execute(FACTS.select()).mappings().all(), columns=[c.name for c in FACTS.c]
        )
    return _comparable(stored)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(KEY).reset_index(drop=True).astype(object)
    return frame.where(frame.notna(), None)


def test_sql_figures_equal_the_pandas_evaluation_on_the_demo_with_recycled_leads(engine, monkeypatch):
    load_demo(engine, leads=2_000, today=TODAY)
    versions = _versions()
    monkeypatch.setattr(facts, "_REINDEX_ROWS", 1_000)  # the big write's path: period index dropped, rebuilt
    written = refresh_facts(engine, versions)
    assert written > 1_000
    assert "ix_sla_facts_period" in {i["name"] for i in sa.inspect(engine).get_indexes("sla_facts")}
    with engine.connect() as conn:
        repeats = conn.execute(sa.select(sa.func.count()).where(FACTS.c.row_id < 0)).scalar_one()
    assert repeats > 0  # the demo's recycled leads: a fact row per repeat handover
    start = pd.Timestamp("2025-11-01", tz="Europe/Berlin")
    end = pd.Timestamp("2026-03-16", tz="Europe/Berlin")
    frames = read_window(engine, start.tz_convert("UTC"), end.tz_convert("UTC"))  # as the pages read
    as_ofs = [
        pd.Timestamp("2026-01-20T10:00", tz="UTC"),
        pd.Timestamp("2026-02-03T16:45", tz="UTC"),  # just after v2 takes effect: pending leads
        pd.Timestamp("2026-03-16T00:00", tz="UTC"),
    ]
    compared = _check_against_evaluate(engine, versions, frames, start, end, as_ofs)
    assert compared > 300


def test_a_recycled_lead_has_a_fact_row_per_handover_judged_as_the_analytics_judge_it(engine):
    write_recycled_lead(engine)
    write_history(engine)
    versions = _versions()[:1]
    refresh_facts(engine, versions)
    lead_ids = queries.read_leads(engine, per_handover=False).set_index("external_id")["id"]
    facts = _stored(engine)
    speed = facts[facts["commitment"] == "speed-to-lead"].set_index("row_id")
    l1 = int(lead_ids["L1"])
    assert sorted(speed.index[speed["lead_id"] == l1].tolist())[-1] == l1  # the first handover keeps the id
    repeat = [r for r in speed.index if r < 0]
    assert len(repeat) == 1 and speed.loc[repeat[0], "lead_id"] == l1
    frames = read_window(engine, pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-04-01", tz="UTC"))
    as_ofs = [pd.Timestamp(x, tz="UTC") for x in ("2026-01-05 12:00", "2026-03-02 11:00", "2026-03-31 18:00")]
    assert _check_against_evaluate(engine, versions, frames, "2026-01-01", "2026-04-01", as_ofs) >= 9

    # Stored again, the history's handovers get new ids: a refresh of that lead leaves no stale row.
    write_history(engine)
    refresh_facts(engine, versions, lead_ids=[l1])
    assert _stored(engine).equals(_comparable(compute_facts(versions, read_frames(engine))))
    assert (_stored(engine)["row_id"] < 0).sum() == len(repeat) * len(_stored(engine)["commitment"].unique())


def test_an_incremental_refresh_equals_a_full_one(engine):
    load_demo(engine, leads=600, today=TODAY)
    versions = _versions()
    refresh_facts(engine, versions)
    whole = read_frames(engine)
    # A sync changes 30 leads: touched later, one archived, one re-routed to another owner.
    stored = queries.read_leads(engine, per_handover=False)
    changed = stored.iloc[::20]
    edit = changed[["source", "external_id", "first_touch_at"]].copy()
    edit["first_touch_at"] = edit["first_touch_at"] + pd.Timedelta(hours=30)
    edit["archived"] = [True] + [False] * (len(edit) - 1)
    owners = stored["owner_external_id"].dropna().unique()
    edit["owner_external_id"] = changed["owner_external_id"].to_numpy()
    edit.iloc[1, edit.columns.get_loc("owner_external_id")] = next(
        o for o in owners if o != changed["owner_external_id"].iloc[1]
    )
    upserts.upsert_leads(engine, edit)
    refresh_facts(engine, versions, lead_ids=changed["id"].tolist())
    expected = _comparable(compute_facts(versions, read_frames(engine)))
    assert not expected.equals(_comparable(compute_facts(versions, whole)))  # the sync changed facts
    assert _stored(engine).equals(expected)


def test_the_frames_of_some_leads_are_those_leads_with_their_handovers_and_activities(engine):
    load_demo(engine, leads=600, today=TODAY)
    whole = read_frames(engine)
    recycled = queries.read_leads(engine)
    repeat_lead = recycled.loc[recycled["id"] < 0, "external_id"].iloc[0]
    plain = queries.read_leads(engine, per_handover=False).set_index("external_id")["id"]
    ids = [3, 40, 41, int(plain[repeat_lead]), 10_000]  # 10,000: no such lead
    some = read_frames(engine, ids)
    leads = whole["leads"]
    mine = leads["external_id"].isin(plain.index[plain.isin(ids)])
    pd.testing.assert_frame_equal(some["leads"], leads[mine].reset_index(drop=True))
    assert (some["leads"]["id"] < 0).sum() == 1
    acts = whole["activities"]
    expected = acts[acts["lead_id"].isin(some["leads"]["id"])].sort_values("id").reset_index(drop=True)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(some["activities"].sort_values("id").reset_index(drop=True), expected)
    assert read_frames(engine, [])["leads"].empty


SMALL_AGREEMENT = """
name: Small
parties: [marketing, sales]
period: week
timezone: America/New_York
calendar:
  workdays: [mon, tue, wed, thu, fri]
  hours: ["09:00", "12:00"]
  holidays: [2026-03-04]
commitments:
  - {id: fast, owner: sales, metric: followed_up_within, params: {business_hours: 2}, target: 0.8}
  - {id: three, owner: sales, metric: touches_within, params: {touches: 2, business_days: 1}, target: 0.5}
  - {id: decide, owner: sales, metric: dispositioned_within, params: {business_days: 1}, target: 0.5}
  - {id: eod, owner: sales, metric: dispositioned_within, params: {business_days: 1, reading: end_of_day}, target: 0.5}
  - {id: median, owner: sales, metric: response_time_median, target: 3}
  - {id: p90, owner: sales, metric: response_time_p90, target: 5}
"""  # noqa: E501
_BASE = pd.Timestamp("2026-03-02T00:00", tz="UTC")
_minutes = st.integers(min_value=0, max_value=14 * 24 * 60)


@st.composite
def small_company(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    leads = empty_frame("leads").reindex(range(n))
    mql = [_BASE + pd.Timedelta(minutes=draw(_minutes)) for _ in range(n)]

    def maybe_after(start):
        gap = draw(st.one_of(st.none(), st.integers(min_value=-120, max_value=5 * 24 * 60)))
        return pd.NaT if gap is None else start + pd.Timedelta(minutes=gap)

    leads = leads.assign(
        id=pd.array(range(1, n + 1), dtype="Int64"),
        external_id=pd.array([f"L{i}" for i in range(n)], dtype="str"),
        source="test",
        mql_at=pd.Series(mql, dtype="datetime64[us, UTC]"),
        first_touch_at=pd.Series([maybe_after(m) for m in mql], dtype="datetime64[us, UTC]"),
        disposition_at=pd.Series([maybe_after(m) for m in mql], dtype="datetime64[us, UTC]"),
        team=pd.array([draw(st.sampled_from(["A", "B", None])) for _ in range(n)], dtype="str"),
        channel=pd.array([draw(st.sampled_from(["web", "event"])) for _ in range(n)], dtype="str"),
        owner_id=pd.array([draw(st.sampled_from([1, 2, None])) for _ in range(n)], dtype="Int64"),
        archived=False,
    )
    leads = leads.astype(empty_frame("leads").dtypes.to_dict())
    k = draw(st.integers(min_value=0, max_value=25))
    acts = empty_frame("activities").reindex(range(k))
    acts = acts.assign(
        id=pd.array(range(1, k + 1), dtype="Int64"),
        external_id=pd.array([f"A{i}" for i in range(k)], dtype="str"),
        source="test",
        lead_id=pd.array([draw(st.integers(1, n)) for _ in range(k)], dtype="Int64"),
        kind=pd.array([draw(st.sampled_from(["call", "email"])) for _ in range(k)], dtype="str"),
        occurred_at=pd.Series(
            [_BASE + pd.Timedelta(minutes=draw(_minutes)) for _ in range(k)], dtype="datetime64[us, UTC]"
        ),
        archived=False,
    ).astype(empty_frame("activities").dtypes.to_dict())
    return {"leads": leads, "activities": acts}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), offsets=st.lists(_minutes, min_size=1, max_size=3))
def test_sql_figures_equal_the_pandas_evaluation_on_small_data(engine, company, offsets):
    versions = _versions(SMALL_AGREEMENT)[:1]
    with engine.begin() as conn:
        conn.execute(FACTS.delete())
    refresh_facts(engine, versions, company)
    as_ofs = [_BASE + pd.Timedelta(minutes=m + 1) for m in offsets]
    _check_against_evaluate(engine, versions, company, "2026-03-01", "2026-03-20", as_ofs)


def _ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def test_the_edges_of_a_window_are_judged_as_the_oracle_judges_them(engine):
    """Touches and decisions exactly at the limit, a microsecond past it, after a window closed, across a
    holiday; as_of exactly at the last in-time instant and a microsecond later."""
    rows = [  # mql, first touch, disposition (New York; hours 09:00-12:00, 2026-03-04 a holiday)
        ("2026-03-02 10:00", "2026-03-02 12:00", "2026-03-03 12:00"),  # touched at the limit: met
        ("2026-03-02 09:30", "2026-03-02 11:30:00.000001", "2026-03-03 12:00:00.000001"),  # 1 µs late
        ("2026-03-02 10:00", "2026-03-03 09:00", "2026-03-03 09:00"),  # the window closed at the limit
        ("2026-03-03 10:00", "2026-03-05 09:00", "2026-03-05 12:00"),  # across the holiday
        ("2026-03-02 10:00", None, None),  # untouched
    ]
    n = len(rows)
    leads = (
        empty_frame("leads")
        .reindex(range(n))
        .assign(
            id=pd.array(range(1, n + 1), dtype="Int64"),
            external_id=pd.array([f"L{i}" for i in range(n)], dtype="str"),
            source="test",
            mql_at=pd.Series([_ny(r[0]) for r in rows], dtype="datetime64[us, UTC]"),
            first_touch_at=pd.Series(
                [_ny(r[1]) if r[1] else pd.NaT for r in rows], dtype="datetime64[us, UTC]"
            ),
            disposition_at=pd.Series(
                [_ny(r[2]) if r[2] else pd.NaT for r in rows], dtype="datetime64[us, UTC]"
            ),
            disposition=pd.array(["accepted" if r[2] else "open" for r in rows], dtype="str"),
            archived=False,
        )
    )
    leads = leads.astype(empty_frame("leads").dtypes.to_dict())
    acts = (
        empty_frame("activities")
        .reindex(range(n - 1))
        .assign(
            id=pd.array(range(1, n), dtype="Int64"),
            external_id=pd.array([f"A{i}" for i in range(n - 1)], dtype="str"),
            source="test",
            lead_id=pd.array(range(1, n), dtype="Int64"),
            kind=pd.array(["call"] * (n - 1), dtype="str"),
            occurred_at=leads["first_touch_at"].iloc[: n - 1].to_numpy(),
            archived=False,
        )
    )
    acts = pd.concat([acts, acts.assign(id=acts["id"] + 10, external_id=acts["external_id"] + "b")])
    company = {"leads": leads, "activities": acts.astype(empty_frame("activities").dtypes.to_dict())}
    versions = _versions(SMALL_AGREEMENT)[:1]
    refresh_facts(engine, versions, company)
    micro = pd.Timedelta(microseconds=1)
    as_ofs = [_ny("2026-03-02 12:00"), _ny("2026-03-03 09:00"), _ny("2026-03-03 09:00") + micro,
              _ny("2026-03-03 12:00"), _ny("2026-03-03 12:00") + micro, _ny("2026-03-09 00:00")]  # fmt: skip
    assert (
        _check_against_evaluate(engine, versions, company, "2026-03-01", "2026-03-20", as_ofs, (None,)) == 36
    )
    fast = figures(engine, "Small", 1, "fast", "week", "2026-03-01T00:00Z", "2026-03-20T00:00Z", as_ofs[-1])
    assert fast[["met", "breached"]].sum().tolist() == [3, 2]  # the 1 µs late one and the untouched one


def test_figures_keep_one_slice_and_refuse_unknown_ones(engine):
    load_demo(engine, leads=300, today=TODAY)
    versions = _versions()[:1]
    refresh_facts(engine, versions)
    name, period = versions[0].agreement, versions[0].document.period
    args = (
        engine,
        name,
        1,
        "speed-to-lead",
        period,
        "2025-10-01T00:00Z",
        "2026-04-01T00:00Z",
        "2026-03-16T00:00Z",
    )
    by_team = figures(*args, by="team")
    emea = figures(*args, team="EMEA")
    expected = by_team[by_team["team"] == "EMEA"].drop(columns="team").reset_index(drop=True)
    pd.testing.assert_frame_equal(emea, expected)
    assert len(emea) > 0 and np.isfinite(emea["actual"]).all()
    with pytest.raises(ValueError, match="unknown slice 'segment'"):
        figures(*args, by="segment")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_facts_migration_upgrades_a_database_without_losing_rows(backend, tmp_path):
    engine = empty_postgres() if backend == "postgresql" else make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0006_drill")
    frames = generate(50, today=TODAY)
    upserts.upsert_leads(engine, frames["leads"])
    upserts.upsert_activities(engine, frames["activities"])
    before = queries.table_counts(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert queries.table_counts(engine) == before
    assert refresh_facts(engine, _versions()[:1]) > 0
    alembic.command.downgrade(_alembic_config(engine), "0006_drill")
    assert "sla_facts" not in sa.inspect(engine).get_table_names()
    assert queries.table_counts(engine) == before
    engine.dispose()


def test_a_full_refresh_of_more_leads_than_one_read_holds_reads_them_in_runs(engine, monkeypatch):
    load_demo(engine, leads=600, today=TODAY)
    versions = _versions()
    reads = []
    read = facts.read_frames
    monkeypatch.setattr(facts, "read_frames", lambda bind, ids=None: reads.append(ids) or read(bind, ids))
    monkeypatch.setattr(facts, "_LEADS_PER_READ", 250)  # ten million leads do not fit in memory at once
    written = refresh_facts(engine, versions)
    assert len(reads) == 3 and all(ids is not None and len(ids) <= 250 for ids in reads)  # 600 leads: 3 runs
    assert sorted(i for ids in reads for i in ids) == sorted(
        queries.read_leads(engine, per_handover=False)["id"]
    )
    monkeypatch.setattr(facts, "read_frames", read)
    expected = _comparable(compute_facts(versions, read_frames(engine)))  # everything in one read
    assert written == len(expected) and _stored(engine).equals(expected)
