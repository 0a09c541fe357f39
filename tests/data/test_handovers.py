"""Handovers: a recycled lead read as one row per handover, each counted in its own period with its own clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect

from analytics.commitments import evaluate
from analytics.funnel import funnel, handover_split
from analytics.schema import is_repeat_handover
from data import handovers as rows_of
from data import queries, upserts
from data.engine import current_revision, head_revision, make_engine, upgrade
from tests.analytics.conftest import agreement, commitment, ts
from tests.conftest import empty_postgres

SPEED = commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})
DOC = agreement(
    commitments=[
        commitment("mql-volume", "mql_count", 10, owner="marketing"),
        SPEED,
        commitment("decided", "dispositioned_within", 0.9, params={"business_days": 2}),
    ]
)


def frames(engine) -> dict[str, pd.DataFrame]:
    return {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine),
        "deals": queries.read_deals(engine),
        "activities": queries.read_activities(engine),
    }


def write_recycled_lead(engine) -> None:
    """L1: handed over in January (touched in 1 h, rejected), recycled, handed over again in March (never touched).

    L2: an ordinary lead, handed over once in January.
    """
    upserts.upsert_leads(
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "external_id": ["L1", "L2"],
                "mql_at": [ts("2026-03-02 10:00"), ts("2026-01-07 10:00")],
                "first_touch_at": [ts("2026-01-05 11:00"), ts("2026-01-07 11:00")],
                "disposition": ["open", "accepted"],
                "disposition_at": [pd.NaT, ts("2026-01-08 10:00")],
                "channel": ["Events", "Webinars"],
            }
        ),
    )
    upserts.upsert_activities(
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "external_id": ["A1", "A2", "A3"],
                "lead_external_id": ["L1", "L1", "L2"],
                "kind": "call",
                "occurred_at": [ts("2026-01-05 11:00"), ts("2026-01-06 09:30"), ts("2026-01-07 11:00")],
            }
        ),
    )
    upserts.upsert_deals(
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "external_id": ["D1"],
                "lead_external_id": ["L1"],
                "created_at": [ts("2026-03-04 10:00")],
                "amount": [5000.0],
                "channel": ["Events"],
            }
        ),
    )


def write_history(engine) -> None:
    upserts.replace_handovers(
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "lead_external_id": ["L1", "L1"],
                "mql_at": [ts("2026-01-05 10:00"), ts("2026-03-02 10:00")],
                "recycled": [False, True],
                "disposition": ["rejected", None],
                "disposition_at": [ts("2026-01-06 10:00"), pd.NaT],
                "rejection_reason": ["Timing", None],
            }
        ),
    )


def by_period(result: pd.DataFrame, cid: str) -> pd.DataFrame:
    return result[result["commitment"] == cid].set_index("period")


def test_a_recycled_lead_counts_twice_in_two_periods_each_with_its_own_clock(engine):
    write_recycled_lead(engine)
    write_history(engine)
    result = evaluate(DOC, frames(engine), "2026-01-01", "2026-04-01", ts("2026-03-31 18:00"))
    volume = by_period(result, "mql-volume")["actual"]
    assert volume.to_dict() == {"2026-01": 2, "2026-02": 0, "2026-03": 1}
    speed = by_period(result, "speed")
    # January: L1's first handover touched after 1 h and L2's after 1 h: both met.
    assert (speed.loc["2026-01", "met"], speed.loc["2026-01", "breached"]) == (2, 0)
    # March: the second handover's clock starts again at its own mql_at; nobody touched it.
    assert (speed.loc["2026-03", "met"], speed.loc["2026-03", "breached"]) == (0, 1)
    decided = by_period(result, "decided")
    assert (decided.loc["2026-01", "met"], decided.loc["2026-03", "breached"]) == (2, 1)


def test_a_later_handover_does_not_change_how_an_earlier_one_was_judged(engine):
    write_recycled_lead(engine)
    upserts.replace_handovers(  # as known in February: one handover only
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "lead_external_id": ["L1"],
                "mql_at": [ts("2026-01-05 10:00")],
                "disposition": ["rejected"],
                "disposition_at": [ts("2026-01-06 10:00")],
            }
        ),
    )
    upserts.upsert_leads(
        engine,
        pd.DataFrame(
            {
                "source": "crm",
                "external_id": ["L1"],
                "mql_at": [ts("2026-01-05 10:00")],
                "disposition": ["rejected"],
                "disposition_at": [ts("2026-01-06 10:00")],
            }
        ),  # fmt: skip
    )
    as_of = ts("2026-02-15 12:00")
    before = evaluate(DOC, frames(engine), "2026-01-01", "2026-02-01", as_of)
    write_recycled_lead(engine)  # the lead row moves on to the second handover
    write_history(engine)
    later = evaluate(DOC, frames(engine), "2026-01-01", "2026-02-01", ts("2026-03-31 18:00"))
    again = evaluate(DOC, frames(engine), "2026-01-01", "2026-02-01", as_of)
    columns = ["commitment", "period", "actual", "n", "met", "breached", "pending"]
    pd.testing.assert_frame_equal(before[columns], later[columns])
    pd.testing.assert_frame_equal(before[columns], again[columns])


def test_the_funnel_counts_handovers_and_a_deal_goes_to_the_handover_it_followed(engine):
    write_recycled_lead(engine)
    write_history(engine)
    cohorts = funnel(DOC, frames(engine), "2026-01-01", "2026-04-01", ts("2026-03-31 18:00")).set_index(
        "period"
    )
    assert cohorts["mql"].to_dict() == {"2026-01": 2, "2026-02": 0, "2026-03": 1}
    leads = queries.read_leads(engine)
    march = handover_split(leads, ts("2026-03-01"), ts("2026-04-01"), ts("2026-03-31 18:00"))
    january = handover_split(leads, ts("2026-01-01"), ts("2026-02-01"), ts("2026-03-31 18:00"))
    assert (march, january) == ({"first_time": 0, "recycled": 1}, {"first_time": 2, "recycled": 0})
    # D1 was created after the second handover: the March cohort has the opportunity, January's does not.
    assert cohorts["opportunity"].to_dict() == {"2026-01": 0, "2026-02": 0, "2026-03": 1}


def test_reads_key_activities_and_deals_to_the_handover_whose_window_holds_them(engine):
    write_recycled_lead(engine)
    write_history(engine)
    leads = queries.read_leads(engine).set_index("id")
    first, second = leads[leads["external_id"] == "L1"].sort_values("mql_at").index
    assert (
        first
        == queries.read_leads(engine, columns=["id", "external_id"]).query("external_id == 'L1'")["id"].max()
    )
    assert second < 0 and is_repeat_handover(pd.Series([first, second], dtype="Int64")).tolist() == [
        False,
        True,
    ]
    assert leads.loc[first, "disposition"] == "rejected" and leads.loc[first, "rejection_reason"] == "Timing"
    assert leads.loc[second, "disposition"] == "open" and pd.isna(leads.loc[second, "first_touch_at"])
    assert (leads.loc[first, "touches"], leads.loc[second, "touches"]) == (2, 0)
    acts = queries.read_activities(engine, columns=["external_id", "lead_id"]).set_index("external_id")
    assert acts.loc["A1", "lead_id"] == first and acts.loc["A2", "lead_id"] == first
    assert queries.read_deals(engine, columns=["lead_id"])["lead_id"].tolist() == [second]
    # A window on mql_at holds each handover by its own instant.
    march = queries.read_leads(engine, ts("2026-03-01"), ts("2026-04-01"), columns=["id", "mql_at"])
    assert march["id"].tolist() == [second]
    january = queries.read_leads(engine, ts("2026-01-01"), ts("2026-02-01"), columns=["id", "external_id"])
    assert sorted(january["external_id"]) == ["L1", "L2"] and second not in january["id"].tolist()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-01-01", "2026-02-01"),  # L1's first handover and L2
        ("2026-02-01", "2026-03-01"),  # nothing handed over, no deal
        ("2026-03-01", "2026-03-03"),  # L1's second handover, before its deal
        ("2026-03-03", "2026-03-10"),  # only D1: L1's second handover comes through its deal
        ("2026-03-10", "2026-06-01"),  # after everything
    ],
)
def test_a_window_read_is_every_row_read_then_cut_to_the_window(engine, start, end):
    """A window on mql_at (with the leads of its deals) gives exactly the rows of reading everything and
    keeping those handed over in the window or followed by a deal created or closed in it."""
    write_recycled_lead(engine)
    write_history(engine)
    lo, hi = ts(start), ts(end)
    everything = queries.read_leads(engine)
    deal_leads = queries.read_deals(engine, lo, hi)["lead_id"].dropna()
    expected = everything[
        ((everything["mql_at"] >= lo) & (everything["mql_at"] < hi)).fillna(False)
        | everything["id"].isin(deal_leads)
    ].reset_index(drop=True)
    windowed = queries.read_leads(engine, lo, hi, with_deal_leads=True)
    pd.testing.assert_frame_equal(windowed, expected)
    alone = queries.read_leads(engine, lo, hi)
    pd.testing.assert_frame_equal(alone, expected[expected["mql_at"].between(lo, hi, inclusive="left")]
                                  .reset_index(drop=True))  # fmt: skip


def test_replacing_a_history_is_idempotent_and_one_handover_reads_as_the_lead_row(engine):
    write_recycled_lead(engine)
    write_history(engine)
    write_history(engine)
    assert len(queries.read_handovers(engine)) == 2
    assert queries.read_handovers(engine)["seq"].tolist() == [1, 2]
    plain = queries.read_leads(engine)
    upserts.replace_handovers(
        engine,
        pd.DataFrame({"source": "crm", "lead_external_id": ["L1"], "mql_at": [ts("2026-03-02 10:00")]}),
    )
    assert len(queries.read_handovers(engine)) == 1
    one = queries.read_leads(engine)
    assert len(plain) == 3 and len(one) == 2
    assert one.set_index("external_id").loc["L1", "mql_at"] == ts("2026-03-02 10:00")
    assert upserts.delete_source(engine, "crm")["handovers"] == 1


# --- the expansion against a slow, obvious one -------------------------------------------------------


def slow_expand(leads: pd.DataFrame, handovers: pd.DataFrame, activities: pd.DataFrame) -> list[dict]:
    """Per lead, per handover in mql_at order: walk the activities and pick what lies in its window."""
    out = []
    for lead_id, group in handovers.groupby("lead_id"):
        group = group.sort_values(["mql_at", "handover_id"])
        lead = leads.set_index("id").loc[lead_id]
        starts = group["mql_at"].tolist()
        for k, (_, h) in enumerate(group.iterrows()):
            lo = starts[k] if k else pd.Timestamp.min.tz_localize("UTC")
            hi = starts[k + 1] if k + 1 < len(starts) else pd.Timestamp.max.tz_localize("UTC")

            def inside(t, lo=lo, hi=hi):
                return pd.notna(t) and lo <= t < hi

            acts = [t for i, t in zip(activities["lead_id"], activities["occurred_at"], strict=True)
                    if i == lead_id and inside(t)]  # fmt: skip
            candidates = acts + ([lead["first_touch_at"]] if inside(lead["first_touch_at"]) else [])
            last = k == len(starts) - 1
            owns = inside(lead["disposition_at"]) if pd.notna(lead["disposition_at"]) else last
            if pd.notna(h["disposition"]):
                decision = (h["disposition"], h["disposition_at"])
            elif owns:
                decision = (lead["disposition"], lead["disposition_at"])
            else:
                decision = ("open", pd.NaT)
            out.append(
                {
                    "id": int(lead_id) if k == 0 else -int(h["handover_id"]),
                    "mql_at": h["mql_at"],
                    "first_touch_at": min(candidates) if candidates else pd.NaT,
                    "touches": len(acts),
                    "sql_at": lead["sql_at"] if inside(lead["sql_at"]) else pd.NaT,
                    "disposition": decision[0],
                    "disposition_at": decision[1],
                }
            )
    return sorted(out, key=lambda r: r["id"])


@pytest.mark.parametrize("seed", range(6))
def test_expansion_matches_a_slow_obvious_walk(seed):
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-01-01", tz="UTC")

    def when(n, missing=0.2):
        hours = rng.integers(0, 24 * 120, n).astype(float)
        hours[rng.random(n) < missing] = np.nan
        return pd.Series(base + pd.to_timedelta(hours, unit="h")).astype("datetime64[us, UTC]")

    n = 40
    decided = when(n, 0.5)
    leads = pd.DataFrame(
        {
            "id": pd.array(np.arange(1, n + 1), dtype="Int64"),
            "mql_at": when(n, 0),
            "sql_at": when(n, 0.5),
            "first_touch_at": when(n, 0.5),
            "touches": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "disposition": pd.Series(
                np.where(decided.notna(), rng.choice(["accepted", "rejected"], n), "open"), dtype="str"
            ),
            "disposition_at": decided,
            "rejection_reason": pd.Series([None] * n, dtype="str"),
        }
    )
    k = 70
    handovers = pd.DataFrame(
        {
            "lead_id": rng.integers(1, n + 1, k),
            "handover_id": np.arange(1, k + 1),
            "mql_at": when(k, 0),
            "disposition": pd.Series(np.where(rng.random(k) < 0.3, "rejected", None), dtype="str"),
        }
    )
    handovers["disposition_at"] = when(k, 0).where(handovers["disposition"].notna())
    m = 200
    activities = pd.DataFrame(
        {"lead_id": pd.array(rng.integers(1, n + 1, m), dtype="Int64"), "occurred_at": when(m, 0.05)}
    )
    fast = rows_of.expand(leads, handovers, activities).sort_values("id").reset_index(drop=True)
    slow = pd.DataFrame(slow_expand(leads, handovers, activities))
    assert fast["id"].tolist() == slow["id"].tolist()
    for column in ("mql_at", "first_touch_at", "sql_at", "disposition_at"):
        got = pd.Series(fast[column].to_numpy()).astype("datetime64[us, UTC]")
        want = pd.to_datetime(slow[column], utc=True).astype("datetime64[us, UTC]")
        pd.testing.assert_series_equal(got, want, check_names=False)
    assert fast["touches"].tolist() == slow["touches"].tolist()
    assert fast["disposition"].tolist() == slow["disposition"].tolist()


# --- the migration ------------------------------------------------------------------------------------


def _upgrade_keeps_every_row(engine) -> None:
    upgrade(engine, "0003")
    write_recycled_lead(engine)
    every_row = "SELECT * FROM leads ORDER BY id"
    with engine.connect() as conn:
        before = conn.exec_driver_sql(every_row).all()
    counts = queries.table_counts(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "handovers" in inspect(engine).get_table_names()
    assert queries.table_counts(engine) == counts
    with engine.connect() as conn:  # later migrations may add columns at the end: every old value is kept
        assert [tuple(row)[: len(before[0])] for row in conn.exec_driver_sql(every_row).all()] == before
    assert queries.read_leads(engine)["external_id"].tolist() == ["L1", "L2"]
    assert queries.read_handovers(engine).empty
    write_history(engine)  # the new table works on the upgraded database
    assert len(queries.read_leads(engine)) == 3


def test_an_older_sqlite_database_gains_handovers_without_losing_a_row(tmp_path):
    _upgrade_keeps_every_row(make_engine(f"sqlite:///{tmp_path / 'old.db'}"))


def test_an_older_postgres_database_gains_handovers_without_losing_a_row():
    _upgrade_keeps_every_row(empty_postgres())
