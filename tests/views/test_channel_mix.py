"""Marketing's channel table against the past, held against a slow count from the frames: MQLs and MQL -> SQL
against the previous period, share of MQLs against the share over the three periods before (pooled)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.agreement import versions_from_rows
from analytics.periods import period_of
from data import journal, queries
from data.engine import make_engine
from data.frames import read_window
from views.filters import filters_for
from views.marketing import marketing_view

AGREEMENT = "Sales and Marketing SLA"


def slow_counts(frames, start, end, as_of, teams=()) -> dict[str, tuple[int, int]]:
    """Channel -> (MQLs, SQLs) of the leads handed over in [start, end), row by row."""
    leads, deals, owners = frames["leads"], frames["deals"], frames["owners"]
    team_of = dict(zip(owners["id"], owners["team"], strict=False))
    qualified = {int(d["lead_id"]) for d in deals.to_dict("records")
                 if pd.notna(d["lead_id"]) and pd.notna(d["created_at"]) and d["created_at"] <= as_of}  # fmt: skip
    out: dict[str, list[int]] = {}
    for lead in leads.to_dict("records"):
        handed = lead["mql_at"]
        if pd.isna(handed) or not (start <= handed < end) or handed > as_of:
            continue
        if pd.notna(lead["created_at"]) and lead["created_at"] > as_of:
            continue
        if teams and team_of.get(lead["owner_id"]) not in teams:
            continue
        channel = lead["channel"] if isinstance(lead["channel"], str) and lead["channel"] else "(none)"
        sql = (pd.notna(lead["sql_at"]) and lead["sql_at"] <= as_of) or int(lead["id"]) in qualified
        counts = out.setdefault(channel, [0, 0])
        counts[0] += 1
        counts[1] += int(sql)
    return {c: (m, s) for c, (m, s) in out.items()}


def close(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@pytest.mark.parametrize("teams", [(), ("EMEA",)])
def test_change_and_usual_share_are_the_leads_counted_by_hand(demo_db_url, teams):
    engine = make_engine(demo_db_url)
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max() + pd.Timedelta(hours=1)
    f = filters_for(versions, as_of, teams=teams)
    doc = versions[-1].document
    starts = [f.period_start]
    for _ in range(4):
        starts.insert(
            0, period_of(starts[0] - pd.Timedelta(microseconds=1), doc.period, doc.timezone)["period_start"]
        )
    frames = read_window(engine, starts[0], f.period_end)
    table = (
        marketing_view(versions, frames, frames, f, starts[0])
        .breakdowns["channel"]
        .table.set_index("channel")
    )

    now = slow_counts(frames, f.period_start, f.period_end, as_of, teams)
    before = slow_counts(frames, starts[-2], f.period_start, as_of, teams)
    usual = slow_counts(frames, starts[1], f.period_start, as_of, teams)  # the three periods before this one
    total, usual_total = sum(m for m, _ in now.values()), sum(m for m, _ in usual.values())
    assert set(now) | set(before) | set(usual) <= set(table.index)
    for channel, row in table.iterrows():
        mqls, sqls = now.get(channel, (0, 0))
        prev_mqls, prev_sqls = before.get(channel, (0, 0))
        assert (row["mqls"], row["sqls"]) == (mqls, sqls), channel
        assert row["mqls_previous"] == prev_mqls and row["mqls_change"] == mqls - prev_mqls, channel
        rate = sqls / mqls if mqls else math.nan
        prev_rate = prev_sqls / prev_mqls if prev_mqls else math.nan
        assert close(row["mql_to_sql"], rate) and close(row["mql_to_sql_previous"], prev_rate), channel
        assert close(row["mql_to_sql_change"], rate - prev_rate), channel
        share = mqls / total
        usual_share = usual.get(channel, (0, 0))[0] / usual_total
        assert close(row["share_of_mqls"], share) and close(row["usual_share"], usual_share), channel
        assert close(row["share_change"], share - usual_share), channel
    assert table["mqls_previous"].sum() == sum(m for m, _ in before.values()) > 0
