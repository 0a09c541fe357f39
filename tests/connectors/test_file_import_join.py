"""A field joined from several columns (``join:``): a lead's name from first-name and last-name columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.files import Mapping, MappingError, import_file
from connectors.files.mapping import check_mapping, propose_mapping
from connectors.files.rows import joined_text
from data import journal, queries

AS_OF = dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)
MAPPING = """\
table: leads
source: crm
columns:
  external_id: Id
  created_at: Created
join:
  name: [First name, Last name]
"""
CSV = (
    "Id,Created,First name,Last name\n"
    "L1,2024-03-01 09:00,Ada,Lovelace\n"
    "L2,2024-03-02 09:00,  Grace , \n"
    "L3,2024-03-03 09:00,,Curie\n"
    "L4,2024-03-04 09:00,,\n"
    "L5,2024-03-05 09:00,Mary Ann,van der Berg\n"
)


def one_by_one(parts: list[str | None]) -> str | None:
    """The slow, obvious join: each part stripped, blanks left out, one space between; nothing left is missing."""
    kept = [p.strip() for p in parts if p is not None and p.strip()]
    return " ".join(kept) or None


def test_a_lead_name_is_joined_from_first_and_last_name_columns(engine, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")
    report = import_file(engine, path, "leads", Mapping.from_yaml(MAPPING), as_of=AS_OF)
    assert (report.imported, report.rejected) == (5, 0)
    names = queries.read_leads(engine, columns=["external_id", "name"]).set_index("external_id")["name"]
    assert names.drop("L4").to_dict() == {
        "L1": "Ada Lovelace", "L2": "Grace", "L3": "Curie", "L5": "Mary Ann van der Berg"
    }  # fmt: skip
    assert pd.isna(names["L4"])  # no part: no name, not an empty one


def test_a_joined_value_too_long_for_its_column_rejects_the_row_naming_both_columns(sqlite_engine, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Id,Created,First name,Last name\n" + f"L1,2024-03-01,{'A' * 300},{'B' * 300}\n", "utf-8")
    report = import_file(sqlite_engine, path, "leads", Mapping.from_yaml(MAPPING), as_of=AS_OF)
    assert report.rejected == 1
    rejected = journal.read_rejected_rows(sqlite_engine)
    assert rejected["reasons"].iloc[0].startswith("First name + Last name: ")


@given(st.lists(st.lists(st.one_of(st.none(), st.text(alphabet=" ab\t"), st.text(max_size=5)), min_size=3,
                         max_size=3), max_size=20))  # fmt: skip
def test_joined_text_is_the_one_by_one_join(rows):
    frame = pd.DataFrame(rows, columns=["a", "b", "c"], dtype="str")
    got = joined_text(frame, ["a", "b", "c"]).tolist() if rows else []
    expected = [one_by_one(list(row)) for row in rows]
    assert [None if pd.isna(v) else v for v in got] == expected


@pytest.mark.parametrize(
    ("join", "message"),
    [
        ("{touches: [A, B]}", "'touches' is a whole number; only text fields are joined"),
        ("{name: [First name]}", "'name' joins two or more columns"),
        ("{nickname: [A, B]}", "'nickname' is not a field of leads"),
        ("{external_id: [A, B]}", "'external_id' is also in columns; keep one"),
    ],
)
def test_a_join_that_cannot_be_used_says_why(join, message):
    text = MAPPING.replace("join:\n  name: [First name, Last name]\n", f"join: {join}\n")
    with pytest.raises(MappingError, match="join") as caught:
        Mapping.from_yaml(text)
    assert message in str(caught.value)


def test_a_joined_column_the_file_lacks_is_a_warning_for_an_optional_field():
    check = check_mapping(Mapping.from_yaml(MAPPING), ["Id", "Created", "First name"])
    assert check.ok and check.joins == {}
    assert check.warnings == [
        "column 'Last name' (joined into name) is not in the file; name is not imported"
    ]


def test_first_and_last_name_columns_are_proposed_as_the_lead_name():
    proposal = propose_mapping(["Lead ID", "Created", "First Name", "Last Name", "Email"], "leads")
    assert proposal.mapping.join == {"name": ["First Name", "Last Name"]}
    assert "name" not in proposal.mapping.columns
    assert "First Name" not in proposal.unused_headers and "Last Name" not in proposal.unused_headers
