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


VOLUME_COLUMNS = ["mqls", "sqls", "mql_to_sql", "sourced_deals", "sourced_pipeline", "share_of_mqls"]


def volume_table(per_lead: pd.DataFrame, per_deal: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return the volume of a window per group, as :func:`views.marketing.volume_by` shows it.

    ``per_lead``: ``by`` (labels), ``mqls``, ``sqls``; ``per_deal``: ``by``, ``sourced_deals``,
    ``sourced_pipeline`` (one row per group each). Groups with neither are left out; most MQLs first,
    then most pipeline, then by name. Columns: ``by`` and :data:`VOLUME_COLUMNS`.

    >>> leads = pd.DataFrame({"channel": ["Web", "Ads"], "mqls": [2, 2], "sqls": [1, 0]})
    >>> deals = pd.DataFrame({"channel": ["Ads"], "sourced_deals": [1], "sourced_pipeline": [10.0]})
    >>> volume_table(leads, deals, "channel")[["channel", "mql_to_sql", "share_of_mqls"]].to_dict("list")
    {'channel': ['Ads', 'Web'], 'mql_to_sql': [0.0, 0.5], 'share_of_mqls': [0.5, 0.5]}
    """
    lead_part = per_lead.set_index(by)[["mqls", "sqls"]]
    deal_part = per_deal.set_index(by)[["sourced_deals", "sourced_pipeline"]]
    out = lead_part.join(deal_part, how="outer").fillna(0).reset_index()
    out = out.astype(
        {"mqls": "int64", "sqls": "int64", "sourced_deals": "int64", "sourced_pipeline": "float64"}
    )
    total = out["mqls"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mql_to_sql"] = np.where(
            out["mqls"] > 0, out["sqls"] / out["mqls"].where(out["mqls"] > 0, 1), np.nan
        )
        out["share_of_mqls"] = out["mqls"] / total if total else np.nan
    out[by] = out[by].astype("str")
    out = out.sort_values(["mqls", "sourced_pipeline", by], ascending=[False, False, True], kind="stable")
    return out[[by, *VOLUME_COLUMNS]].reset_index(drop=True)
