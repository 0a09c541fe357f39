"""A frozen week holds the figures the live Overview shows for the same closed week and as-of, on SQLite and
PostgreSQL: the freeze reads a narrower window than the page, and both cut it by the one window rule
(analytics.windows.cut_window, which data.frames.read_window also follows)."""

from __future__ import annotations

import pandas as pd

from analytics.commitments import document_in_force
from analytics.periods import last_closed_week, shift_week, week_row
from analytics.snapshots import figures_frame, final_snapshots
from bootstrap import load_demo_if_empty
from data import journal, queries
from reports.weeks import agreement_to_use, freeze_week, load_view, versions_of

KEYS = ["scope", "period", "commitment"]


def in_order(figures: pd.DataFrame) -> pd.DataFrame:
    return figures_frame(figures).sort_values(KEYS, ignore_index=True)


def test_a_frozen_week_is_the_live_view_of_the_same_week_and_as_of(engine):
    load_demo_if_empty(engine, leads=600)
    agreement = agreement_to_use(engine, None)
    versions = versions_of(engine, agreement)
    last = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max() + pd.Timedelta(hours=1)
    tz = document_in_force(versions, last).timezone
    week = shift_week(last_closed_week(last, tz), -1)
    close = week_row(week, tz)["period_end"]

    # As of the week's close: the records frozen are the live view's week and period to date, row for row.
    live = load_view(engine, agreement, week, close).overview.figures
    assert len(live) and set(live["scope"]) == {"week", "period"}
    assert freeze_week(engine, agreement, week, close).written
    frozen, _ = final_snapshots(journal.read_snapshots(engine, agreement, [week]))[week]
    pd.testing.assert_frame_equal(in_order(frozen), in_order(live))

    # Later, the page shows the frozen week as it would have computed it: no correction, the same figures.
    later = close + pd.Timedelta(days=9)
    before = load_view(
        engine, agreement, shift_week(week, 1), later
    ).overview  # the week after: `week` is previous
    assert freeze_week(engine, agreement, shift_week(week, 1), later).written
    after = load_view(engine, agreement, shift_week(week, 1), later).overview
    assert set(after.frozen) == {week, shift_week(week, 1)}
    assert after.corrections.empty
    pd.testing.assert_frame_equal(in_order(after.figures), in_order(before.figures))
