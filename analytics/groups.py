"""Group labels of the breakdown tables (per channel, campaign, team, segment, rep) and their one error.

A missing group value is shown as :data:`NO_VALUE`, a lead without an owner as
:data:`UNASSIGNED`, a rejection without a reason as :data:`NO_REASON`, the row of
everyone as :data:`ALL`. The follow-up breakdowns (:mod:`analytics.followup`) and
the Marketing and Sales views group by these labels.
"""

from __future__ import annotations

import pandas as pd

BREAKDOWN_FIELDS: tuple[str, ...] = ("channel", "campaign", "team", "segment")
NO_VALUE = "(none)"
NO_REASON = "(no reason given)"
UNASSIGNED = "(unassigned)"
ALL = "All"


class BreakdownError(ValueError):
    """A breakdown cannot be built with these arguments; the message says which and why."""


def check_by(by: str | None, allowed: tuple[str | None, ...]) -> None:
    """Raise :class:`BreakdownError` unless ``by`` is one of ``allowed``."""
    if by not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise BreakdownError(f"unknown breakdown by={by!r}; use one of: {shown}")


def labels(values: pd.Series, missing: str = NO_VALUE) -> pd.Series:
    """Return ``values`` as text labels, ``missing`` where a value is missing.

    >>> labels(pd.Series(["EMEA", None])).tolist()
    ['EMEA', '(none)']
    """
    return pd.Series(values.to_numpy(dtype=object), dtype="str").fillna(missing)
