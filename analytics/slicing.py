"""Slicing the canonical frames by the dashboard's filters (team, owner, channel).

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

import pandas as pd

# Which column of each frame a filter looks at.
_FILTER_COLUMNS = {
    "teams": {"leads": "team", "deals": "team", "owners": "team"},
    "owners": {"leads": "owner_id", "deals": "owner_id", "activities": "owner_id", "owners": "id"},
    "channels": {"leads": "channel", "deals": "channel"},
}


def slice_frames(
    frames: Mapping[str, pd.DataFrame],
    *,
    teams: Iterable[str] = (),
    owners: Iterable[int] = (),
    channels: Iterable[str] = (),
) -> dict[str, pd.DataFrame]:
    """Return new frames keeping only rows of the given teams, owner ids and channels.

    An empty selection means "all". Activities follow their lead: when leads
    are sliced, only activities of the kept leads remain. Input frames are not
    modified.
    """
    chosen = {"teams": list(teams), "owners": [int(o) for o in owners], "channels": list(channels)}
    out = {name: frame for name, frame in frames.items()}
    for kind, values in chosen.items():
        if not values:
            continue
        for table, column in _FILTER_COLUMNS[kind].items():
            if table in out:
                frame = out[table]
                out[table] = frame[frame[column].isin(values).fillna(False).to_numpy(dtype=bool)]
    if "activities" in out and "leads" in out and (chosen["teams"] or chosen["channels"]):
        activities = out["activities"]
        out["activities"] = activities[
            activities["lead_id"].isin(out["leads"]["id"]).fillna(False).to_numpy(bool)
        ]
    return out
