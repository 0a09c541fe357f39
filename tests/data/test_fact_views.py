"""The Sales page's clock figures from the stored facts (data.fact_views) equal the pandas path, the oracle:
evaluate's counts per clock commitment (whole and per owner) and followup_by of rep_followup (per rep, per
team, overall), for several periods, slices and as_of instants, across an agreement version change."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.commitments import evaluate
from analytics.followup import followup_by
from analytics.slicing import slice_frames
from connectors.demo import load_demo
from data.fact_views import SALES_CLOCKS, judging_version, sales_clock
from data.facts import FACTS, refresh_facts
from data.frames import read_window
from tests.data.test_facts import _BASE, SMALL_AGREEMENT, TODAY, _minutes, _versions, small_company
from views.filters import Filters
from views.sales import rep_followup

COUNTS = ["n", "met", "breached", "pending"]
TABLE = ["leads", "met", "breached", "pending", "overdue_untouched"]


def _same(a, b) -> bool:
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


def _table_equal(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], where: str) -> None:
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns), where
    assert len(got) == len(want), f"{where}: {len(got)} rows, oracle {len(want)}"
    for column in keys:
        assert got[column].astype(object).where(got[column].notna(), None).tolist() == (
            want[column].astype(object).where(want[column].notna(), None).tolist()
        ), f"{where}: {column}"
    for column in TABLE:
        assert got[column].astype("int64").tolist() == want[column].astype("int64").tolist(), (
            f"{where}: {column}"
        )
    for column in ("rate", "median_hours", "p90_hours"):
        assert all(_same(x, y) for x, y in zip(got[column], want[column], strict=True)), f"{where}: {column}"


def check(engine, versions, frames, start, end, as_of, teams=(), owners=(), channels=()) -> int:
    """The facts' figures equal the pandas ones for one period, slice and as_of; returns figures compared."""
    start, end, as_of = (pd.Timestamp(x) for x in (start, end, as_of))
    where = f"[{start}, {end}) as of {as_of} teams={teams} owners={owners} channels={channels}"
    got = sales_clock(engine, versions, start, end, as_of, teams, owners, channels)
    assert got is not None, where
    data = slice_frames(frames, teams=teams, owners=owners, channels=channels)
    doc = judging_version(versions, start, as_of).document
    assert got.version == judging_version(versions, start, as_of).version
    results = evaluate(versions, data, start, end, as_of)
    by_owner = evaluate(versions, data, start, end, as_of, by="owner")
    compared = 0
    # Tiles are a period of the agreement's own; any range (an ISO week) has its follow-up table.
    whole_period = start in set(results["period_start"]) or results.empty
    for metric in SALES_CLOCKS if whole_period else ():
        commitment = next((c for c in doc.commitments if c.metric == metric), None)
        if commitment is None:
            assert metric not in got.tiles, where
            continue
        rows = results[(results["commitment"] == commitment.id) & (results["period_start"] == start)]
        tile = got.tiles[metric]
        if rows.empty or rows["n"].iloc[0] == 0:
            assert tile["n"] == 0, f"{where} {metric}"
        else:
            row = rows.iloc[0]
            assert [tile[k] for k in COUNTS] == [int(row[k]) for k in COUNTS], f"{where} {metric}"
            assert _same(tile["actual"], row["actual"]), f"{where} {metric}"
        want = by_owner[(by_owner["commitment"] == commitment.id) & (by_owner["period_start"] == start)]
        want = want[want["n"] > 0].sort_values("owner_id", na_position="last")
        mine = got.by_owner[metric].sort_values("owner_id", na_position="last")
        assert mine["owner_id"].astype("Float64").tolist() == want["owner_id"].astype("Float64").tolist(), (
            where
        )
        assert mine["owner"].tolist() == want["owner"].tolist(), f"{where} {metric}"
        for k in COUNTS:
            assert mine[k].tolist() == want[k].astype("int64").tolist(), f"{where} {metric} {k}"
        assert all(_same(x, y) for x, y in zip(mine["actual"], want["actual"], strict=True)), where
        compared += 1 + len(want)
    if whole_period and not results.empty:
        ids = [t["commitment"] for t in got.tiles.values()]
        for mine, want in ((got.evaluation, results), (got.evaluation_by_owner, by_owner)):
            want = want[want["commitment"].isin(ids) & (want["period_start"] == start)]
            if "owner_id" in want:
                want = want[want["n"] > 0]
            pd.testing.assert_frame_equal(mine, want.reset_index(drop=True), check_dtype=False, obj=where)
            compared += len(want)
    f = Filters("p", start, end, as_of, tuple(teams), tuple(owners), tuple(channels))
    detail = rep_followup(versions, data, f)
    _table_equal(
        got.per_rep, followup_by(detail, by="owner"), ["owner_id", "owner", "team"], f"{where} per rep"
    )
    _table_equal(got.per_team, followup_by(detail, by="team"), ["team"], f"{where} per team")
    overall = pd.DataFrame([got.overall])[followup_by(detail, by=None).columns]
    _table_equal(overall, followup_by(detail, by=None), [], f"{where} overall")
    return compared + len(got.per_rep) + len(got.per_team)


def test_the_sales_clock_from_facts_equals_the_pandas_path_on_the_demo(engine):
    load_demo(engine, leads=1_500, today=TODAY)
    versions = _versions()  # v2 from 2026-02-01: 2 business hours, other hours
    refresh_facts(engine, versions)
    frames = read_window(engine, pd.Timestamp("2025-12-01", tz="UTC"), pd.Timestamp("2026-03-17", tz="UTC"))
    owners = frames["leads"]["owner_id"].dropna().astype(int).value_counts().index[:2].tolist()
    teams = sorted(frames["leads"]["team"].dropna().unique().tolist())
    channels = sorted(frames["leads"]["channel"].dropna().unique().tolist())
    berlin = "Europe/Berlin"
    periods = [  # a month judged by v1, one by v2, an ISO week across nothing, the month v2 starts in
        (pd.Timestamp("2026-01-01", tz=berlin), pd.Timestamp("2026-02-01", tz=berlin)),
        (pd.Timestamp("2026-02-01", tz=berlin), pd.Timestamp("2026-03-01", tz=berlin)),
        (pd.Timestamp("2026-03-09", tz=berlin), pd.Timestamp("2026-03-16", tz=berlin)),
    ]
    as_ofs = ["2026-02-03T16:45Z", "2026-03-10T09:15Z", "2026-03-16T00:00Z"]
    slices = [
        ((), (), ()),
        (teams[:1], (), ()),
        ((), owners, ()),
        (teams, (), channels[:2]),
        (teams[:1], owners, channels),
    ]
    compared = 0
    for start, end in periods:
        for as_of in as_ofs:
            if pd.Timestamp(as_of) <= start:
                continue
            for teams_, owners_, channels_ in slices:
                compared += check(engine, versions, frames, start.tz_convert("UTC"), end.tz_convert("UTC"), as_of,
                                  teams_, owners_, channels_)  # fmt: skip
    assert compared > 200


def test_a_version_without_stored_facts_is_left_to_the_pandas_path(engine):
    load_demo(engine, leads=200, today=TODAY)
    versions = _versions()
    refresh_facts(engine, versions[:1])  # v2 (from February) has no facts stored
    start = pd.Timestamp("2026-02-01", tz="Europe/Berlin")
    assert sales_clock(engine, versions, start, start + pd.DateOffset(months=1), "2026-03-01T00:00Z") is None
    assert sales_clock(engine, versions, pd.Timestamp("2026-01-01", tz="UTC"), start, "2026-03-01T00:00Z")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), offsets=st.lists(_minutes, min_size=1, max_size=3), team=st.sampled_from([(), ("A",)]),
       owners=st.sampled_from([(), (1,), (1, 2)]))  # fmt: skip
def test_the_sales_clock_from_facts_equals_the_pandas_path_on_small_data(
    engine, company, offsets, team, owners
):
    versions = _versions(SMALL_AGREEMENT)[:1]
    with engine.begin() as conn:
        conn.execute(FACTS.delete())
    refresh_facts(engine, versions, company)
    for m in offsets:
        as_of = _BASE + pd.Timedelta(minutes=m + 1)
        for start, end in (("2026-03-01", "2026-04-01"), ("2026-03-09", "2026-03-16")):
            check(engine, versions, company, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"), as_of,
                  team, owners)  # fmt: skip
