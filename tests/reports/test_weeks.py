"""data.frames.read_window reads only the columns the analytics use: every figure is as on complete frames."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import commitments, followup, funnel
from analytics.agreement import versions_from_rows
from analytics.baseline import trailing_assumptions
from analytics.commitments import with_tracked
from analytics.followup import delays_by, followup_by
from analytics.periods import period_of, week_of
from analytics.schema import COLUMNS, validate_frame
from analytics.snapshots import week_overview
from data import journal, queries
from data.engine import make_engine
from data.frames import ACTIVITY_TAIL, ANALYTICS_COLUMNS, all_columns, read_window
from views.marketing import acceptance_by, rejection_reasons, volume_by
from views.sales import queue_table

AGREEMENT = "Sales and Marketing SLA"


@pytest.fixture(scope="module")
def demo(demo_db_url):
    """The demo's agreement, its last day, the window of the last 15 months: read both ways."""
    engine = make_engine(demo_db_url)
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max() + pd.Timedelta(hours=1)
    doc = commitments.document_in_force(versions, as_of)
    period = period_of(as_of, doc.period, doc.timezone)
    start, end = (
        period_of(as_of - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"],
        period["period_end"],
    )
    complete = {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine, start, end, with_deal_leads=True),
        "deals": queries.read_deals(engine, start, end),
        "activities": queries.read_activities(engine, start, end + ACTIVITY_TAIL),
    }
    yield (
        versions,
        as_of,
        (period["period_start"], period["period_end"]),
        (start, end),
        complete,
        read_window(engine, start, end),
    )
    engine.dispose()


def test_the_window_has_the_same_rows_and_every_canonical_column(demo):
    *_, complete, read = demo
    for table, frame in read.items():
        validate_frame(frame, table)
        assert frame["id"].tolist() == complete[table]["id"].tolist()
        unread = [c for c in COLUMNS[table] if table != "owners" and c not in ANALYTICS_COLUMNS[table]]
        assert all(frame[c].isna().all() for c in unread), table
        kept = [c for c in COLUMNS[table] if c not in unread]
        pd.testing.assert_frame_equal(frame[kept], complete[table][kept], obj=table)


def test_every_figure_is_as_on_complete_frames(demo):
    versions, as_of, (p_start, p_end), (start, end), complete, read = demo
    doc = commitments.document_in_force(versions, as_of)
    tracked = with_tracked(versions, ("mql_count", "sql_count", "sourced_pipeline", "won_revenue"))

    def figures(frames) -> list:
        out = [commitments.evaluate(versions, frames, start, end, as_of, by=by)
               for by in (None, "owner", "team", "channel")]  # fmt: skip
        out.append(commitments.evaluate(tracked, frames, p_start, p_end, as_of))
        detail = followup.followup_detail(versions, frames, as_of, start=p_start, end=p_end)
        out += [detail, followup_by(detail, by="owner"), delays_by(detail, by="team")]
        queue = followup.followup_queue(followup.followup_detail(versions, frames, as_of, start=p_start), 8.0)
        out.append(queue_table(queue, frames["leads"], doc.timezone))
        for by in ("channel", "campaign", "segment"):
            out.append(volume_by(versions, frames, p_start, p_end, as_of, by=by))
            out.append(acceptance_by(versions, frames, p_start, p_end, as_of, by=by))
            out.append(rejection_reasons(versions, frames, p_start, p_end, as_of, by=by))
        out.append(funnel.funnel(versions, frames, start, end, as_of))
        out.append(funnel.funnel(versions, frames, start, end, as_of, by="owner"))
        out.append(commitments.daily_progress(tracked, frames, "mql-volume", p_start, as_of))
        out.append(trailing_assumptions(versions, frames, as_of))
        week = week_overview(versions, frames, None, week_of(as_of, doc.timezone), as_of, use_frozen=False)
        out += [week.week_rows(), week.trend, week.changes]
        return out

    expected, got = figures(complete), figures(read)
    assert len(expected[-3]) and len(expected[7]) and expected[8]["lead"].notna().all()  # the demo fills them
    for n, (want, have) in enumerate(zip(expected, got, strict=True)):
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(have, want, obj=f"figure {n}")
        else:
            assert have == want or repr(have) == repr(want), n


def test_all_columns_adds_the_missing_ones_all_missing_in_canonical_order():
    leads = pd.DataFrame(
        {"mql_at": pd.to_datetime(["2026-11-02T09:00Z"]), "id": pd.array([7], dtype="Int64")}
    )
    full = all_columns(leads, "leads")
    assert list(full.columns) == list(COLUMNS["leads"])
    validate_frame(full, "leads")
    assert full["id"].tolist() == [7] and full.drop(columns=["id", "mql_at"]).isna().all().all()
