"""Downloads: CSV of any table (with spreadsheet formulas neutralised) and PNG of any chart.

A cell such as ``=HYPERLINK("http://evil", "click")`` in a CRM field would run as
a formula when the CSV is opened in a spreadsheet; text cells that start with
``= + - @`` (or a tab or carriage return) are prefixed with ``'`` so they stay text.
Numbers are left alone.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutral(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and headers cannot run as spreadsheet formulas.

    Only text is changed: a number stays a number, even in an object column.

    >>> neutralise_formulas(pd.DataFrame({"a": ["=1+1", "ok", None], "n": [-1, 2, 3]}))["a"].tolist()
    ["'=1+1", 'ok', nan]
    """
    out = frame.copy()
    out.columns = [_neutral(c) for c in out.columns]  # headers may be CRM values (e.g. pivoted channels)
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.astype(object).map(_neutral)
        elif str(column.dtype) == "str":
            risky = column.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(bool)
            if risky.any():
                out[name] = column.where(~risky, "'" + column)
        elif column.dtype == object:
            out[name] = column.map(_neutral)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (with BOM, so spreadsheets pick the encoding), formulas neutralised."""
    # CRLF rows: the writer then quotes any cell holding \r or \n, which spreadsheets and csv readers need.
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def download_csv(frame: pd.DataFrame, filename: str, key: str, label: str = "Download CSV") -> None:
    """A download button for ``frame`` as CSV (no rerun on click)."""
    st.download_button(
        label, csv_bytes(frame), file_name=filename, mime="text/csv", key=key, on_click="ignore",
        icon=":material/download:",
    )  # fmt: skip
