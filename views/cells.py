"""Tables as the pages show them: rates written the one way Accord writes a number (analytics.wording).

``st.column_config``'s ``percent`` format writes 0.4423 as "44.23%" where a tile says "44%": tables take
their rate cells from :func:`rate_cells` instead, and their CSV keeps the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analytics import wording


def rate_cells(frame: pd.DataFrame, missing: Mapping[str, str], beside: str | None = None) -> pd.DataFrame:
    """Return a copy of ``frame`` whose rate columns (the keys of ``missing``) are text, by
    :func:`analytics.wording.format_value`; a missing rate reads ``missing[column]`` (e.g. "— (no MQLs)").

    ``beside``: the column of the targets the rates are shown next to (then never rounded onto them).

    >>> rate_cells(pd.DataFrame({"rate": [0.4423, 0.4496, None], "target": 0.45}), {"rate": "—"}, "target")
         rate  target
    0     44%    0.45
    1  44.96%    0.45
    2       —    0.45
    """
    out = frame.copy()
    targets = out[beside] if beside is not None else pd.Series(None, index=out.index, dtype="float64")
    for column, empty in missing.items():
        out[column] = [
            wording.format_value(value, "rate", missing=empty, beside=target)
            for value, target in zip(out[column], targets, strict=True)
        ]
    return out
