"""A week's Overview from the database: read what it needs, freeze it, hand it to the page, the pack, the CLI.

The figures themselves are pure (``analytics.snapshots``); this module only
reads the window of data they need and writes snapshots, so the Overview page
(through its cached loaders), the meeting pack and ``cli.py snapshot`` freeze
and show exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine

from analytics.agreement import AgreementVersion, versions_from_rows
from analytics.commitments import document_in_force
from analytics.periods import last_closed_week, period_of, week_row
from analytics.snapshots import (
    TREND_WEEKS,
    SnapshotError,
    WeekOverview,
    final_snapshots,
    overview_window,
    week_figures,
)
from data import journal
from data.frames import read_window
from data.stored_evaluation import answered
from views.filters import filters_for
from views.overview import OverviewView, data_window, overview_view

ACTOR = "Accord"


@dataclass(frozen=True)
class Frozen:
    """What a freeze did: the week, whether the snapshot is final, and whether anything was written."""

    agreement: str
    week: str
    final: bool
    written: bool

    def describe(self) -> str:
        kind = "final" if self.final else "provisional"
        if self.written:
            return f"{self.agreement}: {self.week} frozen ({kind})."
        return f"{self.agreement}: {self.week} was already frozen for good; the final snapshot is kept as it was."


def versions_of(engine: Engine, agreement: str) -> list[AgreementVersion]:
    """Every saved version of ``agreement``; SnapshotError naming the agreements there are when it is unknown."""
    versions = versions_from_rows(journal.read_agreement_versions(engine, agreement))
    if not versions:
        names = sorted(journal.read_agreement_versions(engine)["agreement"].unique().tolist())
        known = ", ".join(repr(n) for n in names) or "none yet (open the dashboard once, or save one)"
        raise SnapshotError(f"no agreement named {agreement!r}; agreements: {known}")
    return versions


def agreement_to_use(engine: Engine, agreement: str | None) -> str:
    """``agreement`` if given, else the only stored agreement; SnapshotError when there are none or several."""
    if agreement:
        return agreement
    names = sorted(journal.read_agreement_versions(engine)["agreement"].unique().tolist())
    if len(names) == 1:
        return names[0]
    if not names:
        raise SnapshotError(
            "no agreement is saved yet: open the dashboard once (it saves the default) or add one"
        )
    raise SnapshotError(f"there are several agreements; choose one with --agreement: {', '.join(names)}")


def load_view(
    engine: Engine,
    agreement: str,
    week: str,
    as_of: pd.Timestamp,
    *,
    teams: tuple = (),
    owners: tuple = (),
    channels: tuple = (),
    trend_weeks: int = TREND_WEEKS,
) -> OverviewView:
    """The Overview's view (views.overview) of ``week`` and the period holding its close, read from the database.

    Frozen weeks are shown as frozen (without a slice); the meeting pack and ``cli.py figures`` draw this view.
    Where the database keeps its SLA facts current, from aggregate queries (data.stored_evaluation.answered).
    """
    versions = versions_of(engine, agreement)
    doc = document_in_force(versions, as_of)
    close = min(as_of, week_row(week, doc.timezone)["period_end"])
    period = period_of(close - pd.Timedelta(microseconds=1), doc.period, doc.timezone)["period"]
    f = filters_for(versions, as_of, str(period), teams=teams, owners=owners, channels=channels)
    snapshots = None if f.sliced else journal.read_snapshots(engine, agreement)
    return answered(
        engine,
        lambda data: overview_view(versions, data, snapshots, f, week, trend_weeks=trend_weeks),
        lambda: read_window(engine, *data_window(versions, f, week, trend_weeks)),
    )


def load_overview(
    engine: Engine,
    agreement: str,
    week: str,
    as_of: pd.Timestamp,
    *,
    teams: tuple = (),
    owners: tuple = (),
    channels: tuple = (),
    trend_weeks: int = TREND_WEEKS,
) -> WeekOverview:
    """The :class:`~analytics.snapshots.WeekOverview` of ``week`` of :func:`load_view` (frozen weeks as frozen)."""
    return load_view(engine, agreement, week, as_of, teams=teams, owners=owners, channels=channels,
                     trend_weeks=trend_weeks).overview  # fmt: skip


def freeze_week(
    engine: Engine,
    agreement: str,
    week: str,
    as_of: pd.Timestamp,
    actor: str = ACTOR,
    frames: dict[str, pd.DataFrame] | None = None,
) -> Frozen:
    """Freeze the figures of ``week``: final once the week has ended at ``as_of``, provisional before.

    A final snapshot is never replaced (``written`` is then False); a
    provisional one is replaced by the next freeze. The freeze is recorded in
    the audit log. ``frames`` (unsliced, covering :func:`overview_window`, or an evaluation source:
    :func:`analytics.snapshots.evaluation_source`) saves reading the database again.
    """
    versions = versions_of(engine, agreement)
    row = week_row(week, document_in_force(versions, as_of).timezone)
    final = bool(row["period_end"] <= as_of)
    if frames is None:
        frames = read_window(engine, *overview_window(versions, week, as_of, trend_weeks=1))
    figures = week_figures(versions, frames, week, as_of)
    written = journal.save_snapshot(engine, agreement, str(row["period"]), figures, final=final)
    if written:
        journal.add_audit(
            engine, actor, "snapshot.freeze", agreement, {"week": str(row["period"]), "final": final}
        )
    return Frozen(agreement, str(row["period"]), final, written)


def freeze_last_closed_week(
    engine: Engine, agreement: str, as_of: pd.Timestamp, actor: str = ACTOR
) -> Frozen | None:
    """Freeze the last week that had ended at ``as_of`` unless its final snapshot exists; None when it does."""
    versions = versions_of(engine, agreement)
    week = last_closed_week(as_of, document_in_force(versions, as_of).timezone)
    if week in final_snapshots(journal.read_snapshots(engine, agreement, [week])):
        return None
    return freeze_week(engine, agreement, week, as_of, actor)
