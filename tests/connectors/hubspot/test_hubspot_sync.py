"""The sync against the local HubSpot: full load, incremental, resumption, faults, quarantine, secrecy."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest
from sqlalchemy import MetaData, select

import settings as accord_settings
from connectors.hubspot.client import HubSpotAuthError, HubSpotUnavailableError
from connectors.hubspot.settings import CRM_OBJECTS, HubSpotConfig
from connectors.hubspot.sync import sync
from data import journal, queries, syncs
from tests.connectors.hubspot.conftest import TOKEN, assert_same_rows, stored

NOW = pd.Timestamp.now(tz="UTC").floor("ms")


def _without(frame: pd.DataFrame, external_ids) -> pd.DataFrame:
    return frame.loc[~frame["external_id"].isin(list(external_ids))].reset_index(drop=True)


def _lead_ids(fake, demo_frames, **where) -> list[str]:
    leads = demo_frames["leads"]
    for column, value in where.items():
        leads = leads.loc[leads[column] == value]
    return [fake.seed_map.leads[x] for x in leads["external_id"]]


def test_full_load_stores_exactly_the_seeded_company(engine, fake_hubspot, hubspot_config, expected):
    summary = sync(engine, config=hubspot_config)

    assert summary.status == "ok" and summary.kind == "full"
    assert_same_rows(stored(engine), expected)
    leads = queries.read_leads(engine, source="hubspot")
    assert leads["owner_id"].notna().sum() == leads["owner_external_id"].notna().sum()
    deals = queries.read_deals(engine, source="hubspot")
    assert deals["lead_id"].notna().sum() == deals["lead_external_id"].notna().sum() > 0
    run = syncs.read_sync_runs(engine).iloc[0]
    assert (run["connector"], run["kind"], run["status"]) == ("hubspot", "full", "ok")
    assert run["counts"]["objects"]["contacts"]["inserted"] == len(expected["leads"])
    state = syncs.read_sync_state(engine).set_index("object")
    assert sorted(state.index) == sorted([*CRM_OBJECTS, "lead_touches", "contact_history", "record_links"])
    assert state.loc[list(CRM_OBJECTS), "cursor"].notna().all() and state["checkpoint"].isna().all()
    # A full load lists, it does not search; its only POSTs read the lifecycle history of handed-over contacts.
    assert {r.path for r in fake_hubspot.requests("POST")} == {"/crm/v3/objects/contacts/batch/read"}


def test_a_second_full_load_changes_nothing(sqlite_engine, fake_hubspot, hubspot_config, expected):
    sync(sqlite_engine, config=hubspot_config)
    again = sync(sqlite_engine, full=True, config=hubspot_config)

    assert again.kind == "full"
    assert all(c.inserted == 0 for c in again.objects.values())
    assert sum(c.updated for c in again.objects.values()) == sum(
        len(expected[t]) for t in ("leads", "deals", "activities")
    )
    assert_same_rows(stored(sqlite_engine), expected)


def test_incremental_sync_picks_up_changes_archives_and_new_records(
    engine, fake_hubspot, hubspot_config, expected, demo_frames
):
    fake = fake_hubspot
    sync(engine, config=hubspot_config)
    fake.log.clear()

    rejected_now = _lead_ids(fake, demo_frames, disposition="open")[0]
    fake.update(
        "contacts",
        rejected_now,
        {
            "hs_lead_status": "UNQUALIFIED",
            "accord_rejection_reason": "no_budget",
            "accord_disposition_date": "2026-11-02T10:00:00Z",
        },
    )
    gone_contact = _lead_ids(fake, demo_frames, disposition="accepted")[0]
    fake.archive("contacts", gone_contact)
    deal_ids = list(fake.seed_map.deals.values())
    fake.archive("deals", deal_ids[0])
    fake.update("deals", deal_ids[1], {"amount": "4321.5"})
    new_contact = fake.add(
        "contacts",
        {
            "lifecyclestage": "marketingqualifiedlead",
            "hs_v2_date_entered_marketingqualifiedlead": "2026-11-02T09:00:00Z",
            "hs_analytics_source": "PAID_SOCIAL",
            "accord_segment": "SMB",
        },
    )
    call = fake.add("calls", {"hs_timestamp": "2026-11-02T09:30:00Z"}, contact=new_contact)
    fake.add_pipeline("7612345", "Renewals", [("98765001", "Renewal due", False, 0.5)])
    new_deal = fake.add(
        "deals", {"dealstage": "98765001", "pipeline": "7612345", "amount": "900"}, contact=new_contact
    )

    summary = sync(engine, config=hubspot_config)

    assert summary.kind == "incremental" and summary.status == "ok"
    leads = queries.read_leads(engine, source="hubspot").set_index("external_id")
    assert leads.loc[rejected_now, "disposition"] == "rejected"
    assert leads.loc[rejected_now, "rejection_reason"] == "no_budget"
    assert bool(leads.loc[gone_contact, "archived"])
    assert leads.loc[new_contact, "mql_at"] == pd.Timestamp("2026-11-02T09:00:00Z")
    assert leads.loc[new_contact, "channel"] == "Paid Social"
    assert leads.loc[new_contact, "touches"] == 1
    assert leads.loc[new_contact, "first_touch_at"] == pd.Timestamp("2026-11-02T09:30:00Z")
    deals = queries.read_deals(engine, source="hubspot").set_index("external_id")
    assert bool(deals.loc[deal_ids[0], "archived"])
    assert deals.loc[deal_ids[1], "amount"] == 4321.5
    assert (deals.loc[new_deal, "stage"], deals.loc[new_deal, "pipeline"]) == ("Renewal due", "Renewals")
    assert deals.loc[new_deal, "lead_external_id"] == new_contact
    activities = queries.read_activities(engine, source="hubspot").set_index("external_id")
    assert activities.loc[call, "lead_external_id"] == new_contact
    # Nothing else moved.
    touched = {rejected_now, gone_contact, new_contact}
    assert_same_rows(
        {
            t: _without(f, touched | {deal_ids[0], deal_ids[1], new_deal, call})
            for t, f in stored(engine).items()
        },
        {t: _without(f, touched | {deal_ids[0], deal_ids[1]}) for t, f in expected.items()},
    )
    # Incremental means search, not lists: only the archived lists are read again.
    lists = fake.requests("GET", "/crm/v3/objects/")
    assert lists and all(r.query["archived"][0].lower() == "true" for r in lists)
    assert summary.requests < 30


def test_incremental_reads_past_the_search_result_cap(sqlite_engine, fake_hubspot, hubspot_config):
    fake = fake_hubspot
    sync(sqlite_engine, config=hubspot_config)
    fake.search_cap = 50  # HubSpot's is 10,000; the restart logic is the same
    changed = sorted(fake.seed_map.leads.values(), key=int)[:130]
    for contact in changed:
        fake.update("contacts", contact, {"hs_lead_status": "BAD_TIMING"})
    fake.log.clear()

    sync(sqlite_engine, config=hubspot_config.with_(search_page_size=20))

    leads = queries.read_leads(sqlite_engine, source="hubspot").set_index("external_id")
    assert (leads.loc[changed, "lead_status"] == "BAD_TIMING").all()
    assert (leads["lead_status"] == "BAD_TIMING").sum() == 130
    searches = fake.requests("POST", "/crm/v3/objects/contacts/search")
    assert all(r.status == 200 for r in fake.requests())
    assert len(searches) == 7  # 130 changes / 20 a page: 7 queries, each from the last id seen
    assert all(int(r.body.get("after") or 0) + r.body["limit"] <= fake.search_cap for r in searches)


def test_rate_limit_storms_and_server_errors_lose_nothing(
    sqlite_engine, fake_hubspot, hubspot_config, expected, demo_frames
):
    fake = fake_hubspot
    fake.storm(0.3)  # every request gets 429 for a while, no Retry-After
    fake.fail_next(3, status=429, retry_after=0.1)
    fake.fail_next(3, status=502, path="/crm/v3/objects/contacts")
    fake.fail_next(2, status=500, path="/crm/v3/objects/calls")
    summary = sync(sqlite_engine, config=hubspot_config)

    assert_same_rows(stored(sqlite_engine), expected)
    answered_429 = sum(r.status == 429 for r in fake.requests())
    assert summary.rate_limited == answered_429 >= 4
    assert summary.retries == answered_429 + 5

    contact = _lead_ids(fake, demo_frames)[5]
    fake.update("contacts", contact, {"lifecyclestage": "customer"})
    fake.fail_next(2, status=429, method="POST")  # search answers 429 too
    fake.fail_next(1, status=503, path="/crm/v4/associations")
    sync(sqlite_engine, config=hubspot_config)
    leads = queries.read_leads(sqlite_engine, source="hubspot").set_index("external_id")
    assert leads.loc[contact, "lifecycle_stage"] == "customer"
    assert sum(r.status == 429 for r in fake.requests("POST", "/crm/v3/objects")) == 2


def test_the_sync_paces_itself_so_hubspot_never_says_429(
    sqlite_engine, fake_hubspot, hubspot_config, expected
):
    fake_hubspot.requests_per_window, fake_hubspot.window_seconds = 10, 0.5
    summary = sync(sqlite_engine, config=hubspot_config.with_(requests_per_window=10, window_seconds=0.5))

    assert [r for r in fake_hubspot.requests() if r.status != 200] == []
    assert summary.waited_seconds > 0
    assert_same_rows(stored(sqlite_engine), expected)


def test_malformed_records_are_kept_aside_and_the_rest_loads(
    sqlite_engine, fake_hubspot, hubspot_config, expected, demo_frames
):
    fake, ids = fake_hubspot, fake_hubspot.seed_map
    bad_contact = _lead_ids(fake, demo_frames)[3]
    bad_deal = list(ids.deals.values())[2]
    bad_call = next(i for x, i in ids.activities.items() if int(i) in fake.objects["calls"])
    fake.update("contacts", bad_contact, {"createdate": "not-a-date"})
    fake.update("deals", bad_deal, {"amount": "12,5x"})
    fake.update("calls", bad_call, {"hs_timestamp": "yesterday"})

    summary = sync(sqlite_engine, config=hubspot_config)

    assert summary.status == "ok" and summary.rejected == 3
    rejected = journal.read_rejected_rows(sqlite_engine, source="hubspot").set_index("external_id")
    assert rejected.loc[bad_contact, "object"] == "contacts"
    assert rejected.loc[bad_contact, "reasons"] == "createdate: 'not-a-date' is not a date"
    assert rejected.loc[bad_deal, "reasons"] == "amount: '12,5x' is not a number"
    assert rejected.loc[bad_call, "column_name"] == "hs_timestamp"
    assert "not-a-date" in rejected.loc[bad_contact, "raw"]
    assert (rejected["run_id"] == summary.run_id).all()
    wanted = {t: _without(f, {bad_contact, bad_deal, bad_call}) for t, f in expected.items()}
    # The unusable call does not count as a touch of its lead.
    lead_of_call = expected["activities"].set_index("external_id").loc[bad_call, "lead_external_id"]
    wanted["leads"].loc[wanted["leads"]["external_id"] == lead_of_call, "touches"] -= 1
    assert_same_rows(stored(sqlite_engine), wanted)

    sync(sqlite_engine, full=True, config=hubspot_config)
    assert len(journal.read_rejected_rows(sqlite_engine, source="hubspot")) == 3  # seen again, kept once


def test_an_interrupted_sync_resumes_without_rereading_or_duplicating(
    sqlite_engine, fake_hubspot, hubspot_config, expected
):
    def interrupt_once_contacts_are_committed(stage, done, total, detail=""):
        _, checkpoint = syncs.get_sync_state(sqlite_engine, "hubspot", "contacts")
        if stage == "fetching" and checkpoint and checkpoint["after"]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(sqlite_engine, progress=interrupt_once_contacts_are_committed, config=hubspot_config)
    run = syncs.read_sync_runs(sqlite_engine).iloc[0]
    assert run["status"] == "interrupted" and "continues" in run["error"]
    _, checkpoint = syncs.get_sync_state(sqlite_engine, "hubspot", "contacts")
    read_before = int(checkpoint["after"])
    assert syncs.get_sync_state(sqlite_engine, "hubspot", "lead_touches")[1] == {"pending": True}
    fake_hubspot.log.clear()

    summary = sync(sqlite_engine, config=hubspot_config)

    assert summary.objects["contacts"].mode == "resumed full"
    assert_same_rows(
        stored(sqlite_engine), expected
    )  # touches recounted although the first run never got there
    assert syncs.get_sync_state(sqlite_engine, "hubspot", "lead_touches")[1] is None
    pages = fake_hubspot.requests("GET", "/crm/v3/objects/contacts")
    firsts = [r for r in pages if r.query.get("archived") == ["false"] and "after" not in r.query]
    assert firsts == []  # the contacts list was not started over
    assert all(int(r.query["after"][0]) >= read_before for r in pages if "after" in r.query)


def test_a_wrong_token_fails_with_one_message_recorded_in_sync_runs(
    sqlite_engine, fake_hubspot, hubspot_config
):
    wrong = "pat-na1-ffffffff-0000-1111-2222-333333333333"
    with pytest.raises(HubSpotAuthError, match="rejected the access token") as caught:
        sync(sqlite_engine, config=hubspot_config.with_(token=wrong))

    run = syncs.read_sync_runs(sqlite_engine).iloc[0]
    assert run["status"] == "failed" and run["error"] == str(caught.value)
    assert queries.table_counts(sqlite_engine)["leads"] == 0
    assert len(fake_hubspot.requests()) == 1  # the first answer said it all


def test_a_missing_scope_fails_naming_the_scope(sqlite_engine, fake_hubspot, hubspot_config):
    fake_hubspot.missing_scopes = {"crm.objects.owners.read"}
    with pytest.raises(HubSpotAuthError, match="crm.objects.owners.read"):
        sync(sqlite_engine, config=hubspot_config)
    assert "crm.objects.owners.read" in syncs.read_sync_runs(sqlite_engine).iloc[0]["error"]


def test_hubspot_down_fails_cleanly_and_keeps_what_was_committed(sqlite_engine, fake_hubspot, hubspot_config):
    fake_hubspot.fail_next(50, status=502, path="/crm/v3/objects/deals")
    with pytest.raises(HubSpotUnavailableError, match="run the sync again later"):
        sync(sqlite_engine, config=hubspot_config.with_(max_attempts=2))
    assert syncs.read_sync_runs(sqlite_engine).iloc[0]["status"] == "failed"
    assert queries.table_counts(sqlite_engine)["owners"] > 0


def test_progress_reports_objects_pages_rows_and_waits(sqlite_engine, fake_hubspot, hubspot_config):
    calls = []
    fake_hubspot.fail_next(1, status=429, retry_after=0.5, path="/crm/v3/objects/deals")
    sync(sqlite_engine, progress=lambda *args: calls.append(args), config=hubspot_config)

    stages = [c[0] for c in calls]
    assert stages[0] == "owners" and stages[-1] == "touches"
    assert {"owners", "pipelines", "fetching", "touches"} == set(stages)
    fetching = [c for c in calls if c[0] == "fetching"]
    assert fetching[-1][1] == fetching[-1][2] == len(CRM_OBJECTS)
    assert "pages" in fetching[-1][3] and "rows" in fetching[-1][3]
    assert any("waiting" in c[3] for c in fetching)


def test_the_token_never_leaks(sqlite_engine, fake_hubspot, hubspot_config, caplog, capsys, demo_frames):
    caplog.set_level(logging.DEBUG)
    fake_hubspot.update("contacts", _lead_ids(fake_hubspot, demo_frames)[0], {"createdate": "bogus"})
    fake_hubspot.fail_next(2, status=429)
    sync(sqlite_engine, config=hubspot_config)
    fake_hubspot.missing_scopes = {"sales-email-read"}
    errors = []
    for config in (hubspot_config.with_(max_attempts=1), hubspot_config.with_(token=TOKEN[::-1])):
        with pytest.raises(HubSpotAuthError) as caught:
            sync(sqlite_engine, full=True, config=config)
        errors.append(f"{caught.value} {caught.value!r}")

    texts = [caplog.text, capsys.readouterr().out, *errors, repr(hubspot_config)]
    metadata = MetaData()
    metadata.reflect(sqlite_engine)
    with sqlite_engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                texts.extend(str(value) for value in row)
    assert len(texts) > 1000 and "HubSpot full sync ok" in caplog.text  # the scan saw logs and rows
    for secret in (TOKEN, TOKEN[::-1]):
        assert not [t for t in texts if secret in t or secret[8:24] in t]


def test_a_config_from_the_settings_syncs_with_their_token_and_base_url(
    sqlite_engine, fake_hubspot, monkeypatch
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake_hubspot.base_url + "/")
    config = HubSpotConfig.from_settings()  # what cli.py sync hubspot and the Data page pass in
    summary = sync(sqlite_engine, config=config, now=lambda: dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC))
    assert summary.status == "ok" and summary.owners > 0
    cursor, _ = syncs.get_sync_state(sqlite_engine, "hubspot", "contacts")
    assert cursor == str(int(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC).timestamp() * 1000))


def test_the_sync_reads_no_setting_of_its_own(sqlite_engine, fake_hubspot, hubspot_config, monkeypatch):
    """Everything comes in through ``config``: a token in the environment would be ignored, not used."""

    def no_settings(name, *args, **kwargs):
        raise AssertionError(f"the sync read the setting {name} itself")

    monkeypatch.setattr(accord_settings, "get", no_settings)
    assert sync(sqlite_engine, config=hubspot_config).status == "ok"


def test_a_sync_stores_the_portal_id_and_ui_domain_and_links_point_at_the_records(
    sqlite_engine, fake_hubspot, hubspot_config
):
    from analytics.links import record_link
    from data.record_links import read_link_bases

    sync(sqlite_engine, full=True, config=hubspot_config)
    bases = read_link_bases(sqlite_engine)
    assert bases["hubspot"] == {"portal_id": 24681357, "ui_domain": "app-eu1.hubspot.com"}
    assert fake_hubspot.requests("GET", "/account-info/v3/details")
    contact = queries.read_leads(sqlite_engine, source="hubspot")["external_id"].iloc[0]
    assert record_link("hubspot", "lead", contact, bases) == (
        f"https://app-eu1.hubspot.com/contacts/24681357/record/0-1/{contact}"
    )
