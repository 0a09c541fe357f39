"""The Salesforce sync against a local Salesforce over HTTPS: the real simple-salesforce, nothing mocked."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.salesforce.client import SalesforceConfigError, SalesforceError, SalesforceLimitError
from data import queries, syncs
from tests.connectors.salesforce.conftest import assert_matches, run, stored

SECOND = dt.timedelta(seconds=1)


def _requests(fake, fragment: str) -> int:
    return sum(1 for _, path in fake.log if fragment in path)


def test_full_load_equals_the_org(engine, fake_sf, sf_config):
    summary = run(engine, fake_sf, sf_config)

    assert summary.status == "ok" and summary.kind == "full"
    assert_matches(engine, fake_sf)
    # Large objects through Bulk API 2.0 (several results pages by locator), users through REST.
    assert _requests(fake_sf, "/jobs/query") >= 4 * 3
    assert summary.objects["Lead"].pages == 3  # 150 leads, 60 a page
    assert summary.rejected == 0
    runs = syncs.read_sync_runs(engine)
    assert runs.iloc[0]["status"] == "ok" and runs.iloc[0]["connector"] == "salesforce"
    assert runs.iloc[0]["counts"]["daily_api_max"] == fake_sf.daily_max
    cursors = syncs.read_sync_state(engine)
    objects = cursors[cursors["connector"] == "salesforce"].set_index("object")
    assert (
        objects.loc[["User", "Lead", "Opportunity", "Task", "Event"], "cursor"] == "2026-06-01T09:00:00Z"
    ).all()


def test_touches_and_first_touch_come_from_tasks_and_events(sqlite_engine, fake_sf, sf_config):
    run(sqlite_engine, fake_sf, sf_config)

    leads = stored(sqlite_engine)["leads"].set_index("external_id")
    acts = stored(sqlite_engine)["activities"]
    counted = acts[acts["lead_external_id"].notna()].groupby("lead_external_id").size()
    assert counted.sum() > 0
    for lead, n in counted.items():
        assert leads.loc[lead, "touches"] == n
    untouched = leads.index.difference(counted.index)
    assert (leads.loc[untouched, "touches"] == 0).all() and leads.loc[
        untouched, "first_touch_at"
    ].isna().all()


def test_incremental_reads_changes_including_many_records_sharing_one_second(engine, fake_sf, sf_config):
    run(engine, fake_sf, sf_config)
    fake_sf.clock += dt.timedelta(hours=1)
    stamp = fake_sf.clock - dt.timedelta(minutes=10)
    leads = sorted(fake_sf.records["Lead"])
    # 130 leads changed within one second (more than two REST pages of 50), in the middle of the window
    for n, lead in enumerate(leads[:130]):
        fake_sf.update("Lead", lead, {"LeadSource": "Webinar"}, at=stamp + dt.timedelta(milliseconds=n * 7))
    fake_sf.update("Lead", leads[140], {"Status": "Unqualified", "Rejection_Reason__c": "Student"})
    new_lead = fake_sf.add(
        "Lead", {"Status": "Open - Not Contacted", "OwnerId": sorted(fake_sf.records["User"])[0]}
    )
    opp = sorted(fake_sf.records["Opportunity"])[3]
    fake_sf.update("Opportunity", opp, {"Amount": None, "StageName": "Negotiation"})
    jobs_before = _requests(fake_sf, "/jobs/query")

    summary = run(engine, fake_sf, sf_config)

    assert summary.kind == "incremental" and summary.status == "ok"
    assert _requests(fake_sf, "/jobs/query") == jobs_before  # changes come through REST queryAll
    assert summary.objects["Lead"].rows == 132  # each changed lead once, however many pages share the second
    assert_matches(engine, fake_sf)
    row = stored(engine)["leads"].set_index("external_id").loc[new_lead]
    assert row["lead_status"] == "Open - Not Contacted"


def test_a_resumed_incremental_never_loses_records_sharing_the_cursor_second(engine, fake_sf, sf_config):
    run(engine, fake_sf, sf_config)
    fake_sf.clock += dt.timedelta(hours=1)
    stamp = fake_sf.clock - dt.timedelta(minutes=10)
    for n, lead in enumerate(sorted(fake_sf.records["Lead"])[:130]):
        fake_sf.update("Lead", lead, {"LeadSource": "Webinar"}, at=stamp + dt.timedelta(milliseconds=n * 7))
    # The org stops answering after the first page of changed leads has been committed.
    fake_sf.expire_at_request = None
    original = fake_sf._api
    calls = [0]

    def failing(method, path, query, body):
        cursor = path.split("/")[-1].split("-")[0]
        rows = fake_sf._cursors.get(cursor, ([],))[0]
        if path.startswith("queryAll/") and rows and rows[0]["_type"] == "Lead":  # the 2nd page of leads
            calls[0] += 1
            if calls[0] == 1:
                fake_sf.api_enabled = False
        return original(method, path, query, body)

    fake_sf._api = failing
    with pytest.raises(SalesforceConfigError, match="API Enabled"):
        run(engine, fake_sf, sf_config)
    _, checkpoint = syncs.get_sync_state(engine, "salesforce", "Lead")
    assert checkpoint["window_start"] == stamp.strftime("%Y-%m-%dT%H:%M:%SZ")  # the second of the last record

    fake_sf.api_enabled = True
    fake_sf._api = original
    summary = run(engine, fake_sf, sf_config)

    assert summary.objects["Lead"].mode == "resumed incremental"
    assert_matches(engine, fake_sf)  # none of the 80 records after the first page is lost


def test_deletes_are_flagged_not_removed(engine, fake_sf, sf_config):
    run(engine, fake_sf, sf_config)
    fake_sf.clock += dt.timedelta(hours=2)
    lead = sorted(fake_sf.records["Lead"])[5]
    task = sorted(fake_sf.records["Task"])[2]
    opp = sorted(fake_sf.records["Opportunity"])[1]
    fake_sf.delete("Lead", lead)  # recycle bin: queryAll returns it with IsDeleted
    fake_sf.delete("Task", task)
    fake_sf.delete("Opportunity", opp, purge=True)  # gone from queries: only the deleted endpoint knows

    summary = run(engine, fake_sf, sf_config)

    rows = stored(engine)
    assert rows["leads"].set_index("external_id").loc[lead, "archived"]
    assert rows["activities"].set_index("external_id").loc[task, "archived"]
    assert rows["deals"].set_index("external_id").loc[opp, "archived"]
    assert _requests(fake_sf, "/sobjects/Opportunity/deleted") == 1
    assert summary.objects["Opportunity"].archived == 1
    # The purged opportunity stays in the database, flagged; nothing else changed or doubled.
    assert len(rows["deals"]) == len(fake_sf.records["Opportunity"]) + 1
    assert len(rows["leads"]) == len(fake_sf.records["Lead"]) and rows["leads"]["archived"].sum() == 1


def test_an_expired_token_mid_run_logs_in_again_once(engine, fake_sf, sf_config):
    fake_sf.expire_at_request = 12  # during the Bulk load of leads

    summary = run(engine, fake_sf, sf_config)

    assert summary.status == "ok" and summary.logins == 2
    assert len(fake_sf.issued) == 2
    assert_matches(engine, fake_sf)


def test_a_token_refused_again_after_logging_in_is_one_line(sqlite_engine, fake_sf, sf_config):
    original = fake_sf._authorize

    def always_expired(headers):
        fake_sf.tokens.clear()
        return original(headers)

    fake_sf._authorize = always_expired
    with pytest.raises(SalesforceConfigError) as caught:
        run(sqlite_engine, fake_sf, sf_config)
    assert "INVALID_SESSION_ID" in str(caught.value) and "\n" not in str(caught.value)
    assert len(fake_sf.issued) == 2


def test_the_sync_stops_before_exhausting_the_daily_limit_and_continues_later(engine, fake_sf, sf_config):
    config = sf_config.with_(limit_reserve_min=100, limit_check_every=5)
    fake_sf.daily_max = 125  # 25 requests above the reserve: not enough for the whole load

    with pytest.raises(SalesforceLimitError) as caught:
        run(engine, fake_sf, config)

    message = str(caught.value)
    assert "run it again after 2026-06-02 09:00 UTC" in message and "\n" not in message
    assert fake_sf.used <= 125 - 100 + 1  # the reserve was never touched
    runs = syncs.read_sync_runs(engine)
    assert runs.iloc[0]["status"] == "stopped" and "daily API limit" in runs.iloc[0]["error"]
    partial = {t: len(f) for t, f in stored(engine).items()}
    assert sum(partial.values()) > 0

    fake_sf.daily_max = 100_000  # the next day
    summary = run(engine, fake_sf, config)

    assert summary.status == "ok"
    assert any(c.mode.startswith("resumed") for c in summary.objects.values())
    assert_matches(engine, fake_sf)


def test_request_limit_exceeded_from_salesforce_stops_cleanly(sqlite_engine, fake_sf, sf_config):
    config = sf_config.with_(limit_check_every=10_000)
    run(sqlite_engine, fake_sf, config)
    fake_sf.clock += dt.timedelta(hours=1)
    original = fake_sf._api

    def others_use_it_up(method, path, query, body):
        answer = original(method, path, query, body)
        if path == "limits":  # right after the sync read the limit, other integrations use up the rest
            fake_sf.daily_max = fake_sf.used + 3
        return answer

    fake_sf._api = others_use_it_up

    with pytest.raises(SalesforceLimitError, match="REQUEST_LIMIT_EXCEEDED"):
        run(sqlite_engine, fake_sf, config)
    assert syncs.read_sync_runs(sqlite_engine).iloc[0]["status"] == "stopped"


def test_reruns_never_duplicate(engine, fake_sf, sf_config):
    run(engine, fake_sf, sf_config)
    run(engine, fake_sf, sf_config, full=True)
    fake_sf.clock += dt.timedelta(hours=1)
    run(engine, fake_sf, sf_config)
    run(engine, fake_sf, sf_config)

    assert_matches(engine, fake_sf)
    counts = queries.table_counts(engine)
    assert counts["leads"] == len(fake_sf.records["Lead"])
    assert counts["deals"] == len(fake_sf.records["Opportunity"])


def test_without_the_mql_date_field_handovers_come_from_status_history(sqlite_engine, fake_sf, sf_config):
    fake_sf.remove_field("Lead", "MQL_Date__c")

    summary = run(sqlite_engine, fake_sf, sf_config)

    assert any("no MQL_Date__c field" in note for note in summary.notes)
    assert "LeadHistory" in summary.describe()
    assert_matches(sqlite_engine, fake_sf, mql_from_history=True)
    assert stored(sqlite_engine)["leads"]["mql_at"].notna().sum() > 10


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c, f: c.with_(client_secret="wrong-secret-0123456789"), "SALESFORCE_CLIENT_SECRET"),
        (lambda c, f: c.with_(client_id="3MVG9unknown"), "SALESFORCE_CLIENT_ID"),
        (lambda c, f: c.with_(login_url=None), "SALESFORCE_LOGIN_URL is not set"),
        (lambda c, f: c.with_(login_url="http://acme.my.salesforce.com"), "https:// My Domain URL"),
        (lambda c, f: c.with_(login_url="https://127.0.0.1:9"), "cannot reach SALESFORCE_LOGIN_URL"),
        (
            lambda c, f: (
                c.with_(fields=c.fields.__class__(explicit=frozenset({"SALESFORCE_MQL_DATE_FIELD"})))
                if f.remove_field("Lead", "MQL_Date__c") is None
                else c
            ),
            "SALESFORCE_MQL_DATE_FIELD names Lead.MQL_Date__c",
        ),
        (lambda c, f: c.with_(fields=c.fields.__class__(team="Team__c")), "SALESFORCE_TEAM_FIELD"),
        (lambda c, f: c if setattr(f, "api_enabled", False) is None else c, "API Enabled"),
    ],
    ids=["secret", "client-id", "no-url", "http", "unreachable", "mql-field", "team-field", "no-api"],
)
def test_bad_configuration_is_one_line_naming_what_to_fix(sqlite_engine, fake_sf, sf_config, change, named):
    config = change(sf_config, fake_sf)

    with pytest.raises(SalesforceError) as caught:
        run(sqlite_engine, fake_sf, config)

    message = str(caught.value)
    assert named in message and "\n" not in message
    assert sf_config.client_secret not in message
    run_row = syncs.read_sync_runs(sqlite_engine).iloc[0]
    assert run_row["status"] == "failed" and run_row["error"] == message


def test_another_running_sync_is_refused(sqlite_engine, fake_sf, sf_config):
    syncs.start_run(sqlite_engine, "salesforce", "sync")
    with pytest.raises(syncs.RunBusyError):
        run(sqlite_engine, fake_sf, sf_config)
    assert not fake_sf.log  # refused before talking to Salesforce


def test_an_interrupted_full_load_continues_its_bulk_job_or_starts_it_again_when_gone(
    sqlite_engine, fake_sf, sf_config
):
    original = fake_sf._api
    pages = [0]

    def fail_after_two_lead_pages(method, path, query, body):
        if path.endswith("/results") and fake_sf._jobs[path.split("/")[2]]["rows"][0]["_type"] == "Lead":
            pages[0] += 1
            if pages[0] == 3:
                fake_sf.api_enabled = False
        return original(method, path, query, body)

    fake_sf._api = fail_after_two_lead_pages
    with pytest.raises(SalesforceConfigError):
        run(sqlite_engine, fake_sf, sf_config)
    _, checkpoint = syncs.get_sync_state(sqlite_engine, "salesforce", "Lead")
    assert checkpoint["job"] and checkpoint["locator"] == "120"  # two pages of 60 committed
    fake_sf.api_enabled = True
    fake_sf._api = original
    fake_sf._jobs.clear()  # Salesforce keeps job results for 7 days: this one has expired

    summary = run(sqlite_engine, fake_sf, sf_config)

    assert summary.objects["Lead"].mode == "resumed full"
    assert_matches(sqlite_engine, fake_sf)


def test_leads_get_their_first_campaign_or_none_without_access_to_campaigns(
    sqlite_engine, fake_sf, sf_config
):
    run(sqlite_engine, fake_sf, sf_config)
    assert stored(sqlite_engine)["leads"]["campaign"].notna().sum() >= 40  # compared with the org above too
    assert_matches(sqlite_engine, fake_sf)

    del fake_sf.records["CampaignMember"]  # the run-as user may not read campaign members
    del fake_sf.fields["CampaignMember"]
    summary = run(sqlite_engine, fake_sf, sf_config, full=True)

    assert summary.status == "ok"
    assert any("cannot read CampaignMember" in note for note in summary.notes)


def test_a_sync_stores_the_instance_url_and_links_open_the_lead_and_the_opportunity(
    sqlite_engine, fake_sf, sf_config
):
    from analytics.links import record_link
    from data.record_links import read_link_bases

    run(sqlite_engine, fake_sf, sf_config)
    bases = read_link_bases(sqlite_engine)
    assert bases["salesforce"] == {"instance_url": fake_sf.base_url}  # the token answer's instance_url
    lead = stored(sqlite_engine)["leads"]["external_id"].iloc[0]
    deal = stored(sqlite_engine)["deals"]["external_id"].iloc[0]
    assert (
        record_link("salesforce", "lead", lead, bases) == f"{fake_sf.base_url}/lightning/r/Lead/{lead}/view"
    )
    assert record_link("salesforce", "deal", deal, bases) == (
        f"{fake_sf.base_url}/lightning/r/Opportunity/{deal}/view"
    )
