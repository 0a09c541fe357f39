"""``cli.py agreement``: validate, import, export, history and diff; bad input is one line and exit 1."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import cli
import settings
from agreements import store
from analytics.agreement import parse_agreement
from data.engine import make_engine, upgrade

TEXT = (settings.ROOT / "agreements" / "sales-marketing.yaml").read_text()
NAME = "Sales and Marketing SLA"


@pytest.fixture
def db(tmp_path, monkeypatch):
    """An empty, migrated database the CLI uses (ACCORD_DATABASE_URL), and its engine."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def files(tmp_path):
    """Write agreement files into tmp_path: files(name=text) -> path."""

    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def next_month_start() -> dt.date:
    today = pd.Timestamp.now(tz="Europe/Berlin")
    return (today.normalize().replace(day=1) + pd.DateOffset(months=1)).date()


def test_validate_a_good_file(capsys, files):
    code, out, err = run(capsys, "agreement", "validate", files("a.yaml", TEXT))
    assert code == 0 and err == ""
    assert out.strip() == (
        f"OK: '{NAME}' is valid: 6 commitments (marketing: 3, sales: 3), judged per month in Europe/Berlin."
    )


BAD = {
    "does not parse": (TEXT.replace("period: month", "period: [month"), "YAML syntax error at line 6, column 9"),
    "missing field": (TEXT.replace("parties: [marketing, sales]\n", ""), "parties: required field is missing"),
    "unknown metric": (TEXT.replace("metric: mql_count", "metric: mqls"),
                       "line 36: commitments[0].metric: unknown metric 'mqls'; known metrics: mql_count,"),
    "target of the wrong type": (TEXT.replace("target: 0.90", 'target: "90%"'),
                                 "line 54: commitments[3].target: must be a number, got '90%'"),
    "holiday not a date": (TEXT.replace("2026-12-25", "2026-12-32"),
                           "line 14: calendar.holidays[16]: '2026-12-32' is not a date; use YYYY-MM-DD"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_validate_and_import_refuse_bad_files_with_one_line(capsys, db, files, case):
    text, expected = BAD[case]
    path = files("bad.yaml", text)
    for argv in (["validate", path], ["import", path, "--reason", "try"]):
        code, out, err = run(capsys, "agreement", *argv)
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
        assert expected in err
    assert store.names(db) == []


def test_a_missing_file(capsys, db, tmp_path):
    code, _, err = run(capsys, "agreement", "validate", str(tmp_path / "nope.yaml"))
    assert code == 1 and err == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_import_saves_versions_and_history_and_diff_show_them(capsys, db, files):
    first = files("v1.yaml", TEXT)
    code, out, err = run(capsys, "agreement", "import", first, "--reason", "the default", "--effective",
                         "2026-01-01", "--author", "ana@example.com")  # fmt: skip
    assert code == 0, err
    assert out.strip() == (
        f"Saved '{NAME}' version 1, in force from 2026-01-01 00:00 (Europe/Berlin), by ana@example.com."
    )
    second = files("v2.yaml", TEXT.replace("target: 0.90", "target: 0.85"))
    code, out, err = run(
        capsys, "agreement", "import", second, "--reason", "two reps on leave", "--author", "ben"
    )
    assert code == 0, err
    start = next_month_start()
    assert f"version 2, in force from {start:%Y-%m-%d} 00:00" in out  # default: the start of the next period
    assert [v.version for v in store.versions(db, NAME)] == [1, 2]

    code, out, _ = run(capsys, "agreement", "history")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{NAME}: 2 versions"
    assert lines[1].startswith("v1  in force from 2026-01-01 00:00") and lines[1].endswith(
        "by ana@example.com: the default"
    )
    assert lines[2].startswith(f"v2  in force from {start:%Y-%m-%d}") and lines[2].endswith(
        "by ben: two reps on leave"
    )
    assert lines[3] == "    commitments[speed-to-lead].target: 0.90 -> 0.85"

    code, out, _ = run(capsys, "agreement", "diff", "1", "2")
    assert code == 0
    assert out.splitlines()[:2] == [
        f"{NAME}: version 1 -> 2: 1 change",
        "  commitments[speed-to-lead].target: 0.90 -> 0.85",
    ]
    assert "--- version 1\n+++ version 2\n" in out and "-  target: 0.9\n+  target: 0.85\n" in out


def test_export_prints_yaml_that_reads_back_to_the_same_document(capsys, db, files):
    run(
        capsys,
        "agreement",
        "import",
        files("v1.yaml", TEXT),
        "--reason",
        "first",
        "--effective",
        "2026-01-01",
    )
    run(
        capsys,
        "agreement",
        "import",
        files("v2.yaml", TEXT.replace("target: 750", "target: 800")),
        "--reason",
        "more",
    )
    code, out, _ = run(capsys, "agreement", "export")
    assert code == 0 and out.startswith(f"# {NAME}, version 2, in force from")
    assert parse_agreement(out) == store.version(db, NAME, 2).document
    code, out, _ = run(capsys, "agreement", "export", "--name", NAME, "--version", "1")
    assert parse_agreement(out) == parse_agreement(TEXT)
    code, _, err = run(capsys, "agreement", "export", "--version", "5")
    assert code == 1 and err == f"error: '{NAME}' has no version 5; versions: 1 to 2\n"


def test_import_refuses_what_would_rewrite_history(capsys, db, files):
    path = files("a.yaml", TEXT)
    assert run(capsys, "agreement", "import", path, "--reason", "first", "--effective", "2030-01-01")[0] == 0
    code, out, err = run(
        capsys, "agreement", "import", path, "--reason", "earlier", "--effective", "2029-12-01"
    )
    assert code == 1 and out == ""
    assert err == (
        f"error: {path}: effective_from: 2029-12-01 is before version 1's effective date 2030-01-01; pick "
        "2030-01-01 or later (a new version never takes effect before an existing one)\n"
    )
    assert [v.version for v in store.versions(db, NAME)] == [1]


@pytest.mark.parametrize(("extra", "message"), [
    ([], "--reason is required: say why the agreement changes"),
    (["--reason", "  "], "--reason is required"),
    (["--reason", "x", "--effective", "2026-02-30"], "--effective '2026-02-30' is not a date; use YYYY-MM-DD"),
])  # fmt: skip
def test_import_needs_a_reason_and_a_real_date(capsys, db, files, extra, message):
    path = files("a.yaml", TEXT)
    code, _, err = run(capsys, "agreement", "import", path, *extra)
    assert code == 1 and message in err and err.count("\n") == 1
    assert store.names(db) == []


def test_with_several_agreements_a_name_is_needed(capsys, db, files):
    run(capsys, "agreement", "import", files("a.yaml", TEXT), "--reason", "a")
    run(capsys, "agreement", "import", files("b.yaml", TEXT.replace(NAME, "SDR and AE SLA")), "--reason", "b")
    code, _, err = run(capsys, "agreement", "history")
    assert code == 1
    assert err == f"error: 2 agreements are stored (SDR and AE SLA, {NAME}): pick one with --name\n"
    code, out, _ = run(capsys, "agreement", "history", "--name", "SDR and AE SLA")
    assert code == 0 and out.startswith("SDR and AE SLA: 1 version\n")


def test_nothing_stored_yet(capsys, db):
    code, _, err = run(capsys, "agreement", "export")
    assert code == 1 and "no agreement is stored yet" in err


def test_a_new_agreements_first_version_takes_effect_from_the_start_of_the_data(capsys, db, files):
    from data import upserts

    upserts.upsert_leads(
        db,
        pd.DataFrame(
            {
                "source": ["crm", "crm"],
                "external_id": ["a", "b"],
                "created_at": pd.to_datetime(["2025-03-10T10:00Z", "2025-02-03T09:00Z"]),
                "mql_at": pd.to_datetime(["2025-03-14T10:00Z", "2025-02-03T10:00Z"]),
            }
        ),
    )
    code, out, err = run(
        capsys, "agreement", "import", files("v1.yaml", TEXT), "--reason", "ours", "--author", "ana"
    )
    assert code == 0, err
    # the month of the first lead (created 3 February 2025), in Berlin: every past month has a target
    assert "version 1, in force from 2025-02-01 00:00 (Europe/Berlin)" in out
    [version] = store.versions(db, NAME)
    assert version.effective_from == pd.Timestamp("2025-01-31T23:00Z")


def test_a_new_agreement_without_data_takes_effect_from_the_current_period(capsys, db, files):
    code, out, err = run(
        capsys, "agreement", "import", files("v1.yaml", TEXT), "--reason", "ours", "--author", "ana"
    )
    assert code == 0, err
    this_month = pd.Timestamp.now(tz="Europe/Berlin").normalize().replace(day=1)
    assert f"version 1, in force from {this_month:%Y-%m-%d} 00:00" in out


def test_cli_demo_stores_the_default_agreement_so_reports_run(capsys, db, tmp_path):
    code, out, err = run(capsys, "demo", "--leads", "300")
    assert code == 0, err
    assert [v.version for v in store.versions(db, NAME)] == [1]
    pack = tmp_path / "pack.pdf"
    code, out, err = run(capsys, "report", "--out", str(pack), "--no-charts")
    assert code == 0, err  # before, it failed with "open the dashboard once"
    assert pack.read_bytes().startswith(b"%PDF")


def test_cli_demo_remove_deletes_every_demo_row_in_one_audited_step(capsys, db):
    from data import journal, queries

    assert run(capsys, "demo", "--leads", "300")[0] == 0
    code, out, err = run(capsys, "demo", "--remove")
    assert code == 0, err
    assert out.startswith("Demo company removed (") and "300 leads" in out
    assert queries.source_counts(db).empty
    assert (journal.read_audit(db)["action"] == "demo.remove").sum() == 1
    code, out, _ = run(capsys, "demo", "--if-empty")
    assert code == 0 and "not loaded" in out  # removed on purpose: not back on the next start
