"""The Data page under AppTest: file import end to end, rejected rows, HubSpot sync, audit trail, access."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import socket
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test

import settings
from connectors.files import Mapping
from data import journal, queries, syncs, upserts
from data.engine import head_revision, make_engine
from pages.components import auth, data_view, jobs
from pages.components.data_view import OPEN_MODE_NOTICE
from tests.conftest import pretend_run, signed_in_as
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot, seeded_frames

APP = str(settings.ROOT / "app.py")
HUBSPOT_TOKEN = "pat-na1-5e1f0c2a-7d3b-4c88-9a61-0f2e4b6d8c10"
HUBSPOT_LEADS = 120


@pytest.fixture
def demo_copy_url(demo_db_url, tmp_path) -> str:
    """A private copy of the session's demo database (tests that write must not touch the shared one)."""
    source = demo_db_url.removeprefix("sqlite:///")
    target = tmp_path / "accord.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app_env(monkeypatch, demo_copy_url, tmp_path) -> str:
    """The app's settings for one test: the demo copy, its own mappings folder, no HubSpot token, no secrets file."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_copy_url)
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", str(tmp_path / "mappings"))
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "no-secrets.toml")
    return demo_copy_url


def open_data_page() -> AppTest:
    """The app opened straight on the Data page (not the default page first: that one is slower)."""
    at = AppTest.from_file(APP, default_timeout=60)
    # Before the first run a page is found by its file name, which works because the Data page's url_path
    # is its file name ("data"); the title check below fails loudly should that ever change.
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Data"]
    return at


@pytest.fixture(scope="session")
def hubspot_frames():
    return seeded_frames(HUBSPOT_LEADS, today=dt.date(2026, 6, 30))


@pytest.fixture
def fake_hubspot(hubspot_frames) -> Iterator[FakeHubSpot]:
    """A local HubSpot on 127.0.0.1 seeded with a small company, accepting :data:`HUBSPOT_TOKEN`."""
    fake = FakeHubSpot(HUBSPOT_TOKEN, search_per_second=20)
    fake.seed(hubspot_frames)
    fake.start()
    yield fake
    fake.stop()


# A HubSpot contacts export: the built-in mapping "hubspot-contacts" recognises it.
CONTACTS_CSV = (
    b"Record ID,First Name,Create Date,Became a Marketing Qualified Lead Date,Contact owner,Original Source\n"
    b"9001,Ann,2026-10-01 09:00,2026-10-01 10:30,Kim Page,Organic Search\n"
    b"9002,Ben,2026-10-02 11:00,2026-10-02 12:00,Kim Page,Paid Search\n"
    b"9003,Cy,2026-10-03 08:15,,Lou Park,Referrals\n"
    b"9004,Di,2026-10-04 14:00,2026-10-05 09:00,Lou Park,Organic Search\n"
)
# Columns matched by name (no preset); three bad rows: a date that is none, a negative count, no id.
BAD_CSV = (
    b"Lead ID,Created,Touches\n"
    b"ok-1,2026-10-01,2\n"
    b"bad-date,31/31/2026,1\n"
    b'"=HYPERLINK(""http://x"")",2026-10-02,-3\n'
    b",2026-10-03,1\n"
)


def engine_of(url: str):
    return make_engine(url)


def upload(at, name: str, data: bytes):
    at.file_uploader(key="import_file").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def click(at, key: str):
    """Click and let any sync or import it started finish (a long one shows a progress box meanwhile)."""
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    url = os.environ["ACCORD_DATABASE_URL"]
    started = [jobs.current(f"{kind}:{url}") for kind in ("hubspot-sync", "file-import")]
    if any(job is not None and job.running for job in started):
        for job in started:
            assert job is None or job.wait(120), f"{job.label} did not finish"
        at.run()
        assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at) -> str:
    """Every Markdown, caption, alert and code text of the page, joined."""
    kinds = ("markdown", "caption", "success", "info", "warning", "error", "code")
    return "\n".join(str(el.value) for kind in kinds for el in at.get(kind))


def report(at) -> str:
    found = [m.value for m in at.markdown if m.value.startswith(("**Dry run of", "**Imported"))]
    assert len(found) == 1, found
    return found[0]


def dataframe_with(at, column: str) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) == 1, [list(d.value.columns) for d in at.dataframe]
    return frames[0]


class RecordingMediaStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media store, remembered after the run (AppTest drops it) to read downloads back."""

    made: list[RecordingMediaStorage] = []

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        self.made.append(self)


@pytest.fixture
def media(monkeypatch):
    RecordingMediaStorage.made = []
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingMediaStorage)
    return RecordingMediaStorage.made


def downloaded(media: list, button) -> bytes:
    """The bytes behind a download button of the last run."""
    return media[-1].get_file(button.proto.url.rsplit("/", 1)[-1]).content


def rendered_bytes(at) -> bytes:
    """Every element of the page (main area and sidebar) as serialized protobuf."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"".join(out)


# ----------------------------------------------------------------------------- page frame


def test_open_mode_is_announced_at_the_top(app_env):
    at = open_data_page()
    assert OPEN_MODE_NOTICE in [i.value for i in at.info]
    assert "Running Accord for a team" in OPEN_MODE_NOTICE


def test_no_open_mode_notice_when_sign_in_is_configured(app_env):
    at = AppTest.from_file(APP, default_timeout=60)
    signed_in_as(at, "ops@example.com", "admin")
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Data"]  # a signed-in admin on the Data page
    assert OPEN_MODE_NOTICE not in [i.value for i in at.info]


def test_database_is_shown_masked_with_its_schema_revision(app_env):
    at = open_data_page()
    assert f"`{app_env}`" in [m.value for m in at.markdown]
    assert any(f"Schema revision {head_revision()} (up to date)" in c.value for c in at.caption)


def test_without_admin_rights_no_sync_import_or_rejected_rows(app_env, monkeypatch):
    journal.add_rejected_rows(
        engine_of(app_env), [{"source": "file", "object": "leads", "reasons": "secret reason"}]
    )
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    asked = []
    monkeypatch.setattr(auth, "can", lambda action: asked.append(action) or False)
    at = open_data_page()
    assert {"run_sync", "run_import", "see_rejected_rows"} <= set(asked)
    keys = {
        w.key for kind in ("button", "file_uploader", "selectbox", "download_button") for w in at.get(kind)
    }
    assert not keys & {
        "hubspot_sync",
        "hubspot_full_sync",
        "import_file",
        "rejected_source",
        "rejected_download",
    }
    shown = texts(at)
    for sentence in (
        "Only admins can run a sync.",
        "Only admins can import files.",
        "Only admins can see rejected rows.",
    ):
        assert sentence in shown
    assert b"secret reason" not in rendered_bytes(at)
    assert any("`pat-…8c10`" in m.value for m in at.markdown)  # the connection's status is no secret


# ----------------------------------------------------------------------------- file import


def test_upload_dry_run_import_and_reimport(app_env):
    engine = engine_of(app_env)
    before = queries.table_counts(engine)
    at = upload(open_data_page(), "contacts.csv", CONTACTS_CSV)

    assert any("hubspot-contacts" in s.value for s in at.success)  # the preset found is named
    assert at.selectbox(key="import_table").value == "leads"
    assert at.selectbox(key="import_col_external_id").value == "Record ID"
    preview = dataframe_with(at, "external_id ← Record ID")
    assert preview["external_id ← Record ID"].tolist() == ["9001", "9002", "9003", "9004"]

    click(at, "import_dry_run")
    text = report(at)
    assert text.startswith("**Dry run of contacts.csv** into leads")
    assert "**4** rows read" in text and "**4** would be added (new)" in text and "**0** rejected" in text
    assert queries.table_counts(engine) == before  # a dry run writes nothing
    assert not journal.read_audit(engine)["action"].str.startswith("import.").any()

    click(at, "import_run")
    text = report(at)
    assert text.startswith("**Imported contacts.csv** into leads") and "**4** added (new)" in text
    after = queries.table_counts(engine)
    assert after["leads"] == before["leads"] + 4
    assert metrics(at)["Leads"] == f"{after['leads']:,}"  # the counts on the page moved with it
    assert sorted(queries.read_leads(engine, source="hubspot-export")["external_id"]) == [
        "9001",
        "9002",
        "9003",
        "9004",
    ]
    audit = journal.read_audit(engine)
    audit = audit[audit["action"].str.startswith("import.")]
    assert audit[["actor", "action", "target"]].values.tolist() == [
        [auth.current_user().email, "import.leads", "contacts.csv"]
    ]
    assert audit.iloc[0]["detail"]["imported"] == 4

    click(at, "import_run")  # the same file again
    text = report(at)
    assert "**0** added (new)" in text and "**4** updated (already imported before)" in text
    assert queries.table_counts(engine) == after
    assert metrics(at)["Leads"] == f"{after['leads']:,}"


def test_bad_rows_are_rejected_with_reasons_and_downloadable(app_env, media):
    engine = engine_of(app_env)
    at = upload(open_data_page(), "leads.csv", BAD_CSV)
    assert any("matched by their names" in i.value for i in at.info)

    click(at, "import_run")
    text = report(at)
    assert "**4** rows read" in text and "**1** added (new)" in text and "**3** rejected" in text
    first = [m.value for m in at.markdown if m.value.startswith("**First rejected rows**")]
    assert len(first) == 1 and "line 3" in first[0] and "line 4" in first[0] and "line 5" in first[0]

    stored = journal.read_rejected_rows(engine, source="file")
    assert sorted(stored["row_number"]) == [3, 4, 5]
    table = dataframe_with(at, "Reasons")
    assert sorted(table["Line"].tolist()) == [3, 4, 5]
    by_line = dict(zip(table["Line"], table["Reasons"], strict=True))
    assert (
        "Created" in by_line[3]
        and "Touches" in by_line[4]
        and "external_id" in by_line[5].replace("Lead ID", "external_id")
    )

    at.selectbox(key="rejected_source").set_value("file").run()
    assert len(dataframe_with(at, "Reasons")) == 3
    button = next(b for b in at.get("download_button") if b.label == "Download rejected rows (CSV)")
    assert button.key == "rejected_download"
    csv = downloaded(media, button).decode("utf-8-sig")
    rows = pd.read_csv(io.StringIO(csv), dtype=str)
    assert sorted(rows["Line"].astype(int)) == [3, 4, 5]
    assert rows["Reasons"].str.len().gt(0).all()
    assert "'=HYPERLINK" in csv and ",=HYPERLINK" not in csv  # the formula cell cannot run in a spreadsheet


def test_a_dry_run_says_how_it_read_dates_and_decimals(app_env):
    deals = b"Deal ID;Created;Amount;Stage\nD-1;03.10.2026;1.234,50;Won\nD-2;15.10.2026;980,00;Open\n"
    at = upload(open_data_page(), "deals.csv", deals)
    assert at.selectbox(key="import_table").value == "deals"
    click(at, "import_dry_run")
    assert "**2** would be added (new)" in report(at)
    notes = [i.value for i in at.info]
    assert any("day first" in n and "15.10.2026" in n for n in notes)
    assert any("decimal comma" in n and "1.234,50" in n for n in notes)


def shown(markdown: str) -> str:
    """What a reader sees of Markdown whose file-borne values were escaped (wording.literal)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_an_unreadable_file_is_one_error_naming_it(app_env):
    at = upload(open_data_page(), "empty.csv", b"")
    assert [shown(e.value) for e in at.error] == ["empty.csv: the file is empty"]
    assert "import_run" not in {b.key for b in at.button}


def test_a_missing_required_column_names_it_and_blocks_the_import(app_env):
    at = upload(open_data_page(), "people.csv", b"Ident,Born,Kanal\nA-1,2026-10-01,Web\n")
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1 and "external_id" in errors[0] and "'Ident'" in errors[0]
    assert at.button(key="import_run").disabled and at.button(key="import_dry_run").disabled


def test_edit_the_mapping_then_save_it_and_start_from_it_next_time(app_env, tmp_path):
    engine = engine_of(app_env)
    at = upload(open_data_page(), "people.csv", b"Ident,Born,Kanal\nA-1,2026-10-01,Web\nA-2,2026-10-02,Ads\n")
    at.selectbox(key="import_col_external_id").set_value("Ident")
    at.selectbox(key="import_col_created_at").set_value("Born")
    at.selectbox(key="import_col_channel").set_value("Kanal")
    at.text_input(key="import_source").set_value("kanal-crm").run()
    assert not at.error
    preview = dataframe_with(at, "channel ← Kanal")
    assert preview["channel ← Kanal"].tolist() == ["Web", "Ads"]

    at.text_input(key="import_mapping_name").set_value("Kanal CRM")
    click(at, "import_save_mapping")
    assert any("Mapping saved as 'Kanal CRM'" in s.value for s in at.success)
    assert (tmp_path / "mappings" / "kanal-crm.yaml").is_file()

    click(at, "import_run")
    assert "**2** added (new)" in report(at)
    assert len(queries.read_leads(engine, source="kanal-crm")) == 2

    again = upload(open_data_page(), "people-2.csv", b"Ident,Born,Kanal\nA-3,2026-10-03,Web\n")
    assert "Saved: Kanal CRM" in again.selectbox(key="import_base").options
    again.selectbox(key="import_base").set_value("saved:Kanal CRM").run()
    assert again.selectbox(key="import_col_external_id").value == "Ident"
    assert again.text_input(key="import_source").value == "kanal-crm"


# ----------------------------------------------------------------------------- HubSpot


def test_the_token_is_shown_masked_and_nowhere_in_full(app_env, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    at = open_data_page()
    assert any("`pat-…8c10` from the environment" in m.value for m in at.markdown)
    assert HUBSPOT_TOKEN.encode() not in rendered_bytes(at)
    assert HUBSPOT_TOKEN[4:-4].encode() not in rendered_bytes(at)
    assert not at.button(key="hubspot_sync").disabled


def test_without_a_token_sync_is_disabled_and_the_help_says_how(app_env):
    at = open_data_page()
    assert at.button(key="hubspot_sync").disabled and at.button(key="hubspot_full_sync").disabled
    assert "HUBSPOT_ACCESS_TOKEN" in texts(at) and "Private apps" in texts(at)


def test_sync_against_a_local_hubspot_shows_the_summary(app_env, monkeypatch, fake_hubspot):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url)
    engine = engine_of(app_env)
    before = queries.table_counts(engine)
    at = click(open_data_page(), "hubspot_sync")

    summaries = [s.value for s in at.success if s.value.startswith("HubSpot")]
    assert len(summaries) == 1 and summaries[0].startswith("HubSpot full sync ok"), summaries
    assert not at.error
    leads = len(queries.read_leads(engine, source="hubspot"))
    assert leads > 0 and f"{leads:,} contacts" in summaries[0]
    assert metrics(at)["Leads"] == f"{before['leads'] + leads:,}"
    audit = journal.read_audit(engine).iloc[0]
    assert (audit["action"], audit["detail"]["status"]) == ("sync.hubspot", "ok")
    history = dataframe_with(at, "Counts")
    assert history.iloc[0][["Source", "Status"]].tolist() == ["hubspot", "ok"]
    assert HUBSPOT_TOKEN.encode() not in rendered_bytes(at)


def test_a_wrong_token_is_one_clear_error(app_env, monkeypatch, fake_hubspot):
    wrong = "pat-na1-99999999-8888-7777-6666-555555555555"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", wrong)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url)
    at = click(open_data_page(), "hubspot_sync")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("HubSpot rejected the access token (401 Unauthorized)")
    assert wrong.encode() not in rendered_bytes(at)
    audit = journal.read_audit(engine_of(app_env)).iloc[0]
    assert (audit["action"], audit["detail"]["status"]) == ("sync.hubspot", "failed")


def test_sync_now_while_a_sync_runs_elsewhere_says_so_and_changes_nothing(
    app_env, monkeypatch, fake_hubspot, other_process
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url)
    engine = engine_of(app_env)
    at = open_data_page()
    going = syncs.start_run(engine, "hubspot", "incremental")  # cron's sync starts after the page was drawn
    pretend_run(engine, going, pid=other_process)
    before = queries.table_counts(engine)
    at = click(at, "hubspot_sync")  # the click's run sees it first: nothing starts, the page says why
    key = f"hubspot-sync:{app_env}"
    assert jobs.current(key) is None
    assert any(f"run {going}" in i.value for i in at.info if "started elsewhere" in i.value)

    # Should cron start in the instant between the page's look and the job's start, the job is refused.
    job = jobs.start(key, "HubSpot sync", data_view._sync_work(engine, False, "ops@example.com", "local"))
    assert job.wait(60) and isinstance(job.error, syncs.RunBusyError)
    at.session_state["hubspot_job"] = job
    at.run()
    warnings = [w.value for w in at.warning if "HubSpot sync" in w.value]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Another HubSpot sync is already going: run {going}")
    assert not at.error and not at.exception
    assert queries.table_counts(engine) == before and fake_hubspot.log == []  # HubSpot was not even asked
    audit = journal.read_audit(engine).iloc[0]
    assert (audit["action"], audit["detail"]["status"]) == ("sync.hubspot", "refused")


def test_a_sync_running_elsewhere_is_shown_and_sync_now_waits_for_it(
    app_env, monkeypatch, other_process, dead_pid
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    engine = engine_of(app_env)
    going = syncs.start_run(engine, "hubspot", "incremental")
    pretend_run(engine, going, pid=other_process, host=socket.gethostname())
    at = open_data_page()
    shown = [i.value for i in at.info if "HubSpot sync started elsewhere" in i.value]
    assert len(shown) == 1 and f"run {going}" in shown[0] and f"process {other_process}" in shown[0]
    assert at.button(key="hubspot_sync").disabled and at.button(key="hubspot_full_sync").disabled

    pretend_run(engine, going, pid=dead_pid)  # it was killed: the next sync will take over
    at = open_data_page()
    assert not [i for i in at.info if "started elsewhere" in i.value]
    assert not at.button(key="hubspot_sync").disabled


@pytest.mark.parametrize("scope", ["crm.objects.deals.read"])
def test_a_missing_scope_is_named(app_env, monkeypatch, fake_hubspot, scope):
    fake_hubspot.missing_scopes = {scope}
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url)
    at = click(open_data_page(), "hubspot_sync")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and scope in errors[0] and "403" in errors[0]


# ----------------------------------------------------------------------------- audit trail


def test_audit_trail_lists_who_did_what_and_downloads(app_env, media):
    engine = engine_of(app_env)
    journal.add_audit(engine, "ops@example.com", "agreement.save", "Sales and Marketing SLA", {"version": 3})
    at = open_data_page()
    table = dataframe_with(at, "Who")
    assert table.iloc[0][["Who", "Action", "Target", "Detail"]].tolist() == [
        "ops@example.com", "agreement.save", "Sales and Marketing SLA", "version: 3",
    ]  # fmt: skip
    button = next(b for b in at.get("download_button") if b.label == "Download the audit trail (CSV)")
    rows = pd.read_csv(io.StringIO(downloaded(media, button).decode("utf-8-sig")), dtype=str)
    assert rows.iloc[0]["Who"] == "ops@example.com"


def test_a_long_sync_shows_progress_and_the_rest_of_the_page_stays_usable(app_env, monkeypatch, fake_hubspot):
    fake_hubspot.delay = 0.6  # every answer is slow: the sync outlasts jobs.QUICK_SECONDS
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url)
    at = open_data_page()
    at.button(key="hubspot_sync").click().run()
    assert not at.exception, at.exception
    job = jobs.current(f"hubspot-sync:{app_env}")
    assert job is not None and job.running
    bars = at.get("progress")
    assert len(bars) == 1 and bars[0].proto.text  # "owners: 12" / "fetching: 2 of 6 — ..."
    assert at.button(key="hubspot_sync").disabled and at.button(key="hubspot_full_sync").disabled
    assert at.file_uploader(key="import_file") is not None  # the other panels are drawn meanwhile

    assert job.wait(120)
    at.run()
    assert not at.get("progress")
    assert [s.value for s in at.success if s.value.startswith("HubSpot full sync ok")]
    assert not at.button(key="hubspot_sync").disabled


def test_the_import_proposes_the_agreements_timezone_for_the_files_dates(app_env):
    at = upload(open_data_page(), "people.csv", b"Ident,Born,Kanal\nA-1,2026-10-01,Web\n")
    assert at.text_input(key="import_timezone").value == "Europe/Berlin"  # the default agreement's


def test_the_demo_banner_stays_while_demo_rows_remain_beside_imported_ones(app_env):
    engine = engine_of(app_env)
    upserts.upsert_leads(
        engine,
        pd.DataFrame(
            {
                "source": ["sheet"] * 15,
                "external_id": [f"s{i}" for i in range(15)],
                "created_at": pd.Timestamp("2026-11-02T10:00Z"),
            }
        ),
    )
    at = open_data_page()
    assert "Demo rows remain beside your data** from sheet" in texts(at)


def test_an_admin_removes_the_demo_company_in_one_audited_step(app_env):
    engine = engine_of(app_env)
    at = open_data_page()
    assert at.button(key="demo_remove").disabled  # not before saying so
    at.checkbox(key="demo_remove_sure").check().run()
    at = click(at, "demo_remove")
    assert "Demo company removed" in texts(at)
    assert set(queries.source_counts(engine)["source"]) == set()
    audit = journal.read_audit(engine)
    removal = audit[audit["action"] == "demo.remove"]
    assert len(removal) == 1 and removal["detail"].iloc[0]["deleted"]["leads"] > 0
    assert "You are looking at demo data" not in texts(at)
    from bootstrap import load_demo_if_empty

    assert not load_demo_if_empty(engine)  # a removed demo is not loaded again on the next start


def test_only_admins_may_remove_the_demo(app_env, monkeypatch):
    asked = []
    monkeypatch.setattr(auth, "can", lambda action: asked.append(action) or False)
    at = open_data_page()
    assert "remove_demo" in asked
    assert not {"demo_remove", "demo_remove_sure"} & {
        w.key for kind in ("button", "checkbox") for w in at.get(kind)
    }
    assert auth.ACTIONS["remove_demo"] == frozenset({"admin"})


# --- the preview says what the import would refuse, and dates are read in one order -----------------------

# A US export: 12/25 decides month first; 45/01 is no date in either order and must not decide anything.
US_DATES_CSV = b"Lead ID,Created\nA-1,01/02/2025\nA-2,03/04/2025\nA-3,45/01/2025\nA-4,12/25/2025\n"


def test_the_preview_marks_the_values_the_import_would_reject(app_env):
    at = upload(open_data_page(), "leads.csv", US_DATES_CSV)
    preview = dataframe_with(at, "will be rejected")
    assert preview["external_id ← Lead ID"].tolist() == ["A-1", "A-2", "A-3", "A-4"]
    assert preview["will be rejected"].tolist() == ["", "", "Created: '45/01/2025' is not a date", ""]
    [shown] = [d for d in at.dataframe if "will be rejected" in d.value.columns]
    assert "#fde8e8" in str(shown.proto)  # the refused cell is painted
    assert any(c.value.startswith("1 of these 4 rows would be rejected") for c in at.caption)
    # the dry run, which reads every row with the importer's conversion, agrees
    click(at, "import_dry_run")
    assert "**1** rejected" in report(at) and "**3** would be added (new)" in report(at)


def test_one_impossible_date_does_not_decide_the_date_order(app_env):
    at = upload(open_data_page(), "leads.csv", US_DATES_CSV)
    click(at, "import_dry_run")
    notes = [i.value for i in at.info]
    assert any("month first" in n and "'12/25/2025'" in n for n in notes), notes
    assert not any("conflicting" in n for n in notes)
    assert "**1** rejected" in report(
        at
    )  # 45/01/2025 only; 12/25/2025 is Christmas, not the 12th of month 25


def test_times_are_shown_in_the_agreements_timezone(app_env):
    engine = engine_of(app_env)
    zone = "Europe/Berlin"  # the demo agreement's
    started = dt.datetime(2026, 7, 3, 22, 30, tzinfo=dt.UTC)  # summer time: 00:30 the next day in Berlin
    run = syncs.start_run(engine, "file:crm", "import")
    pretend_run(engine, run, started_at=started)
    syncs.finish_run(engine, run, "ok", counts={"read": 1, "imported": 1, "updated": 0, "rejected": 0})
    journal.add_rejected_rows(engine, [{"source": "crm", "object": "leads", "row_number": 2,
                                     "reasons": "Created: 'soon' is not a date"}])  # fmt: skip
    journal.add_audit(engine, "ops@example.com", "agreement.save", "Sales and Marketing SLA", {"version": 3})
    at = open_data_page()

    runs = dataframe_with(at, f"Started ({zone})")
    assert runs.iloc[0][f"Started ({zone})"] == "2026-07-04 00:30:00"
    assert any(f"times in {zone}" in c.value for c in at.caption)
    rejected = dataframe_with(at, f"Seen at ({zone})")
    row = rejected[rejected["Source"] == "crm"].iloc[0]
    seen = pd.Timestamp(journal.read_rejected_rows(engine, source="crm").iloc[0]["seen_at"])
    assert row[f"Seen at ({zone})"] == seen.tz_convert(zone).strftime("%Y-%m-%d %H:%M:%S")
    assert seen.tz_convert(zone).hour == seen.tz_convert("UTC").hour + 1  # winter: an hour ahead of UTC
    audit = dataframe_with(at, f"At ({zone})")
    stored = pd.Timestamp(journal.read_audit(engine).iloc[0]["at"])
    assert audit.iloc[0][f"At ({zone})"] == stored.tz_convert(zone).strftime("%Y-%m-%d %H:%M:%S")
    assert not any("(UTC)" in column for d in at.dataframe for column in d.value.columns)


# ----------------------------------------------------------------------------- a name from two columns


def test_first_and_last_name_columns_make_the_lead_name(app_env):
    engine = engine_of(app_env)
    data = CONTACTS_CSV.replace(b"First Name,", b"First Name,Last Name,").replace(
        b"\n9001,Ann,", b"\n9001,Ann,Lee,"
    )
    data = data.replace(b"\n9002,Ben,", b"\n9002,Ben,,").replace(b"\n9003,Cy,", b"\n9003,Cy,Doe,")
    data = data.replace(b"\n9004,Di,", b"\n9004,Di,van Dam,")
    at = upload(open_data_page(), "contacts.csv", data)
    # The built-in HubSpot mapping joins them: the name's first column, then the one that follows it.
    assert at.selectbox(key="import_col_name").value == "First Name"
    assert at.multiselect(key="import_join_name").value == ["Last Name"]
    preview = dataframe_with(at, "name ← First Name + Last Name")
    assert preview["name ← First Name + Last Name"].tolist() == ["Ann Lee", "Ben", "Cy Doe", "Di van Dam"]
    click(at, "import_run")
    assert "**4** added (new)" in report(at)
    names = queries.read_leads(engine, source="hubspot-export", columns=["external_id", "name"])
    assert dict(zip(names["external_id"], names["name"], strict=True)) == {
        "9001": "Ann Lee", "9002": "Ben", "9003": "Cy Doe", "9004": "Di van Dam"
    }  # fmt: skip


def test_a_name_joined_on_the_page_is_saved_in_the_mapping(app_env, tmp_path):
    engine = engine_of(app_env)
    at = upload(open_data_page(), "people.csv", b"Ident,Born,Vorname,Nachname\nA-1,2026-10-01,Eva,Roth\n")
    at.selectbox(key="import_col_external_id").set_value("Ident")
    at.selectbox(key="import_col_created_at").set_value("Born")
    at.selectbox(key="import_col_name").set_value("Vorname")
    at.multiselect(key="import_join_name").set_value(["Nachname"]).run()
    assert not at.error, [e.value for e in at.error]
    assert dataframe_with(at, "name ← Vorname + Nachname")["name ← Vorname + Nachname"].tolist() == [
        "Eva Roth"
    ]
    at.text_input(key="import_mapping_name").set_value("German CRM")
    click(at, "import_save_mapping")
    saved = Mapping.from_yaml((tmp_path / "mappings" / "german-crm.yaml").read_text())
    assert saved.join == {"name": ["Vorname", "Nachname"]} and "name" not in saved.columns
    click(at, "import_run")
    assert queries.read_leads(engine, source="file", columns=["name"])["name"].tolist() == ["Eva Roth"]
