"""CSV exports never carry a live spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pages.components.exports import FORMULA_STARTS, csv_bytes, neutralise_formulas


def test_formula_cells_become_text_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "Ada"], "amount": [-5.0, 1, 2, 3]}
    )
    out = neutralise_formulas(frame)
    assert out["name"].tolist() == ['\'=HYPERLINK("http://x","y")', "'+1", "'@SUM(A1)", "Ada"]
    assert out["amount"].tolist() == [-5.0, 1, 2, 3]
    assert frame["name"].iloc[0].startswith("=")  # the input is not modified


@given(st.lists(st.text(max_size=30), min_size=1, max_size=20))
def test_no_exported_text_cell_starts_like_a_formula(cells):
    rows = list(csv.reader(io.StringIO(csv_bytes(pd.DataFrame({"c": cells})).decode("utf-8-sig"))))
    for row in rows[1:]:
        assert not row or not row[0].startswith(FORMULA_STARTS)
