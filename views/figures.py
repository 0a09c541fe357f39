"""Figures as data: every figure a view shows as rows of one shape, for ``cli.py figures`` and its tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIGURE_COLUMNS = [
    "page", "scope", "commitment", "period", "slice", "actual", "target", "gap", "status", "met", "breached",
    "pending", "kind", "unit",
]  # fmt: skip


def figure_rows(rows: pd.DataFrame, page: str, slice_: str | None, scope: str = "period") -> pd.DataFrame:
    """Return evaluation-like ``rows`` as figure rows (columns :data:`FIGURE_COLUMNS`).

    ``slice_`` names the slice of every row ("all"), or None when ``rows`` carry
    their own ``slice``; ``scope`` likewise ("week", "period") unless ``rows`` carry one.
    Missing numbers stay NaN; a status missing is "".

    >>> out = figure_rows(pd.DataFrame({"commitment": ["mql-volume"], "period": ["2026-11"], "actual": [612.0],
    ...                                 "target": [750.0], "status": ["missed"]}), "overview", "all")
    >>> out[["page", "slice", "actual", "gap", "status"]].to_dict("records")
    [{'page': 'overview', 'slice': 'all', 'actual': 612.0, 'gap': -138.0, 'status': 'missed'}]
    """
    out = pd.DataFrame(index=rows.index)
    out["page"] = page
    out["scope"] = rows.get("scope", scope)
    out["commitment"] = rows["commitment"] if "commitment" in rows else pd.Series(dtype="str")
    out["period"] = rows["period"] if "period" in rows else pd.Series(dtype="str")
    out["slice"] = rows["slice"] if slice_ is None else slice_
    for column in ("actual", "target", "met", "breached", "pending"):
        values = rows.get(column, np.nan)
        out[column] = pd.to_numeric(pd.Series(values, index=rows.index), errors="coerce").astype("float64")
    gap = rows["gap"] if "gap" in rows else out["actual"] - out["target"]
    out["gap"] = pd.to_numeric(pd.Series(gap, index=rows.index), errors="coerce").astype("float64")
    for column in ("status", "kind", "unit"):
        out[column] = (
            (rows[column] if column in rows else pd.Series("", index=rows.index)).fillna("").astype(str)
        )
    return out[FIGURE_COLUMNS].reset_index(drop=True)
