"""The shared filters: agreement, period, team, owner, channel — bound to the URL.

Rendered once in app.py's sidebar, read by every page. Each widget's value is
mirrored in the query string (``bind="query-params"``), so any view is a
shareable link, e.g. ``/sales?period=2026-10&team=EMEA``. An ``as_of`` query
parameter (ISO date or instant) shows the dashboard as it stood then; without one, the pages show the
figures as of the instant in use while the data are unchanged (loaders.shared_as_of), with a button to
compute them as of now.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import clock
from analytics import wording
from analytics.agreement import Agreement
from analytics.commitments import document_in_force
from analytics.periods import period_grid
from pages.components import history, loaders
from views import filters as view_filters

HISTORY_PERIODS = 15  # how many periods back the period picker offers


@dataclass(frozen=True)
class Filters:
    """What the user picked; instants are UTC Timestamps, selections tuples (empty = all)."""

    url: str
    agreement: str
    document: Agreement
    as_of: pd.Timestamp
    period: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    history_start: pd.Timestamp  # start of the oldest period offered: trends and baselines look back to here
    teams: tuple[str, ...]
    owners: tuple[int, ...]
    channels: tuple[str, ...]
    notices: tuple[str, ...] = ()  # what a link asked for that does not exist, and what is shown instead

    @property
    def is_current_period(self) -> bool:
        return self.period_start <= self.as_of < self.period_end

    def key(self) -> dict:
        """The small, hashable arguments the cached loaders take."""
        return {
            "url": self.url,
            "agreement": self.agreement,
            "as_of": self.as_of.isoformat(),
            "teams": self.teams,
            "owners": self.owners,
            "channels": self.channels,
        }

    def view(self) -> view_filters.Filters:
        """The filters a page's view is computed for (views.filters.Filters)."""
        return view_filters.Filters(self.period, self.period_start, self.period_end, self.as_of, self.teams,
                                    self.owners, self.channels)  # fmt: skip

    def view_key(self) -> dict:
        """The small, hashable arguments of a page's cached view (loaders.*_view)."""
        return {**self.key(), "period": self.period, "start": self.period_start.isoformat(),
                "end": self.period_end.isoformat()}  # fmt: skip

    def describe(self) -> str:
        """One line saying what is shown, e.g. 'October 2026 · EMEA · all owners · all channels'."""
        parts = [self.period, ", ".join(self.teams) or "all teams"]
        parts.append(f"{len(self.owners)} owner(s)" if self.owners else "all owners")
        parts.append(", ".join(self.channels) or "all channels")
        return " · ".join(parts)


# The "as of" instants Accord shows: wide enough for any CRM history and plan, far inside pandas' bounds
# (1677-2262), so that the periods before and after it can always be computed.
AS_OF_RANGE = (pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))


def parse_as_of(raw: str) -> tuple[pd.Timestamp | None, str | None]:
    """``?as_of=`` text as a UTC instant (a date means its end), or None and why it is ignored.

    >>> parse_as_of("2026-11-27")
    (Timestamp('2026-11-28 00:00:00+0000', tz='UTC'), None)
    >>> parse_as_of("NaT")[1]
    'not a date or instant'
    >>> parse_as_of("9999-12-31")[1]
    'outside 1970-01-01 to 2200-01-01'
    """
    try:
        stamp = pd.Timestamp(raw)
    except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return None, "not a date or instant"
    if pd.isna(stamp):  # "NaT", "nan", "" parse to NaT
        return None, "not a date or instant"
    try:
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if len(raw) == 10:
            stamp += pd.Timedelta(days=1)
    except (ValueError, OverflowError):  # at pandas' own bounds
        return None, f"outside {AS_OF_RANGE[0]:%Y-%m-%d} to {AS_OF_RANGE[1]:%Y-%m-%d}"
    if not AS_OF_RANGE[0] <= stamp <= AS_OF_RANGE[1]:
        return None, f"outside {AS_OF_RANGE[0]:%Y-%m-%d} to {AS_OF_RANGE[1]:%Y-%m-%d}"
    return stamp, None


def as_of_from_url(url: str | None = None) -> pd.Timestamp:
    """The "as of" instant: ``?as_of=`` if given and usable (else a notice says why not), else now, to the
    minute; with the database's ``url``, the instant in use while its data are unchanged
    (loaders.shared_as_of), so every tab shows, and reuses, the figures computed for it."""
    raw = st.query_params.get("as_of")
    if raw:
        stamp, problem = parse_as_of(raw)
        if stamp is not None:
            return stamp
        st.warning(
            f"Ignoring as_of={wording.literal(repr(raw[:80]))}: {problem} "
            "(use e.g. 2026-11-27 or 2026-11-27T12:00Z)."
        )
    if url is not None:
        return loaders.shared_as_of(url)
    return pd.Timestamp(clock.now()).ceil("min")  # to the minute, and never before what was just saved


def pinned_by_url() -> bool:
    """True when ``?as_of=`` holds a usable instant (the page looks at the past, not at now)."""
    raw = st.query_params.get("as_of")
    return bool(raw) and parse_as_of(raw)[0] is not None


def _as_of_caption(url: str, as_of: pd.Timestamp, timezone: str) -> None:
    """The instant every figure of the page is as of; unless a link pins it, a way to compute them as of now.

    The figures are kept for that instant while the data are unchanged (ACCORD_AS_OF_REUSE_MINUTES); a new
    sync, import, agreement version or frozen week starts a new one by itself."""
    st.caption(f"As of {as_of.tz_convert(timezone):%Y-%m-%d %H:%M} ({timezone})")
    if pinned_by_url() or loaders.as_of_reuse() <= pd.Timedelta(0):
        return
    st.button(
        "Recompute now", key="_accord_recompute_as_of", icon=":material/refresh:", type="tertiary",
        on_click=loaders.recompute_as_of, args=(url,),
        help="The figures are as of the instant above and are kept for a few minutes while the data do not "
        "change (a sync, an import or an agreement change starts a new instant by itself). This computes "
        "them as of now.",
    )  # fmt: skip


def unknown_values(missing: str, asked: list[str], known: list[str], showing: str) -> list[str]:
    r"""One sentence per value a link asked for that is not among ``known``, saying what is shown instead.

    ``missing`` says it with ``{value}``, e.g. "No team called {value}"; values are escaped for Markdown.

    >>> print(*unknown_values("No team called {value}", ["EMEA", "Mars"], ["EMEA", "US"], "EMEA"))
    No team called \'Mars\'; showing EMEA.
    """
    return [
        missing.format(value=wording.literal(repr(value[:80]))) + f"; showing {wording.literal(showing)}."
        for value in asked
        if value not in known
    ]


def _asked() -> dict[str, list[str]]:
    """The filter values the URL holds, read before the widgets drop the ones that are not options."""
    return {name: st.query_params.get_all(name) for name in ("period", "team", "owner", "channel")}


_NOTICES_KEY = "_accord_link_notices"


def _kept_notices(notices: list[str]) -> list[str]:
    """This run's notices, or the last ones while the filters in the URL are still those they led to.

    The widgets drop an unknown value from the URL in the run that reads it; the sentence stays until the
    user changes a filter (or opens another page with the same filters)."""
    shown = tuple(
        (name, tuple(st.query_params.get_all(name))) for name in ("period", "team", "owner", "channel")
    )
    if notices:
        st.session_state[_NOTICES_KEY] = (shown, notices)
        return notices
    kept = st.session_state.get(_NOTICES_KEY)
    if kept and kept[0] == shown:
        return list(kept[1])
    st.session_state.pop(_NOTICES_KEY, None)
    return []


def sidebar(url: str) -> Filters | None:
    """Draw the filters in the sidebar and return them; None when no agreement exists yet."""
    names = loaders.agreement_names(url)
    if not names:
        return None
    as_of = as_of_from_url(url)
    asked = _asked()
    with st.sidebar:
        st.header("Filters")
        agreement = st.selectbox("Agreement", names, key="agreement", bind="query-params")
        versions = loaders.agreement_versions(url, agreement)
        document = document_in_force(versions, as_of)
        grid = period_grid(document.period, document.timezone, as_of - pd.DateOffset(months=HISTORY_PERIODS * 3)
                           if document.period == "quarter" else as_of - pd.DateOffset(months=HISTORY_PERIODS),
                           as_of + pd.Timedelta(microseconds=1))  # fmt: skip
        grid = grid.tail(HISTORY_PERIODS).iloc[::-1].reset_index(drop=True)  # newest first
        labels = grid["period"].tolist()
        period = st.selectbox(
            f"Period ({document.period})", labels, key="period", bind="query-params",
            help=f"Periods of the agreement, in {document.timezone}. The first is the current one.",
        )  # fmt: skip
        row = grid.iloc[labels.index(period)]
        owners = loaders.owners(url)  # a small query: never read the whole history just to list owners
        teams = sorted(owners["team"].dropna().unique().tolist())
        chosen_teams = st.multiselect("Team", teams, key="team", bind="query-params", placeholder="All teams")
        shown_owners = owners[owners["team"].isin(chosen_teams)] if chosen_teams else owners
        names_by_id = dict(
            zip(shown_owners["id"].astype(int), shown_owners["name"].fillna("(no name)"), strict=True)
        )
        chosen_owners = st.multiselect(
            "Owner", sorted(names_by_id, key=names_by_id.get), format_func=names_by_id.get, key="owner",
            bind="query-params", placeholder="All owners",
        )  # fmt: skip
        channels = loaders.channels(url)
        chosen_channels = st.multiselect(
            "Channel", channels, key="channel", bind="query-params", placeholder="All channels"
        )
        _as_of_caption(url, as_of, document.timezone)
        history.record()  # a filter change becomes a browser history entry: Back restores the view before it
    notices = [
        *unknown_values(f"No {document.period} {{value}} among the last {len(labels)}", asked["period"][-1:],
                        labels, period),
        *unknown_values("No team called {value}", asked["team"], teams, ", ".join(chosen_teams) or "all teams"),
        *unknown_values("No owner called {value}", asked["owner"], list(names_by_id.values()),
                        ", ".join(names_by_id[o] for o in chosen_owners) or "all owners"),
        *unknown_values("No channel called {value}", asked["channel"], channels,
                        ", ".join(chosen_channels) or "all channels"),
    ]  # fmt: skip
    notices = _kept_notices(notices)
    return Filters(
        url=url,
        agreement=agreement,
        document=document,
        as_of=as_of,
        period=period,
        period_start=row["period_start"],
        period_end=row["period_end"],
        history_start=grid["period_start"].min(),
        teams=tuple(chosen_teams),
        owners=tuple(int(o) for o in chosen_owners),
        channels=tuple(chosen_channels),
        notices=tuple(notices),
    )


_STATE_KEY = "_accord_filters"


def remember(filters: Filters | None) -> None:
    """Called by app.py after drawing the sidebar: the filters of this run."""
    st.session_state[_STATE_KEY] = filters


def current() -> Filters | None:
    """The filters app.py drew in this run (None when there is no agreement yet)."""
    return st.session_state.get(_STATE_KEY)
