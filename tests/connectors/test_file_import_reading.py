"""Reading exports: encodings, delimiters, quoted newlines, line numbers, bad and binary files, Excel."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files.reading import (
    FileImportError,
    InputFile,
    detect_encoding,
    iter_chunks,
    read_headers,
    read_preview,
    sniff,
    sniff_delimiter,
)


def rows_of(data, chunksize=1000, **options):
    """All rows, their lines and the bad lines of ``data`` (bytes), read in chunks of ``chunksize``."""
    fmt = sniff(data, **options)
    frames, lines, bad, blank = [], [], [], 0
    for chunk in iter_chunks(data, fmt, chunksize):
        frames.append(chunk.frame)
        lines += chunk.lines.tolist()
        bad += chunk.bad_lines
        blank += chunk.blank
    frame = pd.concat([f for f in frames if len(f.columns)], ignore_index=True) if frames else pd.DataFrame()
    return fmt, frame, lines, bad, blank


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8-sig"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
def test_encodings_are_detected_and_a_bom_never_reaches_the_first_header(encoding, expected):
    text = "Record ID,Name,Amount\n1,Zoë Müller,€ 5\n2,Renée,€ 7\n"
    fmt, frame, _, _, _ = rows_of(text.encode(encoding))
    assert fmt.encoding == expected
    assert list(frame.columns) == ["Record ID", "Name", "Amount"]
    assert frame["Name"].tolist() == ["Zoë Müller", "Renée"]
    assert frame["Amount"].tolist() == ["€ 5", "€ 7"]


def test_bytes_that_are_neither_utf8_nor_cp1252_fall_back_to_latin1():
    data = b"id,name\n1,caf\xe9\x81\n"  # 0x81 is undefined in cp1252
    assert detect_encoding(InputFile(data))[0] == "latin-1"
    _, frame, _, _, _ = rows_of(data)
    assert frame["name"].tolist() == ["caf\xe9\x81"]


def test_a_file_that_is_utf8_until_late_is_still_detected_as_cp1252():
    data = b"id,name\n" + b"1,plain\n" * 300_000 + b"2,Fran\xe7ois\n"  # past the first scan block
    assert detect_encoding(InputFile(data))[0] == "cp1252"


# ----------------------------------------------------------------------------- delimiters and quoting


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_common_delimiter_is_sniffed(delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([["id", "name", "amount"], ["1", "Doe, Jane; Jr. | x", "1,5"], ["2", "Bob", "2"]])
    fmt, frame, lines, _, _ = rows_of(buffer.getvalue().encode())
    assert fmt.delimiter == delimiter
    assert frame["name"].tolist() == ["Doe, Jane; Jr. | x", "Bob"]
    assert lines == [2, 3]


def test_sniffing_prefers_the_delimiter_that_splits_rows_consistently():
    assert sniff_delimiter("a;b;c\n1;2,5;3\n4;5,5;6\n") == ";"
    assert sniff_delimiter("just one column\nvalue, with a comma\n") in (",", ";", "\t", "|")


def test_quoted_fields_with_newlines_keep_their_text_and_later_lines_count_them():
    data = b'id,note,amount\n1,"first\nsecond\r\nthird",5\n2,"a ""quote""",6\n3,plain,7\n'
    _, frame, lines, _, _ = rows_of(data)
    assert frame["note"].tolist() == ["first\nsecond\r\nthird", 'a "quote"', "plain"]
    assert lines == [2, 5, 6]


def test_excels_sep_hint_line_and_leading_blank_lines_are_skipped():
    data = b"\n\nsep=;\nid;name\n1;Ann\n"
    fmt, frame, lines, _, _ = rows_of(data)
    assert (fmt.delimiter, fmt.skip_lines) == (";", 3)
    assert frame.to_dict("records") == [{"id": "1", "name": "Ann"}]
    assert lines == [5]


def test_lines_with_the_wrong_number_of_fields_are_reported_with_their_line():
    data = b'id,name\n1,Ann\n2,Bob,extra\n3,"multi\nline"\n4,Dee,x,y\n5,Eve\n'
    _, frame, lines, bad, _ = rows_of(data, chunksize=2)
    assert frame["id"].tolist() == ["1", "3", "5"]
    assert lines == [2, 4, 7]
    assert [line for line, _ in bad] == [3, 6]
    assert bad[0][1] == "the line has 3 fields, the header 2"


def test_blank_lines_are_skipped_and_counted_without_shifting_line_numbers():
    _, frame, lines, _, blank = rows_of(b"id,name\n1,Ann\n\n,\n2,Bob\n")
    assert frame["id"].tolist() == ["1", "2"]
    assert lines == [2, 5]
    assert blank == 2


@st.composite
def messy_csv(draw):
    """A CSV with quoted multi-line fields and some rows with an extra field; and the expected result."""
    n = draw(st.integers(min_value=0, max_value=25))
    text = st.text(alphabet="ab ,;\n\"'é", max_size=8)
    rows, expected = [["id", "note", "n"]], []
    for i in range(n):
        row = [str(i), draw(text), draw(st.sampled_from(["1", "", "x"]))]
        if draw(st.integers(0, 6)) == 0:
            row.append("extra")
        rows.append(row)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    data = buffer.getvalue()
    # oracle: the csv module's line counter gives the first line of every record
    reader = csv.reader(io.StringIO(data))
    next(reader)
    start = reader.line_num + 1
    good_lines, bad_lines = [], []
    for record in reader:
        (bad_lines if len(record) == 4 else good_lines).append(start)
        if len(record) != 4:
            expected.append(record)
        start = reader.line_num + 1
    return data.encode(), expected, good_lines, bad_lines


@settings(max_examples=120, deadline=None)
@given(messy_csv(), st.integers(min_value=1, max_value=7))
def test_line_numbers_match_the_csv_modules_count_at_any_chunk_size(case, chunksize):
    data, expected, good_lines, bad_lines = case
    _, frame, lines, bad, _ = rows_of(data, chunksize=chunksize, delimiter=",")
    blank_ok = [r for r in expected if any(cell for cell in r)]
    assert [line for line, _ in bad] == bad_lines
    assert len(lines) == len(blank_ok)
    kept = [line for line, record in zip(good_lines, expected, strict=True) if any(cell for cell in record)]
    assert lines == kept
    if len(frame):
        assert frame["note"].fillna("").tolist() == [r[1] for r in blank_ok]


# ----------------------------------------------------------------------------- files that are not exports


def test_an_empty_file_is_refused_by_name(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"")
    with pytest.raises(FileImportError, match=r"contacts\.csv: the file is empty"):
        sniff(path)
    with pytest.raises(FileImportError, match="empty"):
        sniff(InputFile(b"\xef\xbb\xbf\r\n\n  \n", name="x.csv"))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (bytes(range(256)) * 4, "binary data"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"\.xls\)"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip"),
    ],
)
def test_binary_files_are_refused_with_what_they_are(data, says):
    with pytest.raises(FileImportError, match=says):
        sniff(InputFile(data, name="upload.csv"))


def test_a_header_only_file_has_headers_and_no_rows():
    fmt, frame, lines, bad, _ = rows_of(b"Record ID,Create Date\r\n")
    assert len(frame) == 0 and lines == [] and bad == []
    assert read_headers(b"Record ID,Create Date\r\n", fmt) == ["Record ID", "Create Date"]


def test_a_missing_file_is_named():
    with pytest.raises(FileImportError, match="nope.csv: no such file"):
        InputFile("nope.csv")


# ----------------------------------------------------------------------------- Excel


def workbook_bytes(rows, title="Leads", extra_sheet=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        book.create_sheet(extra_sheet).append(["other"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_excel_cells_become_export_text_and_rows_keep_their_sheet_row_number():
    data = workbook_bytes(
        [
            [],
            ["Record ID", "Created", "Amount", "Won", "Note", None],
            [101, dt.datetime(2024, 3, 1, 9, 30), 1234.5, True, "  hi  ", None],
            [None, None, None, None, None, None],
            [102.0, dt.date(2024, 3, 2), 7, False, None, None],
        ]
    )
    fmt, frame, lines, _, blank = rows_of(InputFile(data, name="leads.xlsx"))
    assert fmt.kind == "xlsx" and fmt.sheet == "Leads"
    assert list(frame.columns) == ["Record ID", "Created", "Amount", "Won", "Note"]
    assert frame.iloc[0].tolist() == ["101", "2024-03-01 09:30:00", "1234.5", "true", "hi"]
    assert frame.iloc[1].tolist()[:4] == ["102", "2024-03-02", "7", "false"]
    assert lines == [3, 5]
    assert blank == 1


def test_excel_sheet_is_chosen_by_name_and_a_wrong_name_lists_the_sheets():
    data = InputFile(workbook_bytes([["id"], [1]], extra_sheet="Deals"), name="book.xlsx")
    assert sniff(data, sheet="deals").sheet == "Deals"
    with pytest.raises(FileImportError, match="no sheet 'Owners'; its sheets: Leads, Deals"):
        sniff(data, sheet="Owners")


def test_a_damaged_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(FileImportError, match="not a readable Excel workbook"):
        sniff(InputFile(buffer.getvalue(), name="book.xlsx"))
    with pytest.raises(FileImportError, match="not a readable Excel workbook"):
        sniff(InputFile(b"PK\x03\x04 truncated", name="book.xlsx"))


def test_an_empty_sheet_is_refused():
    data = InputFile(workbook_bytes([]), name="book.xlsx")
    with pytest.raises(FileImportError, match="sheet 'Leads' is empty"):
        list(iter_chunks(data, sniff(data)))


# ----------------------------------------------------------------------------- preview


def test_preview_shows_format_headers_and_the_first_rows():
    data = ("id;name\n" + "".join(f"{i};n{i}\n" for i in range(50))).encode("cp1252")
    preview = read_preview(InputFile(data, name="x.csv"), rows=3)
    assert preview.format.describe() == "CSV, utf-8-sig, semicolon-separated"
    assert preview.headers == ["id", "name"]
    assert preview.frame["name"].tolist() == ["n0", "n1", "n2"]
    assert preview.lines == [2, 3, 4]


def test_preview_of_a_header_only_file_has_the_headers():
    preview = read_preview(b"a,b\n")
    assert preview.headers == ["a", "b"] and preview.frame.empty


def test_uploaded_file_objects_are_read_like_paths(tmp_path):
    class Upload(io.BytesIO):
        name = "upload.csv"

    preview = read_preview(Upload(b"id\n1\n"))
    assert preview.name == "upload.csv" and preview.frame["id"].tolist() == ["1"]
    assert np.array_equal(np.array(preview.lines), [2])


@pytest.mark.parametrize("chunksize", [1, 2, 10])
def test_an_unclosed_quote_keeps_the_rows_before_it_and_reports_its_line(chunksize):
    data = b'\n\nid,name\n1,ok\n2,x,y,z\n"3\n",ok\n4,"never closed\n5,ok\n'
    _, frame, lines, bad, _ = rows_of(data, chunksize=chunksize)
    assert frame["id"].tolist() == ["1", "3\n"]
    assert lines == [4, 6]
    assert [line for line, _ in bad] == [5, 8]
    assert "never closed" in bad[1][1]
