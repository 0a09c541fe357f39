"""Importing exports end to end: good rows upserted, bad rows kept with line and reason, re-imports idempotent."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

import cli
import settings
from connectors.files import FileImportError, Mapping, MappingError, dry_run, import_file
from data import journal, queries, syncs, upserts
from data.engine import make_engine, upgrade
from tests.conftest import pretend_run

AS_OF = dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)
LEADS = Mapping(
    table="leads",
    name="test leads",
    source="crm",
    timezone="Europe/Berlin",
    owner_reference="name",
    columns={
        "external_id": "Id",
        "created_at": "Created",
        "mql_at": "MQL",
        "owner_external_id": "Owner",
        "channel": "Channel",
        "touches": "Touches",
        "disposition": "Status",
    },
    values={"disposition": {"Working": "accepted", "Junk": "rejected", "*": "open"}},
)
DEALS = Mapping(
    table="deals",
    source="crm",
    columns={
        "external_id": "Id",
        "created_at": "Created",
        "closed_at": "Closed",
        "amount": "Amount",
        "stage": "Stage",
    },
    stages={"won": ["Won"], "lost": ["Lost"]},
    constants={"currency": "EUR"},
)


def csv_bytes(rows, delimiter=",", encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write(tmp_path, rows, name="leads.csv", **options):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, **options))
    return path


HEADER = ["Id", "Created", "MQL", "Owner", "Channel", "Touches", "Status"]
GOOD_AND_BAD = [
    HEADER,
    ["L1", "31/01/2024 09:30", "01/02/2024 10:00", "Ann Lee", "Organic", "3", "Working"],  # line 2
    ["L2", "02/02/2024", "", "Bob Yu", "Paid", "", "Junk"],  # 3
    ["L3", "2150-01-01", "", "Ann Lee", "Direct", "1", "New"],  # 4: created in the future
    ["", "01/02/2024", "", "", "", "", ""],  # 5: no id
    ["L4", "someday", "", "", "", "", ""],  # 6: not a date
    ["L5", "01/01/1985", "", "", "", "", ""],  # 7: before 1990
    ["L6", "05/02/2024", "", "", "", "-2", ""],  # 8: negative touches
    ["L7", "05/02/2024", "", "", "", "2.5", ""],  # 9: not whole
    ["L1", "31/01/2024 09:30", "01/02/2024 11:00", "Ann Lee", "Organic", "4", "Working"],  # 10: repeats L1
]


# ----------------------------------------------------------------------------- the core promise


def test_good_rows_are_imported_and_every_bad_row_is_kept_with_line_column_and_reason(engine, tmp_path):
    path = write(tmp_path, GOOD_AND_BAD)
    report = import_file(engine, path, "leads", LEADS, as_of=AS_OF)

    assert (report.read, report.imported, report.updated, report.rejected, report.duplicates) == (
        9,
        2,
        0,
        6,
        1,
    )
    leads = queries.read_leads(engine).set_index("external_id")
    assert sorted(leads.index) == ["L1", "L2"]
    l1 = leads.loc["L1"]
    assert l1["created_at"] == pd.Timestamp("2024-01-31 08:30", tz="UTC")  # Berlin local time, day first
    assert l1["mql_at"] == pd.Timestamp("2024-02-01 10:00", tz="UTC")  # the later row won
    assert l1["touches"] == 4 and l1["disposition"] == "accepted"
    assert leads.loc["L2", "disposition"] == "rejected" and pd.isna(leads.loc["L2", "touches"])

    rejected = journal.read_rejected_rows(engine, source="crm").sort_values("row_number")
    assert rejected["row_number"].tolist() == [4, 5, 6, 7, 8, 9]
    assert rejected["column_name"].tolist() == ["Created", "Id", "Created", "Created", "Touches", "Touches"]
    reasons = rejected["reasons"].tolist()
    assert reasons[0] == "Created: '2150-01-01' is in the future (after 2024-06-30)"
    assert reasons[1] == "Id: external_id is blank, and leads need it"
    assert reasons[2] == "Created: 'someday' is not a date"
    assert reasons[3] == "Created: '01/01/1985' is before 1990"
    assert reasons[4] == "Touches: '-2' is negative"
    assert reasons[5] == "Touches: '2.5' is not a whole number"
    assert rejected["external_id"].fillna("(none)").tolist()[:3] == ["L3", "(none)", "L4"]
    assert '"Created": "someday"' in rejected["raw"].iloc[2]
    assert report.first_reasons[0] == "line 4: Created: '2150-01-01' is in the future (after 2024-06-30)"
    assert report.duplicate_examples == ["'L1' on lines 2 and 10"]
    assert any("day first" in note for note in report.notes)


def test_reimporting_the_same_file_changes_nothing_and_adds_no_rejected_rows(engine, tmp_path):
    path = write(tmp_path, GOOD_AND_BAD)
    first = import_file(engine, path, "leads", LEADS, as_of=AS_OF)
    before = (queries.read_leads(engine), queries.read_owners(engine), queries.table_counts(engine))
    again = import_file(engine, path, "leads", LEADS, as_of=AS_OF)
    after = (queries.read_leads(engine), queries.read_owners(engine), queries.table_counts(engine))

    assert (again.imported, again.updated, again.rejected, again.owners_created) == (0, 2, 6, 0)
    assert first.rejected_new == 6 and again.rejected_new == 0
    assert len(journal.read_rejected_rows(engine)) == 6
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])
    assert before[2] == after[2]


@pytest.mark.parametrize("chunksize", [1, 2, 3, 7])
def test_chunk_boundaries_do_not_change_the_result(sqlite_engine, tmp_path, chunksize):
    rows = [HEADER] + [
        [
            f"L{i % 13}",
            f"{10 + i % 9}/03/2024 1{i % 10}:00",
            "",
            f"Rep {i % 4}",
            "Web",
            str(i % 5),
            "Working" if i % 3 else "Junk",
        ]
        for i in range(40)
    ]
    rows[5][1] = "bad date"
    rows[17][5] = "-1"
    rows[23][4] = "multi\nline"
    rows[30][5] = "x"
    path = write(tmp_path, rows)
    reference = import_file(
        sqlite_engine, path, "leads", LEADS.model_copy(update={"source": "one"}), as_of=AS_OF
    )
    report = import_file(
        sqlite_engine,
        path,
        "leads",
        LEADS.model_copy(update={"source": "many"}),
        as_of=AS_OF,
        chunksize=chunksize,
    )
    counts = ("read", "imported", "updated", "rejected", "duplicates", "owners_created", "duplicate_examples")
    assert [getattr(report, c) for c in counts] == [getattr(reference, c) for c in counts]
    leads = queries.read_leads(sqlite_engine).drop(columns=["id", "owner_id"])
    one = (
        leads[leads.source == "one"].drop(columns="source").sort_values("external_id").reset_index(drop=True)
    )
    many = (
        leads[leads.source == "many"].drop(columns="source").sort_values("external_id").reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(one, many)
    rejected = journal.read_rejected_rows(sqlite_engine)
    lines = rejected.groupby("source")["row_number"].apply(sorted)
    assert lines["one"] == lines["many"] == [6, 18, 32]  # rows after the two-line row sit a line lower


def test_a_dry_run_writes_nothing_but_its_run_and_counts_new_against_stored(sqlite_engine, tmp_path):
    import_file(sqlite_engine, write(tmp_path, GOOD_AND_BAD[:3]), "leads", LEADS, as_of=AS_OF)
    counts_before = queries.table_counts(sqlite_engine)
    report = dry_run(
        sqlite_engine, write(tmp_path, GOOD_AND_BAD, name="all.csv"), "leads", LEADS, as_of=AS_OF
    )

    assert report.dry_run and (report.imported, report.updated, report.rejected) == (0, 2, 6)
    assert queries.table_counts(sqlite_engine) == counts_before
    assert len(journal.read_rejected_rows(sqlite_engine)) == 0
    runs = syncs.read_sync_runs(sqlite_engine)
    assert runs["kind"].tolist() == ["dry-run", "import"]
    assert runs["connector"].tolist() == ["file:crm", "file:crm"]
    assert runs["counts"].iloc[0]["rejected"] == 6
    assert "would be" in "\n".join(report.summary())


def test_a_dry_run_counts_rows_new_to_an_empty_database(sqlite_engine, tmp_path):
    report = dry_run(sqlite_engine, write(tmp_path, GOOD_AND_BAD), "leads", LEADS, as_of=AS_OF)
    assert (report.imported, report.updated, report.owners_created) == (2, 0, 2)
    assert queries.table_counts(sqlite_engine)["owners"] == 0


# ----------------------------------------------------------------------------- files that cannot be imported


def test_missing_required_columns_name_what_is_missing_and_what_was_found(sqlite_engine, tmp_path):
    path = write(tmp_path, [["Name", "Created"], ["Ann", "2024-01-01"]], name="contacts.csv")
    with pytest.raises(MappingError) as error:
        import_file(sqlite_engine, path, "leads", LEADS, as_of=AS_OF)
    message = str(error.value)
    assert message.startswith("contacts.csv: the file lacks what the mapping 'test leads' needs")
    assert "'Id' (for external_id)" in message and "The file's columns: 'Name', 'Created'" in message
    run = syncs.read_sync_runs(sqlite_engine).iloc[0]
    assert (run["connector"], run["status"]) == ("file:crm", "failed")
    assert "'Id' (for external_id)" in run["error"]


@pytest.mark.parametrize(
    ("data", "says"), [(b"", "the file is empty"), (b"\x00\x01\x02binary", "this is not a text")]
)
def test_empty_and_binary_files_are_refused_and_the_run_recorded(sqlite_engine, tmp_path, data, says):
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    with pytest.raises(FileImportError, match=f"upload.csv: {says}"):
        import_file(sqlite_engine, path, "leads")
    assert syncs.read_sync_runs(sqlite_engine)["status"].tolist() == ["failed"]


def test_a_header_only_file_imports_nothing_and_says_so(sqlite_engine, tmp_path):
    report = import_file(sqlite_engine, write(tmp_path, [HEADER]), "leads", LEADS, as_of=AS_OF)
    assert report.read == 0 and report.accepted == 0
    assert report.warnings == ["the file has a header row but no data rows"]
    run = syncs.read_sync_runs(sqlite_engine).iloc[0]
    assert (run["status"], run["error"]) == ("failed", "no row could be imported")


def test_a_mapping_for_another_table_is_refused(sqlite_engine, tmp_path):
    with pytest.raises(MappingError, match="the mapping is for deals, not leads"):
        import_file(sqlite_engine, write(tmp_path, [HEADER]), "leads", DEALS)


def test_lines_with_extra_fields_are_rejected_with_their_line(sqlite_engine, tmp_path):
    data = b"Id,Created,Amount\r\nD1,2024-01-05,10\r\nD2,2024-01-06,5,oops\r\nD3,2024-01-07,1,x,y\r\nD4,2024-01-08,3\r\n"
    path = tmp_path / "deals.csv"
    path.write_bytes(data)
    mapping = Mapping(
        table="deals",
        source="crm",
        columns={"external_id": "Id", "created_at": "Created", "amount": "Amount"},
    )
    report = import_file(sqlite_engine, path, "deals", mapping, as_of=AS_OF)
    assert (report.imported, report.rejected) == (2, 2)
    rejected = journal.read_rejected_rows(sqlite_engine).sort_values("row_number")
    assert rejected["row_number"].tolist() == [3, 4]
    assert rejected["reasons"].tolist() == [
        "the line has 4 fields, the header 3",
        "the line has 5 fields, the header 3",
    ]


def test_an_unclosed_quote_imports_the_rows_before_it_and_rejects_the_rest(sqlite_engine, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b'Id,Created\r\nL1,2024-01-05\r\nL2,"2024-01-06\r\nL3,2024-01-07\r\n')
    mapping = Mapping(table="leads", source="crm", columns={"external_id": "Id", "created_at": "Created"})
    report = import_file(sqlite_engine, path, "leads", mapping, as_of=AS_OF)
    assert (report.imported, report.rejected) == (1, 1)
    assert report.first_reasons[0].startswith("line 3: a quoted field opened on this line is never closed")


# ----------------------------------------------------------------------------- deals: stages, amounts, dates


def test_deal_stages_set_won_and_closed_and_implausible_values_are_rejected(sqlite_engine, tmp_path):
    rows = [
        ["Id", "Created", "Closed", "Amount", "Stage"],
        ["D1", "2024-01-05", "2024-03-01", "$1,200.50", "Won"],
        ["D2", "2024-01-06", "2024-03-02", "0", "lost"],
        ["D3", "2024-01-07", "2026-01-31", "", "Demo"],  # open: an expected close date may lie ahead
        ["D4", "2024-01-08", "2024-12-01", "10", "Won"],  # closed in the future: an error
        ["D5", "2024-01-09", "", "-50", "Lost"],  # negative amount
        ["D6", "2024-01-10", "2099-01-01", "", "Demo"],  # too far ahead even as an expectation
    ]
    report = import_file(sqlite_engine, write(tmp_path, rows, name="d.csv"), "deals", DEALS, as_of=AS_OF)
    assert (report.imported, report.rejected) == (3, 3)
    deals = queries.read_deals(sqlite_engine).set_index("external_id")
    assert deals["is_won"].tolist() == [True, False, False]
    assert deals["is_closed"].tolist() == [True, True, False]
    assert deals["amount"].tolist()[:2] == [1200.5, 0.0] and pd.isna(deals.loc["D3", "amount"])
    assert set(deals["currency"]) == {"EUR"}
    reasons = journal.read_rejected_rows(sqlite_engine).sort_values("row_number")["reasons"].tolist()
    assert reasons == [
        "Closed: '2024-12-01' is in the future (after 2024-06-30)",
        "Amount: '-50' is negative",
        "Closed: '2099-01-01' is in the future (after 2024-06-30)",
    ]


def test_explicit_won_columns_win_over_the_stage(sqlite_engine, tmp_path):
    mapping = DEALS.model_copy(update={"columns": {**DEALS.columns, "is_won": "Won?"}})
    rows = [
        ["Id", "Created", "Closed", "Amount", "Stage", "Won?"],
        ["D1", "2024-01-05", "", "", "Lost", "yes"],
        ["D2", "2024-01-05", "", "", "Won", ""],
    ]
    import_file(sqlite_engine, write(tmp_path, rows), "deals", mapping, as_of=AS_OF)
    assert queries.read_deals(sqlite_engine)["is_won"].tolist() == [True, True]


def test_a_partial_reimport_leaves_unmapped_columns_as_they_were(sqlite_engine, tmp_path):
    import_file(sqlite_engine, write(tmp_path, GOOD_AND_BAD[:3]), "leads", LEADS, as_of=AS_OF)
    narrow = Mapping(
        table="leads",
        source="crm",
        columns={"external_id": "Id", "created_at": "Created"},
        timezone="Europe/Berlin",
    )
    import_file(
        sqlite_engine,
        write(tmp_path, [["Id", "Created"], ["L1", "31/01/2024 10:30"]], name="n.csv"),
        "leads",
        narrow,
        as_of=AS_OF,
    )
    l1 = queries.read_leads(sqlite_engine).set_index("external_id").loc["L1"]
    assert l1["created_at"] == pd.Timestamp("2024-01-31 09:30", tz="UTC")
    assert l1["channel"] == "Organic" and l1["touches"] == 3


# ----------------------------------------------------------------------------- owners and activities


def test_owner_names_resolve_to_stored_owners_by_name_or_email_and_unknown_names_become_owners(
    sqlite_engine, tmp_path
):
    upserts.upsert_owners(
        sqlite_engine,
        pd.DataFrame({"source": ["crm"], "external_id": ["u-1"], "name": ["Ann Lee"], "email": ["bob@x.io"]}),
    )
    rows = [
        HEADER,
        ["L1", "01/02/2024", "", " ann lee ", "", "", ""],
        ["L2", "01/02/2024", "", "BOB@x.io", "", "", ""],
        ["L3", "01/02/2024", "", "Cy Doe", "", "", ""],
        ["L4", "01/02/2024", "", "Cy Doe", "", "", ""],
    ]
    report = import_file(sqlite_engine, write(tmp_path, rows), "leads", LEADS, as_of=AS_OF)
    assert report.owners_created == 1
    leads = queries.read_leads(sqlite_engine).set_index("external_id")
    assert leads["owner_external_id"].tolist() == ["u-1", "u-1", "Cy Doe", "Cy Doe"]
    assert leads["owner_id"].notna().all()
    owners = queries.read_owners(sqlite_engine)
    assert owners.set_index("external_id").loc["Cy Doe", "name"] == "Cy Doe"


def test_activities_accept_kind_synonyms_and_reject_unknown_kinds(sqlite_engine, tmp_path):
    mapping = Mapping(
        table="activities",
        source="crm",
        columns={"external_id": "Id", "occurred_at": "When", "kind": "Type", "lead_external_id": "Lead"},
    )
    rows = [
        ["Id", "When", "Type", "Lead"],
        ["A1", "2024-02-01 10:00", "Phone Call", "L1"],
        ["A2", "2024-02-01 11:00", "E-mail", "L1"],
        ["A3", "2024-02-01 12:00", "Fax", "L1"],
        ["A4", "", "call", "L1"],
    ]
    report = import_file(sqlite_engine, write(tmp_path, rows), "activities", mapping, as_of=AS_OF)
    assert report.imported == 2
    assert queries.read_activities(sqlite_engine)["kind"].tolist() == ["call", "email"]
    reasons = journal.read_rejected_rows(sqlite_engine).sort_values("row_number")["reasons"].tolist()
    assert reasons[0].startswith("Type: 'Fax' is not a kind (call, email, meeting, task, note)")
    assert reasons[1] == "When: occurred_at is blank, and activities need it"


# ----------------------------------------------------------------------------- other inputs


def test_an_excel_export_imports_like_a_csv(sqlite_engine, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Id", "Created", "Closed", "Amount", "Stage"])
    sheet.append(["D1", dt.datetime(2024, 1, 5, 9, 30), dt.datetime(2024, 3, 1), 1200.5, "Won"])
    sheet.append(["D2", dt.datetime(2024, 1, 6), None, -3, "Demo"])
    book.save(tmp_path / "deals.xlsx")
    report = import_file(sqlite_engine, tmp_path / "deals.xlsx", "deals", DEALS, as_of=AS_OF)
    assert (report.imported, report.rejected) == (1, 1)
    assert journal.read_rejected_rows(sqlite_engine)["row_number"].tolist() == [3]


def test_without_a_mapping_the_preset_is_found_and_rows_are_keyed_on_its_source(sqlite_engine, tmp_path):
    rows = [
        ["Record ID", "Create Date", "Contact owner", "Lead Status", "Lifecycle Stage"],
        ["101", "2024-05-01 10:00", "Ann Lee", "Unqualified", "lead"],
    ]
    report = import_file(sqlite_engine, write(tmp_path, rows), "leads", as_of=AS_OF)
    assert (report.preset, report.source, report.imported) == ("hubspot-contacts", "hubspot-export", 1)
    lead = queries.read_leads(sqlite_engine).iloc[0]
    assert (lead["disposition"], lead["lead_status"], lead["source"]) == (
        "rejected",
        "Unqualified",
        "hubspot-export",
    )
    assert any("read as UTC" in note for note in report.notes)


def test_the_source_argument_overrides_the_mappings(sqlite_engine, tmp_path):
    report = import_file(
        sqlite_engine, write(tmp_path, GOOD_AND_BAD[:2]), "leads", LEADS, source="other", as_of=AS_OF
    )
    assert report.source == "other"
    assert queries.read_leads(sqlite_engine)["source"].tolist() == ["other"]
    assert syncs.read_sync_runs(sqlite_engine)["connector"].tolist() == ["file:other"]


def test_decimal_commas_are_detected_and_noted(sqlite_engine, tmp_path):
    rows = [
        ["Id", "Created", "Closed", "Amount", "Stage"],
        ["D1", "05.01.2024", "", "1.234,50", "Won"],
        ["D2", "06.01.2024", "", "99,9", "Won"],
    ]
    report = import_file(sqlite_engine, write(tmp_path, rows, delimiter=";"), "deals", DEALS, as_of=AS_OF)
    assert queries.read_deals(sqlite_engine)["amount"].tolist() == [1234.5, 99.9]
    assert any("decimal comma" in note for note in report.notes)
    assert any("day first (DD.MM.YYYY)" in note for note in report.notes)


def test_progress_is_reported_per_chunk_and_ends_at_the_row_count(sqlite_engine, tmp_path):
    calls = []
    import_file(
        sqlite_engine,
        write(tmp_path, GOOD_AND_BAD),
        "leads",
        LEADS,
        as_of=AS_OF,
        chunksize=4,
        progress=lambda stage, done, total, detail="": calls.append((stage, done, total, detail)),
    )
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert calls[-1][:3] == ("importing", 9, 9) and calls[-1][3] == "leads.csv"
    assert len(calls) >= 3


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", str(tmp_path / "maps"))
    return tmp_path


def test_cli_imports_prints_a_summary_and_saves_the_mapping(cli_database, capsys):
    path = write(cli_database, [["Record ID", "Create Date"], ["1", "2024-05-01"], ["2", "2150-01-01"]])
    code = cli.main(["import", "leads", str(path), "--source", "upload", "--save-mapping", "My CRM"])
    out = capsys.readouterr().out
    assert code == 0
    assert "new                    1" in out and "rejected               1" in out
    assert "line 3: Create Date: '2150-01-01' is in the future" in out
    assert (cli_database / "maps" / "my-crm.yaml").is_file()
    assert cli.main(["import", "leads", str(path), "--mapping", "My CRM", "--source", "upload"]) == 0
    assert "updated                1" in capsys.readouterr().out


def test_cli_exits_1_when_no_row_can_be_imported(cli_database, capsys):
    path = write(cli_database, [["Record ID", "Create Date"], ["1", "soon"]])
    assert cli.main(["import", "leads", str(path)]) == 1
    assert "no row could be imported" in capsys.readouterr().err


def test_cli_exits_2_with_the_reason_when_the_file_cannot_be_used(cli_database, capsys):
    path = write(cli_database, [["Name"], ["Ann"]], name="people.csv")
    assert cli.main(["import", "deals", str(path), "--mapping", "hubspot-deals"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: people.csv: the file lacks what the mapping 'hubspot-deals' needs")
    assert cli.main(["import", "deals", str(path), "--mapping", "no-such-mapping"]) == 2
    assert "no mapping 'no-such-mapping'" in capsys.readouterr().err


def test_cli_dry_run_writes_nothing(cli_database, capsys):
    path = write(cli_database, [["Record ID", "Create Date"], ["1", "2024-05-01"]])
    assert cli.main(["import", "leads", str(path), "--dry-run"]) == 0
    assert "Checked (dry run, nothing written)" in capsys.readouterr().out
    from data.engine import make_engine

    assert queries.table_counts(make_engine(settings.database_url()))["leads"] == 0


def test_text_longer_than_its_database_column_is_rejected_not_crashed_on(engine, tmp_path):
    mapping = Mapping(table="owners", source="crm", columns={"external_id": "Id", "name": "Name"})
    path = write(tmp_path, [["Id", "Name"], ["u1", "Ann"], ["u2", "x" * 300]], name="owners.csv")
    report = import_file(engine, path, "owners", mapping, as_of=AS_OF)
    assert (report.imported, report.rejected) == (1, 1)
    assert journal.read_rejected_rows(engine)["reasons"].iloc[0].endswith("is longer than 255 characters")


# ----------------------------------------------------------------------------- hostile values (issue 8)


@pytest.mark.parametrize(
    ("touches", "reason"),
    [
        ("2147483647", None),  # the largest a PostgreSQL INTEGER holds: stored
        ("2147483648", "Touches: '2147483648' is too large (at most 2,147,483,647)"),
        ("99999999999", "Touches: '99999999999' is too large (at most 2,147,483,647)"),
        ("1e19", "Touches: '1e19' is too large (at most 2,147,483,647)"),  # past 64 bits: was a TypeError
        ("-1e19", "Touches: '-1e19' is negative"),
    ],
)
def test_a_whole_number_too_large_for_its_column_rejects_the_row(engine, tmp_path, touches, reason):
    rows = [HEADER, ["L1", "2024-02-01", "", "", "", touches, ""], ["L2", "2024-02-01", "", "", "", "1", ""]]
    report = import_file(engine, write(tmp_path, rows), "leads", LEADS, as_of=AS_OF)
    rejected = journal.read_rejected_rows(engine, source="crm")
    if reason is None:
        assert (report.imported, report.rejected) == (2, 0)
        leads = queries.read_leads(engine).set_index("external_id")
        assert leads.loc["L1", "touches"] == 2**31 - 1
    else:
        assert (report.imported, report.rejected) == (1, 1)
        assert rejected["reasons"].tolist() == [reason] and rejected["external_id"].tolist() == ["L1"]


@pytest.mark.parametrize("amount", ["1e309", "-1e309", "inf", "-Infinity"])
def test_an_amount_that_is_not_finite_rejects_the_row(engine, tmp_path, amount):
    rows = [["Id", "Created", "Closed", "Amount", "Stage"], ["D1", "2024-01-05", "", amount, "Demo"],
            ["D2", "2024-01-05", "", "1e308", "Demo"]]  # fmt: skip
    report = import_file(engine, write(tmp_path, rows, name="d.csv"), "deals", DEALS, as_of=AS_OF)
    assert (report.imported, report.rejected) == (1, 1)
    assert queries.read_deals(engine)["amount"].tolist() == [1e308]  # the largest double is fine
    assert journal.read_rejected_rows(engine)["reasons"].tolist() == [f"Amount: {amount!r} is not a number"]


@pytest.mark.parametrize("cell", ["Id", "Channel", "Owner"])
def test_a_nul_character_in_a_utf16_file_rejects_the_row_and_the_reject_is_stored(engine, tmp_path, cell):
    """UTF-16 files hold NUL bytes, so a NUL character gets past the reader; PostgreSQL text cannot hold one."""
    row = dict(zip(HEADER, ["L1", "2024-02-01", "", "Ann Lee", "Organic", "1", ""], strict=True))
    row[cell] = row[cell][:1] + "\x00" + row[cell][1:]
    rows = [HEADER, list(row.values()), ["L2", "2024-02-01", "", "Bob Yu", "Paid", "1", ""]]
    report = import_file(engine, write(tmp_path, rows, encoding="utf-16"), "leads", LEADS, as_of=AS_OF)
    assert (report.imported, report.rejected) == (1, 1)
    assert queries.read_leads(engine)["external_id"].tolist() == ["L2"]
    assert set(queries.read_owners(engine, source="crm")["name"]) == {"Bob Yu"}  # no owner made from it
    rejected = journal.read_rejected_rows(engine, source="crm").iloc[0]
    assert rejected["reasons"] == f"{cell}: contains a NUL character (\\x00), which cannot be stored"
    assert rejected["external_id"] == (
        "L\ufffd1" if cell == "Id" else "L1"
    )  # shown; the raw keeps it exactly
    assert "\\u0000" in rejected["raw"]


def test_a_run_left_running_is_marked_interrupted_when_the_next_run_of_its_source_starts(
    engine, tmp_path, dead_pid, other_process
):
    dead = syncs.start_run(engine, "file:crm", "import")
    pretend_run(engine, dead, pid=dead_pid)  # a process killed before it could finish
    other = syncs.start_run(engine, "file:elsewhere", "import")
    pretend_run(engine, other, pid=other_process)
    report = import_file(engine, write(tmp_path, GOOD_AND_BAD), "leads", LEADS, as_of=AS_OF)
    runs = syncs.read_sync_runs(engine).set_index("id")
    assert runs.loc[dead, "status"] == "interrupted" and pd.isna(runs.loc[dead, "finished_at"])
    assert runs.loc[dead, "error"].endswith(f"noticed when run {report.run_id} of the same source started")
    assert runs.loc[other, "status"] == "running"  # another source's run is not this import's business
    assert runs.loc[report.run_id, "status"] == "ok"


def test_an_import_while_another_import_of_the_same_source_runs_is_refused(engine, tmp_path, other_process):
    going = syncs.start_run(engine, "file:crm", "import")
    pretend_run(engine, going, pid=other_process)  # another server or a cron job, mid-import
    with pytest.raises(syncs.RunBusyError, match=f"run {going}"):
        import_file(engine, write(tmp_path, GOOD_AND_BAD), "leads", LEADS, as_of=AS_OF)
    assert queries.table_counts(engine)["leads"] == 0  # nothing written
    assert syncs.read_sync_runs(engine)["id"].tolist() == [going]  # nothing recorded


def test_cli_exits_75_when_the_source_is_being_imported_elsewhere(cli_database, capsys, other_process):
    engine = make_engine(settings.database_url())
    upgrade(engine)
    going = syncs.start_run(engine, "file:upload", "import")
    pretend_run(engine, going, pid=other_process)
    path = write(cli_database, [["Record ID", "Create Date"], ["1", "2024-05-01"]])
    assert cli.main(["import", "leads", str(path), "--source", "upload"]) == cli.BUSY_EXIT == 75
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        error.startswith("error: Another import into source 'upload' is already going: run")
        and "Traceback" not in error
    )
    assert queries.table_counts(engine)["leads"] == 0


# ----------------------------------------------------------------------------- handovers

HANDOVER_ROWS = [
    ["Id", "Created", "MQL", "Owner", "Channel", "Touches", "Status"],
    ["R1", "13/01/2024", "13/01/2024 10:00", "Ann Lee", "Organic", "2", "Junk"],  # first handover, rejected
    ["R2", "13/01/2024", "14/01/2024 10:00", "Ann Lee", "Paid", "1", "Working"],
    ["R1", "13/01/2024", "15/03/2024 10:00", "Ann Lee", "Organic", "0", "New"],  # re-qualified in March
    ["R2", "13/01/2024", "14/01/2024 15:00", "Ann Lee", "Paid", "1", "Working"],  # same day: a correction
]


def test_repeated_rows_with_other_mql_days_are_handovers_each_counted_in_its_period(engine, tmp_path):
    path = write(tmp_path, HANDOVER_ROWS)
    report = import_file(engine, path, "leads", LEADS, as_of=AS_OF)
    assert any("1 leads have rows with different MQL dates: 2 handovers were kept" in n for n in report.notes)
    stored = queries.read_handovers(engine, source="crm")
    assert stored["lead_external_id"].tolist() == ["R1", "R1"] and stored["seq"].tolist() == [1, 2]
    leads = queries.read_leads(engine, source="crm").sort_values("mql_at")
    assert leads["external_id"].tolist() == ["R1", "R2", "R1"]
    assert leads["mql_at"].dt.month.tolist() == [1, 1, 3]  # each handover in its own month
    assert leads["disposition"].tolist() == ["rejected", "accepted", "open"]  # each row's own decision
    assert leads.loc[leads["external_id"] == "R2", "mql_at"].item() == pd.Timestamp("2024-01-14 14:00Z")

    again = import_file(engine, path, "leads", LEADS, as_of=AS_OF)  # re-running duplicates nothing
    assert len(queries.read_handovers(engine, source="crm")) == 2 and again.imported == 0
    single = write(tmp_path, HANDOVER_ROWS[:1] + HANDOVER_ROWS[3:4], name="later.csv")
    import_file(engine, single, "leads", LEADS, as_of=AS_OF)  # a later file with one MQL date for R1
    assert queries.read_handovers(engine, source="crm").empty
    assert queries.read_leads(engine, source="crm")["external_id"].tolist() == ["R1", "R2"]
