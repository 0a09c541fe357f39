"""The channel mix against the past: each channel's (or campaign's) MQLs and MQL -> SQL rate against the
previous period, and its share of MQLs against its usual share.

"Usual share": the channel's MQLs over the :data:`USUAL_PERIODS` agreement periods before the one shown,
divided by all MQLs of those periods (pooled, so a quiet period weighs less than a busy one). Pure: the
inputs are :func:`views.marketing.volume_by` frames of the three windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USUAL_PERIODS = 3  # the periods before the one shown whose pooled share is a channel's usual share
COMPARED = ["mqls_previous", "mqls_change", "mql_to_sql_previous", "mql_to_sql_change", "usual_share",
            "share_change"]  # fmt: skip


def compare_volume(
    current: pd.DataFrame, previous: pd.DataFrame, usual: pd.DataFrame, by: str
) -> pd.DataFrame:
    """Return ``current`` with the columns :data:`COMPARED`, one row per group of any of the three frames.

    ``current``, ``previous`` and ``usual`` are ``volume_by`` frames of the period, the period before and
    the :data:`USUAL_PERIODS` before it (one window). A group missing from ``current`` is added with 0 MQLs,
    SQLs, deals and pipeline (a channel that went quiet shows), after the current groups, most MQLs in the
    previous period first. ``mqls_previous`` is 0 for a group the previous period did not have; the rates
    are NaN where there were no MQLs; ``usual_share`` is 0 for a group absent from the usual periods and
    NaN when those had no MQLs at all. Changes are current minus previous (rate: in points as a fraction),
    and share minus usual share.

    >>> cur = pd.DataFrame({"channel": ["Web"], "mqls": [3], "sqls": [1], "mql_to_sql": [1 / 3],
    ...                     "sourced_deals": [0], "sourced_pipeline": [0.0], "share_of_mqls": [1.0]})
    >>> prev = cur.assign(channel=["Ads"], mqls=[2], sqls=[2], mql_to_sql=[1.0])
    >>> out = compare_volume(cur, prev, prev, "channel")
    >>> out[["channel", "mqls", "mqls_change", "usual_share", "share_change"]].to_dict("list")
    {'channel': ['Web', 'Ads'], 'mqls': [3, 0], 'mqls_change': [3, -2], 'usual_share': [0.0, 1.0], 'share_change': [1.0, -1.0]}
    """
    groups = list(current[by])
    quiet = previous.sort_values("mqls", ascending=False, kind="stable")[by].tolist() + list(usual[by])
    groups += [g for g in dict.fromkeys(quiet) if g not in set(groups)]
    out = current.set_index(by).reindex(groups)
    counts = ["mqls", "sqls", "sourced_deals"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["sourced_pipeline"] = out["sourced_pipeline"].fillna(0.0)
    total = out["mqls"].sum()
    out["share_of_mqls"] = out["mqls"] / total if total else np.nan
    before = previous.set_index(by).reindex(groups)
    out["mqls_previous"] = before["mqls"].fillna(0).astype("int64")
    out["mqls_change"] = out["mqls"] - out["mqls_previous"]
    out["mql_to_sql_previous"] = before["mql_to_sql"].astype("float64")
    out["mql_to_sql_change"] = out["mql_to_sql"].astype("float64") - out["mql_to_sql_previous"]
    pooled = usual.set_index(by)["mqls"].reindex(groups).fillna(0)
    usual_total = usual["mqls"].sum()
    out["usual_share"] = pooled / usual_total if usual_total else np.nan
    out["share_change"] = out["share_of_mqls"] - out["usual_share"]
    out.index.name = by
    return out.reset_index()[[*current.columns, *COMPARED]]
