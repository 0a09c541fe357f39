"""The Data page's Salesforce tab under AppTest, syncing from the local Salesforce over HTTPS."""

from __future__ import annotations

import os

import pytest

from data import journal
from pages.components import jobs
from tests.connectors.salesforce.conftest import CLIENT_ID, CLIENT_SECRET, assert_matches, ca, trusted  # noqa: F401
from tests.connectors.salesforce.fake_salesforce import FakeSalesforce
from tests.pages.test_data_page import (  # noqa: F401
    app_env,
    demo_copy_url,
    engine_of,
    open_data_page,
    rendered_bytes,
    texts,
)


@pytest.fixture
def small_sf(ca, trusted):  # noqa: F811
    fake = FakeSalesforce(ca, CLIENT_ID, CLIENT_SECRET)
    fake.clock = fake.clock.replace(year=2020)  # the page syncs on the real clock, which is later
    fake.seed(leads=60, opportunities=12)
    fake.start()
    yield fake
    fake.stop()


def configure(monkeypatch, fake, secret: str = CLIENT_SECRET) -> None:
    monkeypatch.setenv("SALESFORCE_LOGIN_URL", fake.base_url)
    monkeypatch.setenv("SALESFORCE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", secret)


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    job = jobs.current(f"salesforce-sync:{os.environ['ACCORD_DATABASE_URL']}")
    if job is not None and job.running:
        assert job.wait(120), "the Salesforce sync did not finish"
        at.run()
        assert not at.exception, at.exception
    return at


def test_without_credentials_sync_is_disabled_and_the_help_says_how(app_env, monkeypatch):  # noqa: F811
    for name in ("SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    at = open_data_page()
    assert at.button(key="salesforce_sync").disabled and at.button(key="salesforce_full_sync").disabled
    assert "Salesforce is not connected" in texts(at) and "Client Credentials Flow" in texts(at)


def test_sync_now_loads_the_org_with_credentials_masked(app_env, monkeypatch, small_sf):  # noqa: F811
    configure(monkeypatch, small_sf)
    at = open_data_page()
    assert any("secret `F4K3…CDEF` from the environment" in m.value for m in at.markdown)

    at = click(at, "salesforce_sync")

    summaries = [s.value for s in at.success if s.value.startswith("Salesforce")]
    assert len(summaries) == 1 and summaries[0].startswith("Salesforce full sync ok"), summaries
    engine = engine_of(app_env)
    assert_matches(engine, small_sf)
    audit = journal.read_audit(engine).iloc[0]
    assert (audit["action"], audit["detail"]["status"]) == ("sync.salesforce", "ok")
    assert "Last sync: full, ok" in texts(at)
    page = rendered_bytes(at)
    assert CLIENT_SECRET.encode() not in page
    assert not any(token.encode() in page for token in small_sf.issued)


def test_a_wrong_secret_is_one_clear_error(app_env, monkeypatch, small_sf):  # noqa: F811
    configure(monkeypatch, small_sf, secret="not-the-right-secret-0000")
    at = click(open_data_page(), "salesforce_sync")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "SALESFORCE_CLIENT_SECRET" in errors[0]
    assert b"not-the-right-secret-0000" not in rendered_bytes(at)
    audit = journal.read_audit(engine_of(app_env)).iloc[0]
    assert (audit["action"], audit["detail"]["status"]) == ("sync.salesforce", "failed")
