"""Slicing the canonical frames by the dashboard's filters (team, owner, channel), links kept.

A slice selects rows *after* every link is resolved on the whole data (see
``GLOSSARY["slice"]`` in analytics.metrics): a deal keeps its lead (so its
marketing-sourced flag and segment), a lead keeps every activity logged on it
by anyone, and a deal takes its lead's channel (its own only when it has no
lead). :func:`slice_frames` therefore returns the narrowed frames for anyone who
reads rows directly, and carries the whole frames and the :class:`Slice` along
(:class:`SlicedFrames`): :func:`analytics.metrics.prepare_frames` resolves links
on the whole frames, then applies the slice.

>>> import pandas as pd
>>> from analytics.schema import coerce_frame
>>> leads = coerce_frame(pd.DataFrame({"source": ["s"] * 3, "external_id": ["a", "b", "c"],
...     "team": ["EMEA", "Americas", None], "channel": ["Events", "Events", "Partners"]}), "leads")
>>> sliced = slice_frames({"leads": leads}, teams=["EMEA"])
>>> sliced["leads"]["external_id"].tolist()
['a']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Slice:
    """The chosen teams, owner ids and channels (an empty tuple means "all")."""

    teams: tuple[str, ...] = ()
    owners: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.teams or self.owners or self.channels)

    def within(self, outer: Slice) -> Slice:
        """This selection inside ``outer``: per kind, the values both allow (an empty tuple allows all).

        >>> Slice(teams=("EMEA", "APAC")).within(Slice(teams=("EMEA",), channels=("Events",)))
        Slice(teams=('EMEA',), owners=(), channels=('Events',))
        """

        def both(inner: tuple, wider: tuple) -> tuple:
            if not inner or not wider:
                return inner or wider
            return tuple(v for v in inner if v in wider) or ("\x00nothing",)  # no value passes both

        return Slice(*(both(getattr(self, k), getattr(outer, k)) for k in ("teams", "owners", "channels")))

    def rows(self, frame: pd.DataFrame, table: str) -> np.ndarray:
        """Return which rows of ``table`` (leads, deals or owners) are in the slice.

        Leads and deals by their own team and owner; a deal by its channel as the
        caller resolved it (its lead's). Owners by id and team. Missing values
        never match a chosen value.
        """
        keep = np.ones(len(frame), dtype=bool)
        columns = {
            "teams": "team",
            "owners": "id" if table == "owners" else "owner_id",
            "channels": "channel",
        }
        for kind, column in columns.items():
            values = getattr(self, kind)
            if values and column in frame.columns:
                keep &= frame[column].isin(list(values)).to_numpy(dtype=bool, na_value=False)
        return keep

    def apply(self, known: Any) -> Any:
        """Return the prepared ``known`` frames (an analytics.metrics.Frames) narrowed to the slice.

        Leads and deals are narrowed; every activity and owner stays (activities
        only ever count through their lead), and ``all_deals`` keeps every deal so a
        lead's stages (opportunity, won) do not depend on who owns its deal.
        """
        if not self:
            return known
        leads, deals = known.leads, known.deals
        return replace(
            known,
            leads=_kept(leads, self.rows(leads, "leads")),
            deals=_kept(deals, self.rows(deals, "deals")),
            all_deals=known.deals if known.all_deals is None else known.all_deals,
        )


class SlicedFrames(dict):
    """The narrowed frames (as a plain dict of them), plus ``whole`` (the unsliced frames) and ``selection``."""

    whole: Mapping[str, pd.DataFrame]
    selection: Slice


def slice_frames(
    frames: Mapping[str, pd.DataFrame],
    *,
    teams: Iterable[str] = (),
    owners: Iterable[int] = (),
    channels: Iterable[str] = (),
) -> dict[str, pd.DataFrame]:
    """Return new frames keeping only rows of the given teams, owner ids and channels, links kept.

    An empty selection means "all" (the frames are returned as they are).
    Leads by their own team, owner and channel; deals by their own team and
    owner and by their lead's channel (their own when they have no lead);
    activities follow their lead, whoever logged them; owners by team and id.
    The result also carries the whole frames (``.whole``) and the selection
    (``.selection``) so the analytics resolve links before slicing. Input frames
    are not modified.
    """
    selection = Slice(tuple(teams), tuple(int(o) for o in owners), tuple(channels))
    if isinstance(frames, SlicedFrames):  # a slice of a slice: both selections hold
        selection = selection.within(frames.selection)
    if not selection:
        return dict(frames)
    out = SlicedFrames()
    leads = frames.get("leads")
    for table, frame in frames.items():
        if table == "deals":
            frame = _kept(frame, selection.rows(deal_channels(frame, leads), "deals"), reset=False)
        elif table in ("leads", "owners"):
            frame = _kept(frame, selection.rows(frame, table), reset=False)
        out[table] = frame
    if "activities" in out and "leads" in out:
        activities = out["activities"]
        out["activities"] = activities[
            activities["lead_id"].isin(out["leads"]["id"]).to_numpy(dtype=bool, na_value=False)
        ]
    out.whole = frames.whole if isinstance(frames, SlicedFrames) else frames
    out.selection = selection
    return out


def deal_channels(deals: pd.DataFrame, leads: pd.DataFrame | None) -> pd.DataFrame:
    """Return ``deals`` with ``channel`` replaced by its lead's channel wherever the deal has a known lead.

    >>> import pandas as pd
    >>> deals = pd.DataFrame({"lead_id": [1, None, 9], "channel": ["Web", "Events", "Web"]})
    >>> leads = pd.DataFrame({"id": [1], "channel": ["Partners"]})
    >>> deal_channels(deals, leads)["channel"].tolist()
    ['Partners', 'Events', 'Web']
    """
    if leads is None or not len(leads) or not len(deals):
        return deals
    ids = leads["id"]
    channel_of = pd.Series(leads["channel"].to_numpy(dtype=object), index=ids.to_numpy(dtype="float64"))
    channel_of = channel_of[~channel_of.index.duplicated()]
    lead_ids = deals["lead_id"].to_numpy(dtype="float64", na_value=np.nan)
    known = np.isin(lead_ids, channel_of.index.to_numpy())
    if not known.any():
        return deals
    resolved = deals["channel"].to_numpy(dtype=object).copy()
    resolved[known] = channel_of.reindex(lead_ids[known]).to_numpy(dtype=object)
    return deals.assign(channel=pd.Series(resolved, index=deals.index, dtype=deals["channel"].dtype))


def _kept(frame: pd.DataFrame, keep: np.ndarray, reset: bool = True) -> pd.DataFrame:
    if keep.all():
        return frame
    frame = frame[keep]
    return frame.reset_index(drop=True) if reset else frame
