"""The Data page's pure helpers (tables, sentences, mapping edits) and its background jobs, without a page."""

from __future__ import annotations

import doctest
import json
import threading

import pandas as pd
import pytest

from analytics.charts import GREEN, RED
from connectors.files import ImportReport, Mapping, MappingError
from pages.components import data_view, import_form, jobs
from pages.components.data_view import (
    audit_table,
    describe_counts,
    describe_detail,
    rejected_table,
    runs_table,
    style_statuses,
)
from pages.components.import_form import edited_mapping, mapped_preview, marked_preview, report_lines

UTC = "UTC"


@pytest.mark.parametrize("module", [data_view, import_form, jobs], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    # pytest does not collect doctests under pages/ (it would import the page scripts), so run them here.
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- runs, rejected rows, audit


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [3, 2, 1],
            "connector": ["hubspot", "file:acme", "demo"],
            "kind": ["full", "import", "demo"],
            "started_at": pd.to_datetime(
                ["2026-11-27 10:00:00", "2026-11-26 09:00:00", "2026-11-01 08:00:00"], utc=True
            ),
            "finished_at": pd.to_datetime(["2026-11-27 10:02:05", "2026-11-26 09:00:03", pd.NaT], utc=True),
            "status": ["failed", "ok", "running"],
            "counts": [
                None,
                {"read": 10, "imported": 8, "updated": 0, "rejected": 2, "owners_created": 1},
                None,
            ],
            "error": ["HubSpot rejected the access token (401 Unauthorized)", None, None],
        }
    )


def test_runs_table_reads_like_a_log():
    table = runs_table(runs_frame())
    assert table.columns.tolist() == ["Started (UTC)", "Source", "Kind", "Status", "Took", "Counts", "Error"]
    assert table["Started (UTC)"].tolist() == [
        "2026-11-27 10:00:00",
        "2026-11-26 09:00:00",
        "2026-11-01 08:00:00",
    ]
    assert table["Took"].tolist() == ["2 min 5 s", "3.0 s", ""]
    assert table.loc[1, "Counts"] == "10 rows read: 8 new, 0 updated, 2 rejected, 1 owners created"
    assert table.loc[0, "Error"].startswith("HubSpot rejected") and table.loc[1, "Error"] == ""


def test_statuses_are_coloured_with_the_shared_vocabulary():
    styles = style_statuses(runs_table(runs_frame()))._compute().ctx
    status_column = 3
    assert ("color", RED) in styles[(0, status_column)] and ("color", GREEN) in styles[(1, status_column)]
    assert (0, 0) not in styles  # only the status is coloured


def test_empty_frames_give_empty_tables_with_headers():
    empty_runs = runs_frame().iloc[0:0]
    assert runs_table(empty_runs).empty and "Status" in runs_table(empty_runs).columns
    assert rejected_table(pd.DataFrame()).columns.tolist()[:5] == [
        "Source",
        "Object",
        "Line",
        "Column",
        "Reasons",
    ]
    assert audit_table(pd.DataFrame()).columns.tolist() == ["At (UTC)", "Who", "Action", "Target", "Detail"]


def test_hubspot_counts_are_summed_into_activities():
    counts = {
        "owners": 12,
        "objects": {
            "contacts": {"mode": "incremental", "rows": 1500, "rejected": 2},
            "deals": {"mode": "full", "rows": 80, "rejected": 0},
            "calls": {"rows": 700, "rejected": 1},
            "emails": {"rows": 300},
            "meetings": {"rows": 0},
            "tasks": {"rows": 20},
        },
        "touches_updated": 5,
        "requests": 1234,
    }
    assert describe_counts(counts) == (
        "12 owners, 1,500 contacts (incremental), 80 deals (full), 1,020 activities, 3 rejected, 1,234 requests"
    )


def test_rejected_table_keeps_reasons_lines_and_raw_values():
    rejected = pd.DataFrame(
        {
            "id": [2, 1],
            "source": ["file", "hubspot"],
            "object": ["leads", "contacts"],
            "external_id": ["=cmd", None],
            "row_number": [5, None],
            "column_name": ["Created", None],
            "reasons": ["Created: 'soon' is not a date", "createdate is missing"],
            "raw": [json.dumps({"Created": "soon"}), None],
            "run_id": [7, 6],
            "seen_at": pd.to_datetime(["2026-11-27 12:00:00", "2026-11-26 12:00:00"], utc=True),
        }
    )
    table = rejected_table(rejected)
    assert table["Line"].tolist()[0] == 5 and pd.isna(table["Line"].tolist()[1])
    assert table["Reasons"].tolist() == ["Created: 'soon' is not a date", "createdate is missing"]
    assert (
        table.loc[0, "Raw"] == '{"Created": "soon"}'
        and table.loc[0, "Seen at (UTC)"] == "2026-11-27 12:00:00"
    )


def test_audit_detail_is_readable():
    audit = pd.DataFrame(
        {
            "at": pd.to_datetime(["2026-11-27 09:30:00"], utc=True),
            "actor": ["ops@example.com"],
            "action": ["sync.hubspot"],
            "target": [None],
            "detail": [{"status": "failed", "full": True, "error": "HubSpot rejected the access token"}],
        }
    )
    row = audit_table(audit).iloc[0]
    assert row["Target"] == ""
    assert row["Detail"] == "status: failed, full: True, error: HubSpot rejected the access token"
    assert describe_detail("free text") == "free text"


# ----------------------------------------------------------------------------- mapping edits, preview, report


def test_edited_mapping_keeps_the_base_rules_of_fields_still_read():
    base = Mapping(
        table="leads",
        source="acme",
        owner_reference="name",
        timezone="Europe/Berlin",
        columns={"external_id": "ID", "created_at": "Created", "channel": "Source"},
        values={"channel": {"Web": "Inbound"}},
        constants={"segment": "SMB"},
    )
    edited = edited_mapping(base, {"external_id": "Lead", "created_at": "Created", "channel": "Source"},
                            source="acme-2", owner_reference="name", timezone="")  # fmt: skip
    assert edited.columns == {"external_id": "Lead", "created_at": "Created", "channel": "Source"}
    assert edited.values == {"channel": {"Web": "Inbound"}} and edited.constants == {"segment": "SMB"}
    assert (edited.source, edited.owner_reference, edited.timezone) == ("acme-2", "name", None)
    without_channel = edited_mapping(base, {"external_id": "ID", "segment": "Seg"})
    assert (
        without_channel.values == {} and without_channel.constants == {}
    )  # the column replaces the constant
    assert without_channel.source is None  # blank: the import's default source


def test_edited_mapping_refuses_what_the_connector_refuses():
    base = Mapping(table="leads", columns={"external_id": "ID"})
    with pytest.raises(MappingError, match="timezone"):
        edited_mapping(base, {"external_id": "ID"}, timezone="Mars/Olympus")
    with pytest.raises(MappingError, match="source"):
        edited_mapping(base, {"external_id": "ID"}, source="has spaces")


def test_mapped_preview_shows_only_mapped_columns_in_mapping_order():
    raw = pd.DataFrame({"A": [str(i) for i in range(15)], "B": ["x"] * 15, "C": ["y"] * 15})
    preview = mapped_preview(raw, {"created_at": "C", "external_id": "A"})
    assert preview.columns.tolist() == ["created_at ← C", "external_id ← A"]
    assert len(preview) == import_form.PREVIEW_ROWS


def test_report_lines_of_an_import_say_where_the_rejects_went():
    report = ImportReport(file="d.csv", table="deals", source="acme", dry_run=False, read=5, imported=2,
                          updated=1, rejected=1, duplicates=1, owners_created=2, blank_lines=3,
                          format="CSV, utf-8, comma-separated", mapping_name="Acme", seconds=0.25)  # fmt: skip
    lines = report_lines(report)
    assert lines[0] == (
        "**Imported d.csv** into deals (CSV, utf-8, comma-separated; mapping `Acme`; source `acme`): done in 0.2 s."
    )
    assert "- **1** rejected — kept with their reasons under *Rejected rows*" in lines
    assert "- **1** earlier rows with a repeated id (the last row wins)" in lines
    assert "- **2** owners created from owner names" in lines and "- 3 blank lines skipped" in lines


# ----------------------------------------------------------------------------- background jobs


def test_a_job_reports_progress_from_any_thread_and_keeps_its_result():
    release = threading.Event()

    def work(job: jobs.Job) -> str:
        helper = threading.Thread(target=job.progress, args=("fetching", 2, 6, "contacts"))
        helper.start()
        helper.join()
        release.wait(5)
        return "done"

    job = jobs.start("test-progress", "Test job", work, started_by="ops@example.com")
    try:
        assert job.running and not job.wait(0.05)
        for _ in range(500):  # the helper thread has been joined; the snapshot is there at once
            if job.snapshot().stage == "fetching":
                break
            threading.Event().wait(0.01)
        assert job.snapshot() == jobs.Progress("fetching", 2, 6, "contacts")
        assert job.snapshot().fraction() == pytest.approx(1 / 3)
        with pytest.raises(jobs.JobBusyError, match="Test job is already running .*by ops@example.com"):
            jobs.start("test-progress", "Test job", work)
    finally:
        release.set()
    assert job.wait(5) and job.result == "done" and job.error is None
    assert jobs.current("test-progress") is job
    again = jobs.start("test-progress", "Test job", lambda j: "again")  # a finished job frees its key
    assert again.wait(5) and again.result == "again"


def test_a_failing_job_keeps_its_error_for_the_page():
    def work(job):
        raise MappingError("bad mapping", file="m.yaml")

    job = jobs.start("test-error", "Failing job", work)
    assert job.wait(5)
    assert isinstance(job.error, MappingError) and str(job.error) == "m.yaml: bad mapping"
    assert jobs.current("missing-key") is None


def test_a_joined_name_is_previewed_joined_and_marked_when_refused():
    raw = pd.DataFrame({"Id": ["1", "2"], "First": ["Ada", "Bo"], "Last": ["Lovelace", ""]})
    refused = pd.DataFrame({"line": [3], "reasons": ["First + Last: 'Bo' is longer than 1 characters"],
                            "headers": [["First + Last"]]})  # fmt: skip
    table, cells = marked_preview(
        raw, [2, 3], {"external_id": "Id"}, refused, joins={"name": ["First", "Last"]}
    )
    assert table["name ← First + Last"].tolist() == ["Ada Lovelace", "Bo"]
    assert cells == [(1, "name ← First + Last")]
    edited = edited_mapping(Mapping(table="leads", columns={"external_id": "Id", "name": "First"}),
                            {"external_id": "Id"}, join={"name": ["First", "Last"]})  # fmt: skip
    assert (edited.columns, edited.join) == ({"external_id": "Id"}, {"name": ["First", "Last"]})
