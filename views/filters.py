"""The filters a view is computed for: a period, an "as of" instant and a slice (teams, owners, channels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics.commitments import as_versions, document_in_force
from analytics.periods import period_grid, period_of
from analytics.slicing import slice_frames
from analytics.wording import period_name, selection_text


class FilterError(ValueError):
    """The filters cannot be built from these arguments; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    """What a view is for; instants are UTC Timestamps, selections tuples (empty = all).

    >>> f = Filters("2026-11", pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-12-01", tz="UTC"),
    ...             pd.Timestamp("2026-11-20", tz="UTC"), teams=("EMEA",))
    >>> f.is_current_period, f.sliced
    (True, True)
    """

    period: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    as_of: pd.Timestamp
    teams: tuple[str, ...] = ()
    owners: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()

    @property
    def is_current_period(self) -> bool:
        return self.period_start <= self.as_of < self.period_end

    @property
    def sliced(self) -> bool:
        """True when a team, owner or channel is chosen (frozen weeks are for the whole agreement only)."""
        return bool(self.teams or self.owners or self.channels)

    @property
    def period_name(self) -> str:
        """The period in words, e.g. 'November 2026'."""
        return period_name(self.period)

    def slice(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """Return ``frames`` narrowed to the chosen teams, owners and channels (analytics.slicing)."""
        return slice_frames(frames, teams=self.teams, owners=self.owners, channels=self.channels)

    def selection(self, owners: pd.DataFrame, markdown: bool = False) -> str:
        """Return the slice in words, naming owners from an ``owners`` frame: 'EMEA · all owners · …'.

        ``markdown``: escaped for a sentence the page renders as Markdown (names come from the CRM); plain
        text for chart titles and figure rows."""
        names = (
            owners.dropna(subset=["id"]).drop_duplicates("id").set_index("id")["name"] if len(owners) else {}
        )
        shown = [names.get(o, f"owner {o}") if hasattr(names, "get") else f"owner {o}" for o in self.owners]
        return selection_text(self.teams, shown, self.channels, markdown=markdown)


def filters_for(
    versions: Any,
    as_of: Any,
    period: str | None = None,
    *,
    teams: tuple = (),
    owners: tuple = (),
    channels: tuple = (),
) -> Filters:
    """Return the :class:`Filters` of ``period`` (a label such as '2026-11'; default: the one holding ``as_of``).

    Periods are those of the agreement version in force at ``as_of``; FilterError names a period that is not
    one of them or has not started.
    """
    moment = pd.Timestamp(as_of)
    doc = document_in_force(as_versions(versions), moment)
    if period is None:
        row = period_of(moment - pd.Timedelta(microseconds=1), doc.period, doc.timezone)
    else:
        grid = period_grid(
            doc.period, doc.timezone, moment - pd.DateOffset(years=6), moment + pd.Timedelta(days=1)
        )
        found = grid[grid["period"] == period]
        if found.empty or found["period_start"].iloc[0] > moment:
            example = grid["period"].iloc[-1] if len(grid) else "?"
            raise FilterError(
                f"period {period!r} is not a {doc.period} of the agreement that has started by "
                f"{moment:%Y-%m-%d %H:%M} UTC (e.g. {example})"
            )
        row = found.iloc[0]
    return Filters(
        period=str(row["period"]),
        period_start=row["period_start"],
        period_end=row["period_end"],
        as_of=moment,
        teams=tuple(teams),
        owners=tuple(int(o) for o in owners),
        channels=tuple(channels),
    )
