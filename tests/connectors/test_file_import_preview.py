"""The import preview's verdict on the first rows is the import's own: the same rows rejected, for the same
reasons, with the date order chosen from the same sample."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.files import Mapping, check_first_rows, import_file
from data import journal
from tests.connectors.test_file_import import csv_bytes

AS_OF = dt.datetime(2026, 11, 18, 10, tzinfo=dt.UTC)
MAPPING = Mapping(table="leads", columns={"external_id": "Id", "created_at": "Created", "touches": "Touches"})
ROWS = [
    ["Id", "Created", "Touches"],
    ["L1", "01/02/2025", "2"],
    ["L2", "45/01/2025", "1"],  # no date either way
    ["", "03/04/2025", "1"],  # no id
    ["L4", "12/25/2025", "-1"],  # a negative count
    ["L5", "2150-01-01", "x"],  # in the future, and no number
    ["L6", "12/26/2025", "3"],
]


@pytest.mark.parametrize("rows", [1, 3, 6, 10])
def test_the_first_rows_are_judged_as_a_dry_run_judges_them(engine, tmp_path, rows):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(ROWS))
    checked = check_first_rows(path, MAPPING, rows, as_of=AS_OF)
    assert journal.read_rejected_rows(engine).empty
    # the slow, obvious answer: import the whole file and keep the rejected rows of the lines shown
    report = import_file(engine, path, "leads", MAPPING, as_of=AS_OF)
    assert report.rejected == 4 and report.imported == 2
    kept = journal.read_rejected_rows(engine)
    kept = kept[kept["row_number"] <= rows + 1]  # line 1 is the header
    assert dict(zip(checked["line"], checked["reasons"], strict=True)) == dict(
        zip(kept["row_number"], kept["reasons"], strict=True)
    )


def test_the_refused_columns_are_named_per_row(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(ROWS))
    checked = check_first_rows(path, MAPPING, 10, as_of=AS_OF).set_index("line")
    assert checked.loc[3, "headers"] == ["Created"]
    assert checked.loc[4, "headers"] == ["Id"]
    assert sorted(checked.loc[6, "headers"]) == ["Created", "Touches"]
    assert 2 not in checked.index and 7 not in checked.index  # 12/25 and 12/26 read month first
