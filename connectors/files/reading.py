"""Reading an uploaded export: which kind of file it is, its encoding and delimiter, and its rows.

Rows come out as chunks of text (``dtype=str``: nothing is guessed here) with
the file line of every row, so a rejection can say "line 5 208". CSV is read
by pandas' C parser in chunks; quoted fields may hold delimiters and newlines
(line numbers count those newlines). Excel workbooks (.xlsx) are read with
openpyxl in read-only mode; a row's "line" is its row number in the sheet.

Encodings: UTF-8 (with or without BOM), UTF-16 with BOM, Windows-1252, and
Latin-1 as the last resort (it decodes any byte). Delimiters: , ; tab |.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from errors import AccordError

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 256 * 1024
SCAN_BLOCK = 1 << 20
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
# A workbook is a zip of XML: 1.4 MB of it held a 1.5 GB shared string and took the importer to 3.1 GB.
MAX_XLSX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes of all its parts, unpacked
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
_EXTRA = "__accord_field_beyond_the_header__"
_TOO_MANY = "the line has {} fields, the header {}"
_UNCLOSED = 'a quoted field opened on this line is never closed (a " is missing), so the rest of the file cannot be read'
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class FileImportError(AccordError, ValueError):
    """A file or mapping the user can fix; the message names the file, line and column where known."""

    exit_code = 2  # the command cannot start from this input

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, column=None):
        self.message, self.file, self.line, self.column = message, file, line, column
        where = [file] if file else []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class InputFile:
    """An export to read: a path, raw bytes, or an uploaded file object (anything with ``read``).

    The content is opened afresh for each pass (sniffing, preview, import).
    """

    def __init__(self, file, name: str | None = None):
        if isinstance(file, InputFile):
            self.path, self.data, self.name = file.path, file.data, name or file.name
            return
        self.path: Path | None = None
        self.data: bytes | None = None
        if isinstance(file, str | Path):
            self.path = Path(file)
            if not self.path.is_file():
                raise FileImportError("no such file", file=str(file))
        elif isinstance(file, bytes | bytearray | memoryview):
            self.data = bytes(file)
        elif hasattr(file, "getvalue"):
            self.data = bytes(file.getvalue())
        elif hasattr(file, "read"):
            self.data = file.read()
        else:
            raise TypeError(f"cannot read a file from {type(file).__name__}")
        self.name = name or (self.path.name if self.path else Path(str(getattr(file, "name", "upload"))).name)

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path else len(self.data)

    def open(self) -> BinaryIO:
        return self.path.open("rb") if self.path else io.BytesIO(self.data)

    def head(self, size: int = SAMPLE_BYTES) -> bytes:
        with self.open() as handle:
            return handle.read(size)


@dataclass(frozen=True)
class FileFormat:
    """What :func:`sniff` found: kind ("csv" or "xlsx"), encoding, delimiter and, for Excel, the sheets."""

    kind: str
    encoding: str | None = None
    delimiter: str | None = None
    quoted: bool = False  # the file holds a quote character, so a field may span lines
    skip_lines: int = 0  # blank lines and an Excel "sep=;" line before the header
    sheets: tuple[str, ...] = ()
    sheet: str | None = None
    # A mostly UTF-8 file with a few Windows-1252 lines (one edited in an old tool): those lines' numbers;
    # they are read as Windows-1252, the rest as UTF-8.
    fallback_lines: tuple[int, ...] = ()

    def describe(self) -> str:
        """A short phrase for reports, e.g. ``CSV, utf-8, semicolon-separated``."""
        if self.kind == "xlsx":
            return f"Excel workbook, sheet {self.sheet!r}"
        mixed = f" ({len(self.fallback_lines):,} lines Windows-1252)" if self.fallback_lines else ""
        return (
            f"CSV, {self.encoding}{mixed}, "
            f"{_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"
        )

    def fallback_note(self) -> str | None:
        """The import report's line about lines read as Windows-1252 (None when there are none)."""
        if not self.fallback_lines:
            return None
        shown = ", ".join(str(n) for n in self.fallback_lines[:10])
        more = f" and {len(self.fallback_lines) - 10:,} more" if len(self.fallback_lines) > 10 else ""
        return (
            f"{'lines' if len(self.fallback_lines) > 1 else 'line'} {shown}{more} "
            f"{'are' if len(self.fallback_lines) > 1 else 'is'} not UTF-8 like the rest of "
            "the file and were read as Windows-1252; check the names on them"
        )


@dataclass
class Chunk:
    """Consecutive rows of the file as text, with the file line of each row.

    ``bad_lines`` are lines the parser could not split into the header's
    columns, as (line, reason); ``blank`` counts empty lines that were skipped.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    blank: int = 0
    position: int | None = None  # bytes (CSV) or rows (Excel) consumed so far
    total: int | None = None  # bytes (CSV) or rows (Excel) in all


# ----------------------------------------------------------------------------- sniffing


def sniff(file, *, encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None):
    """The :class:`FileFormat` of ``file``, or a :class:`FileImportError` for an empty or binary file.

    ``encoding``, ``delimiter`` and ``sheet`` override what would be detected.
    """
    source = InputFile(file)
    if source.size == 0:
        raise FileImportError("the file is empty", file=source.name)
    head = source.head()
    if head.startswith(b"PK\x03\x04") or source.name.lower().endswith(EXCEL_SUFFIXES):
        return _sniff_workbook(source, sheet)
    _refuse_binary(head, source.name)
    fallback: tuple[int, ...] = ()
    if encoding is None:
        encoding, quoted = detect_encoding(source)
        # One cp1252 byte used to turn a whole UTF-8 file into cp1252: "JÃ¼rgen" and a duplicate owner.
        if encoding == "cp1252" and (fallback := mixed_lines(source)):
            encoding = "utf-8-sig"
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise FileImportError(f"unknown encoding {encoding!r}", file=source.name) from None
        quoted = True
    text = _decode_sample(head, encoding, complete=len(head) >= source.size)
    if not text.strip():
        raise FileImportError("the file is empty (no header row)", file=source.name)
    lines = text.splitlines(keepends=True)
    skip = 0
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    if skip < len(lines) and lines[skip].strip().lower().startswith("sep=") and len(lines[skip].strip()) == 5:
        delimiter = delimiter or lines[skip].strip()[4]  # Excel's hint line, e.g. "sep=;"
        skip += 1
    text = "".join(lines[skip:])
    if not text.strip():
        raise FileImportError("the file is empty (no header row)", file=source.name)
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    elif len(delimiter) != 1:
        raise FileImportError(f"the delimiter must be one character, got {delimiter!r}", file=source.name)
    return FileFormat("csv", encoding, delimiter, quoted, skip_lines=skip, fallback_lines=fallback)


def _refuse_binary(head: bytes, name: str) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text: NUL bytes are expected
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileImportError(
            "this is an Excel 97-2003 workbook (.xls), which Accord cannot read; "
            "save it as .xlsx or CSV and upload that",
            file=name,
        )
    kinds = {b"%PDF": "a PDF document", b"\x1f\x8b": "a gzip archive", b"\x89PNG": "a PNG image"}
    for magic, kind in kinds.items():
        if head.startswith(magic):
            raise FileImportError(f"this is {kind}, not a CSV or Excel export", file=name)
    nul = head.find(b"\x00")
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if nul >= 0 or control > max(8, len(head) // 100):
        raise FileImportError(
            "this is not a text (CSV) file or Excel workbook: it holds binary data"
            + (f" (a NUL byte at offset {nul})" if nul >= 0 else ""),
            file=name,
        )


def detect_encoding(file) -> tuple[str, bool]:
    """The encoding that decodes the whole of ``file``, and whether it holds a double quote.

    Tries UTF-16 (only with a BOM), then UTF-8 (a BOM is skipped), then
    Windows-1252; Latin-1 decodes anything and is the last resort.

    >>> detect_encoding(InputFile("Name;Stadt\\nJürgen;Köln\\n".encode("cp1252")))
    ('cp1252', False)
    >>> detect_encoding(InputFile('\\ufeffName\\n"Zoë"\\n'.encode("utf-8")))
    ('utf-8-sig', True)
    """
    source = InputFile(file)
    head = source.head(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", True
    quoted = False
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with source.open() as handle:
                while block := handle.read(SCAN_BLOCK):
                    quoted = quoted or b'"' in block
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            return encoding, quoted
        except UnicodeDecodeError:
            continue
    return "latin-1", quoted


FALLBACK_ERRORS = "accord-cp1252"  # the codecs error handler of mixed files


def _as_cp1252(error: UnicodeDecodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 could not as Windows-1252 (the lines :func:`mixed_lines` found)."""
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error(FALLBACK_ERRORS, _as_cp1252)


def mixed_lines(file) -> tuple[int, ...]:
    r"""The lines that are not UTF-8 in a file that is otherwise UTF-8 with non-ASCII text; else ``()``.

    A file with no UTF-8 beyond ASCII is simply Windows-1252 (every line of it), not mixed.

    >>> mixed_lines(InputFile("Name\nJürgen\n".encode() + "Jürgen\n".encode("cp1252")))
    (3,)
    >>> mixed_lines(InputFile("Name\nJürgen\n".encode("cp1252")))
    ()
    """
    utf8_lines, bad = 0, []
    with InputFile(file).open() as handle:
        for number, line in enumerate(handle, start=1):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(number)
            else:
                utf8_lines += 1
    return tuple(bad) if bad and utf8_lines >= len(bad) else ()


def _decode_sample(head: bytes, encoding: str, complete: bool) -> str:
    text = head.decode(
        encoding,
        errors=FALLBACK_ERRORS if encoding.startswith("utf-8") else "ignore" if not complete else "replace",
    )
    if text.startswith("\ufeff"):
        text = text[1:]
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # drop the last, maybe cut, line
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter of the CSV ``text`` among , ; tab |: the one that splits the header into the
    most columns and most rows into as many. One-column text gives ",".

    >>> sniff_delimiter("id;name;amount\\n1;Ann;1,5\\n2;Bob;2,0\\n")
    ';'
    >>> sniff_delimiter('id,name\\n1,"Doe; Jane"\\n')
    ','
    """
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), 200))
        except csv.Error:
            continue
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        consistency = sum(len(row) == width for row in body) / len(body)
        score = (consistency, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ----------------------------------------------------------------------------- CSV


def iter_chunks(file, fmt: FileFormat, chunksize: int = 100_000) -> Iterator[Chunk]:
    """The rows of ``file`` as :class:`Chunk` s of at most ``chunksize`` rows (the header is not a row)."""
    source = InputFile(file)
    if fmt.kind == "xlsx":
        yield from _iter_workbook(source, fmt.sheet, chunksize)
    else:
        yield from _iter_csv(source, fmt, chunksize)


def _csv_options(fmt: FileFormat) -> dict:
    return {
        "sep": fmt.delimiter,
        "encoding": fmt.encoding,
        "encoding_errors": FALLBACK_ERRORS if fmt.fallback_lines else "strict",
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "skip_blank_lines": False,
        "on_bad_lines": "warn",
        "engine": "c",
    }


def _iter_csv(source: InputFile, fmt: FileFormat, chunksize: int) -> Iterator[Chunk]:
    total = source.size
    headers = read_headers(source, fmt)
    header_span = 1 + sum(str(c).count("\n") for c in headers)
    state = {"record": 2, "line": fmt.skip_lines + header_span + 1}  # next row: parser's record, file line
    bad_records: list[tuple[int, str]] = []  # (record number as the parser counts them, reason)
    unclosed = None
    with source.open() as handle, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        reader = _csv_reader(handle, fmt, headers, skip_records=0, chunksize=chunksize)
        while True:
            try:
                frame = next(reader)
            except StopIteration:
                break
            except pd.errors.ParserError as exc:
                unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
                if unclosed is None:
                    raise FileImportError(f"the CSV cannot be parsed: {exc}", file=source.name) from None
                break
            except UnicodeDecodeError as exc:
                raise FileImportError(
                    f"the file is not {fmt.encoding} text: {exc}", file=source.name
                ) from None
            bad_records.extend(r for w in caught for r in _bad_records(str(w.message), fmt.skip_lines))
            caught.clear()
            yield _chunk(frame, headers, state, bad_records, fmt, _position(handle, total), total)
    if unclosed is not None:
        # the parser counts rows from 0 at the first line; the rows of the failed chunk before the
        # open quote are read again on their own, the rest of the file is lost
        before = int(unclosed[1]) - 1 - fmt.skip_lines - (state["record"] - 2)
        for rows in range(before, 0, -1):  # lines skipped for too many fields do not count as rows
            with source.open() as handle, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                try:
                    frame = _csv_reader(handle, fmt, headers, skip_records=state["record"] - 2, nrows=rows)
                except pd.errors.ParserError:
                    continue
                bad_records.extend(r for w in caught for r in _bad_records(str(w.message), fmt.skip_lines))
                yield _chunk(frame, headers, state, bad_records, fmt, None, total)
                break
        bad_records.append((state["record"], _UNCLOSED))
    if bad_records:  # bad lines after the last row
        bad = [(state["line"] + record - state["record"], reason) for record, reason in sorted(bad_records)]
        yield Chunk(pd.DataFrame(), np.empty(0, dtype=np.int64), bad, 0, total, total)


def _csv_reader(handle, fmt: FileFormat, headers: list[str], skip_records: int, **options):
    # one spare column catches a field beyond the header's, so that line can be reported
    return pd.read_csv(
        handle,
        skiprows=fmt.skip_lines + 1 + skip_records,
        header=None,
        names=[*headers, _EXTRA],
        **options,
        **_csv_options(fmt),
    )


def _chunk(frame, headers, state, bad_records, fmt: FileFormat, position, total) -> Chunk:
    lines, bad = _number_rows(frame, state, bad_records, fmt.quoted)
    extra = frame.pop(_EXTRA).notna().to_numpy()
    if extra.any():
        too_many = _TOO_MANY.format(len(headers) + 1, len(headers))
        bad = sorted(bad + [(int(line), too_many) for line in lines[extra]])
        frame, lines = frame[~extra], lines[~extra]
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame, lines = frame[~blank], lines[~blank]
    return Chunk(frame, lines, bad, int(blank.sum()), position, total)


def _bad_records(message: str, skipped: int) -> list[tuple[int, str]]:
    """Parse pandas' "Skipping line 7: expected 5 fields, saw 6" warnings into (record, reason).

    The parser counts a record (however many lines its quoted fields span) as
    one line, plus the ``skipped`` lines before the header.
    """
    out = []
    for part in message.strip().splitlines():
        part = part.strip()
        if part.startswith("Skipping line "):
            number, _, reason = part[len("Skipping line ") :].partition(":")
            if number.strip().isdigit():
                reason = reason.strip()
                counts = re.match(r"expected (\d+) fields, saw (\d+)", reason)
                if counts:  # "expected" counts the spare column
                    reason = _TOO_MANY.format(int(counts[2]), int(counts[1]) - 1)
                out.append((int(number) - skipped, reason))
    return out


def _number_rows(frame: pd.DataFrame, state: dict, bad_records: list, quoted: bool):
    """The file line of each row of ``frame`` and the (line, reason) of the bad lines among them.

    ``state`` holds the parser's record number and the file line of the next row
    and is advanced. A row spans one line plus the newlines inside its quoted
    fields; a bad line (skipped by the parser) is taken to span one line.
    """
    n = len(frame)
    span = np.ones(n, dtype=np.int64)
    if quoted and n:
        for column in frame.columns:
            values = frame[column]
            if values.notna().any():
                span += values.str.count("\n").fillna(0).to_numpy(dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(span)[:-1])) if n else np.empty(0, dtype=np.int64)
    bad_records.sort()
    placed = []  # (row index the bad record precedes, reason)
    for k, (record, reason) in enumerate(bad_records):
        index = record - state["record"] - k
        if index >= n:
            break
        placed.append((max(index, 0), reason))
    del bad_records[: len(placed)]
    extra = np.zeros(n, dtype=np.int64)
    for index, _ in placed:
        extra[index:] += 1
    lines = state["line"] + offsets + extra
    bad = [
        (int(state["line"] + (offsets[i] if n else 0) + j), reason) for j, (i, reason) in enumerate(placed)
    ]
    if n:
        state["line"] = int(lines[-1] + span[-1])
    state["record"] += n + len(placed)
    return lines, bad


def _position(handle, total: int) -> int | None:
    try:
        return min(handle.tell(), total)
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- Excel


def _check_unpacked_size(source: InputFile) -> None:
    """Refuse a workbook whose parts unpack to more than :data:`MAX_XLSX_UNCOMPRESSED` (before reading any).

    The sizes come from the zip's directory; zipfile never unpacks a part beyond its declared size.
    """
    import zipfile

    try:
        with zipfile.ZipFile(source.path if source.path else io.BytesIO(source.data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip at all: openpyxl says so in its own words below
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_XLSX_UNCOMPRESSED:
        biggest = max(parts, key=lambda part: part.file_size)
        raise FileImportError(
            f"the workbook unpacks to {unpacked / 2**20:,.0f} MB ({biggest.filename}: "
            f"{biggest.file_size / 2**20:,.0f} MB); Accord reads workbooks of at most "
            f"{MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MB unpacked. Save the sheet as CSV and import that",
            file=source.name,
        )


# What reading a damaged or crafted workbook raises besides openpyxl's own errors (XML ParseError from an
# entity-expansion bomb, zip and zlib errors, a part shorter than declared).
_WORKBOOK_ERRORS = (KeyError, OSError, ValueError, EOFError, SyntaxError, MemoryError, zlib.error)


def _open_workbook(source: InputFile):
    import openpyxl  # imported here: only Excel uploads pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unpacked_size(source)
    try:
        return openpyxl.load_workbook(
            source.path if source.path else io.BytesIO(source.data), read_only=True, data_only=True
        )
    except (InvalidFileException, *_WORKBOOK_ERRORS) as exc:
        raise FileImportError(
            f"this is not a readable Excel workbook (.xlsx): {exc}", file=source.name
        ) from None
    except Exception as exc:  # zipfile.BadZipFile and friends from a damaged upload
        if type(exc).__name__ in ("BadZipFile", "LargeZipFile"):
            raise FileImportError("this is not a readable Excel workbook (.xlsx)", file=source.name) from None
        raise


def _sniff_workbook(source: InputFile, sheet: str | None) -> FileFormat:
    book = _open_workbook(source)
    try:
        names = tuple(book.sheetnames)
        chosen = _choose_sheet(names, sheet, source.name)
    finally:
        book.close()
    return FileFormat("xlsx", sheets=names, sheet=chosen)


def _choose_sheet(names: tuple[str, ...], sheet: str | None, file: str) -> str:
    if not names:
        raise FileImportError("the workbook has no sheets", file=file)
    if sheet is None:
        return names[0]
    for name in names:
        if name.strip().casefold() == sheet.strip().casefold():
            return name
    raise FileImportError(f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(names)}", file=file)


def _iter_workbook(source: InputFile, sheet: str | None, chunksize: int) -> Iterator[Chunk]:
    book = _open_workbook(source)
    try:
        yield from _workbook_rows(book, source, sheet, chunksize)
    except FileImportError:
        raise
    except _WORKBOOK_ERRORS as exc:  # from the XML of a damaged or crafted sheet, while streaming its rows
        raise FileImportError(
            f"the workbook cannot be read: {type(exc).__name__}: {str(exc)[:200]}", file=source.name
        ) from None
    finally:
        book.close()


def _workbook_rows(book, source: InputFile, sheet: str | None, chunksize: int) -> Iterator[Chunk]:
    """The chunks of rows of ``sheet`` (see :func:`_iter_workbook`, which closes the book and words errors)."""
    chosen = _choose_sheet(tuple(book.sheetnames), sheet, source.name)
    ws = book[chosen]
    total = ws.max_row if isinstance(ws.max_row, int) else None
    rows = ws.iter_rows(values_only=True)
    header, header_row = None, 0
    for number, values in enumerate(rows, start=1):
        if any(v is not None and str(v).strip() for v in values):
            header, header_row = values, number
            break
    if header is None:
        raise FileImportError(f"sheet {chosen!r} is empty (no header row)", file=source.name)
    names = _dedupe_names([_cell_text(v) or f"Unnamed: {i}" for i, v in enumerate(header)])
    width = max(i for i, v in enumerate(header) if v is not None and str(v).strip()) + 1
    names = names[:width]
    buffer, lines, blank = [], [], 0
    for number, values in enumerate(rows, start=header_row + 1):
        cells = [_cell_text(v) for v in values[:width]]
        for column, cell in enumerate(cells):
            if cell is not None and len(cell) > MAX_CELL_CHARS:
                raise FileImportError(
                    f"a cell holds {len(cell):,} characters; a cell may hold at most {MAX_CELL_CHARS:,} "
                    "(Excel's own limit)",
                    file=source.name,
                    line=number,
                    column=names[column],
                )
        if not any(c is not None for c in cells):
            blank += 1
            continue
        buffer.append(cells + [None] * (width - len(cells)))
        lines.append(number)
        if len(buffer) >= chunksize:
            yield _workbook_chunk(buffer, names, lines, blank, number, total)
            buffer, lines, blank = [], [], 0
    if buffer or blank:
        yield _workbook_chunk(buffer, names, lines, blank, total, total)


def _workbook_chunk(buffer, names, lines, blank, position, total) -> Chunk:
    frame = (
        pd.DataFrame(buffer, columns=names, dtype="str")
        if buffer
        else pd.DataFrame(columns=names, dtype="str")
    )
    return Chunk(frame, np.asarray(lines, dtype=np.int64), [], blank, position, total)


def _dedupe_names(names: list[str]) -> list[str]:
    """Repeated headers get ".1", ".2" suffixes, as pandas names them in a CSV."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _cell_text(value) -> str | None:
    """A cell as the text a CSV export would hold: ISO dates, whole numbers without ".0"."""
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):  # Excel has no date type: a date is a datetime at midnight
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value).strip()
    return text or None


# ----------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """The first rows of an export, for a page to show before a mapping is chosen."""

    name: str
    format: FileFormat
    headers: list[str]
    frame: pd.DataFrame  # the first rows as text, with the headers as columns
    lines: list[int]


def read_preview(file, rows: int = 20, *, sheet: str | None = None, encoding=None, delimiter=None) -> Preview:
    """The headers and first ``rows`` rows of ``file``; raises :class:`FileImportError` if it cannot be read."""
    source = InputFile(file)
    fmt = sniff(source, encoding=encoding, delimiter=delimiter, sheet=sheet)
    chunk = next(iter_chunks(source, fmt, chunksize=max(rows, 1)), None)
    if chunk is None:
        headers = read_headers(source, fmt)
        return Preview(source.name, fmt, headers, pd.DataFrame(columns=headers, dtype="str"), [])
    frame = chunk.frame.head(rows).reset_index(drop=True)
    return Preview(
        source.name, fmt, [str(c) for c in chunk.frame.columns], frame, chunk.lines[:rows].tolist()
    )


def read_headers(file, fmt: FileFormat) -> list[str]:
    """The column names of ``file`` (as the reader names them: repeated ones get ".1" suffixes)."""
    source = InputFile(file)
    if fmt.kind == "xlsx":
        for chunk in _iter_workbook(source, fmt.sheet, 1):
            return [str(c) for c in chunk.frame.columns]
        return []
    with source.open() as handle:
        try:
            frame = pd.read_csv(
                handle, nrows=0, skiprows=fmt.skip_lines, index_col=False, **_csv_options(fmt)
            )
        except pd.errors.EmptyDataError:
            raise FileImportError("the file is empty (no header row)", file=source.name) from None
        except pd.errors.ParserError as exc:
            raise FileImportError(
                f"the header could not be read ({exc}); check for an unclosed quote near the top",
                file=source.name,
            ) from None
    return [str(c) for c in frame.columns]
