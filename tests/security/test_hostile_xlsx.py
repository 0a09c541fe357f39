"""Excel bombs through ``cli.py import``: refused in one line with exit 2, never a traceback or gigabytes.

Each workbook is built here from a real openpyxl workbook whose sheet is replaced
by crafted XML: a 600 MB cell that zips to under 3 MB, a billion-laughs entity
chain, a cell over Excel's own 32,767-character limit.
"""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

import cli
from connectors.files import reading

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEAD = f'<?xml version="1.0"?>{{doctype}}<worksheet xmlns="{NS}"><sheetData>'
HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>Id</t></is></c><c r="B1" t="inlineStr"><is><t>Note</t></is></c></row>'
CELL_ROW = '<row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c><c r="B2" t="inlineStr"><is><t>'
TAIL = "</t></is></c></row></sheetData></worksheet>"


def workbook_with_sheet(path, write_sheet) -> None:
    """A real workbook from openpyxl, its first sheet's XML replaced by what ``write_sheet(handle)`` writes."""
    book = openpyxl.Workbook()
    book.active.append(["Id", "Note"])
    buffer = io.BytesIO()
    book.save(buffer)
    original = zipfile.ZipFile(buffer)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for item in original.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                with out.open(item.filename, "w", force_zip64=True) as handle:
                    write_sheet(handle)
            else:
                out.writestr(item.filename, original.read(item.filename))


def run_import(path, tmp_path, capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'accord.db'}")
    code = cli.main(["import", "leads", str(path), "--mapping", "hubspot-contacts"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_600_mb_cell_in_a_small_file_is_refused_before_it_is_unpacked(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bomb.xlsx"

    def write(handle) -> None:
        handle.write((HEAD.format(doctype="") + HEADER_ROW + CELL_ROW).encode())
        block = b"A" * (1 << 20)
        for _ in range(600):
            handle.write(block)
        handle.write(TAIL.encode())

    workbook_with_sheet(path, write)
    assert path.stat().st_size < 5 * 2**20
    code, out, err = run_import(path, tmp_path, capsys, monkeypatch)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "bomb.xlsx: the workbook unpacks to 600 MB" in err and "at most 512 MB" in err


def test_an_entity_expansion_sheet_is_one_line(tmp_path, capsys, monkeypatch):
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "laughs.xlsx"
    sheet = HEAD.format(doctype=f"<!DOCTYPE worksheet [{entities}]>") + HEADER_ROW + CELL_ROW + "&l9;" + TAIL
    workbook_with_sheet(path, lambda handle: handle.write(sheet.encode()))
    code, out, err = run_import(path, tmp_path, capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "laughs.xlsx" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("broken", ["<row", "</worksheet>", "<row r='2'><c r='A2' t='inlineStr'><is><t>1"])
def test_a_sheet_that_breaks_off_mid_row_is_one_line(tmp_path, capsys, monkeypatch, broken):
    path = tmp_path / "broken.xlsx"
    sheet = HEAD.format(doctype="") + HEADER_ROW + broken
    workbook_with_sheet(path, lambda handle: handle.write(sheet.encode()))
    code, out, err = run_import(path, tmp_path, capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "broken.xlsx" in err, err


def test_a_cell_over_excels_limit_is_refused_naming_where(tmp_path, capsys, monkeypatch):
    path = tmp_path / "long.xlsx"
    sheet = HEAD.format(doctype="") + HEADER_ROW + CELL_ROW + "y" * (reading.MAX_CELL_CHARS + 1) + TAIL
    workbook_with_sheet(path, lambda handle: handle.write(sheet.encode()))
    code, out, err = run_import(path, tmp_path, capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1, err
    assert "long.xlsx, line 2, column 'Note': a cell holds 32,768 characters" in err
