"""A secret in any form: tokens carrying \\r, \\n, spaces and quotes never show, however they are quoted.

A secrets or .env file with CRLF line ends gives a token ending in "\\r". Sent as
a header it failed with Python's "Invalid header value b'Bearer pat-…\\r'": the
token in its escaped form, which a scrubber looking for the raw token missed, and
which then reached the CLI's stderr, ``sync_runs.error`` and the Data page.
These tests run the real HubSpot sync (the HubSpot SDK over HTTP) against the
local fake HubSpot, and look for every form of the token (raw, repr-escaped,
bytes-escaped, JSON, URL-encoded) and for its middle everywhere it could land.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import cli
import settings
from data import journal, syncs
from data.engine import make_engine
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot, seeded_frames
from tests.security.conftest import rendered, stored_text

TOKEN = "pat-eu1-7c0d2b9e-FORMS-TOKEN-4a1f-8e3c5b7d9f20"


def assert_no_form(secret: str, **places: str | bytes) -> None:
    """Fail naming the place where any form of ``secret`` (or of its middle half) shows up."""
    middle = secret[len(secret) // 4 : -len(secret) // 4]
    needles = settings.secret_forms(secret) | settings.secret_forms(middle) | {secret.strip()}
    for where, text in places.items():
        blob = text if isinstance(text, bytes) else str(text).encode("utf-8", "replace")
        for needle in needles:
            assert needle.encode() not in blob, f"the secret's form {needle!r} appears in {where}"


@pytest.fixture(scope="module")
def hubspot():
    """A local HubSpot holding a small demo company, expecting :data:`TOKEN`."""
    fake = FakeHubSpot(TOKEN, search_per_second=50)
    fake.seed(seeded_frames(40, today=dt.date(2026, 6, 30)))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


# ----------------------------------------------------------------------------- the one scrubber

SECRET = st.text(
    alphabet=st.sampled_from("abcXYZ019-_.:/@%+=\r\n\t \"'\\é€"), min_size=8, max_size=40
).filter(lambda s: len(s.strip()) >= 8 and len(s[len(s) // 4 : -len(s) // 4].strip()) >= 4)


@hypothesis_settings(max_examples=300, deadline=None)
@given(secret=SECRET, before=st.text(max_size=10), after=st.text(max_size=10))
def test_scrub_removes_every_form_of_a_secret(secret, before, after):
    for form in settings.secret_forms(secret):
        message = f"{before}Invalid header value b'Bearer {form}'{after}"
        shown = settings.scrub(message, secret)
        assert form not in shown, (form, shown)
        assert settings.mask(secret) in shown


def test_scrub_finds_the_configured_secrets_without_being_told(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN + "\r")
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql+psycopg://u:p%40ss%20w0rd@h/db")
    text = f"{TOKEN!r} {(TOKEN + chr(13)).encode()!r} p%40ss%20w0rd 'p@ss w0rd' p%40ss+w0rd"
    shown = settings.scrub(text)
    assert_no_form(TOKEN, shown=shown)
    assert "p@ss" not in shown and "p%40ss" not in shown


def test_settings_are_stripped_when_read(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", f" {TOKEN}\r\n")
    assert settings.get("HUBSPOT_ACCESS_TOKEN") == TOKEN
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    secrets = tmp_path / "secrets.toml"
    secrets.write_bytes(f'HUBSPOT_ACCESS_TOKEN = "{TOKEN}\\r"\r\nHUBSPOT_BASE_URL = "  "\r\n'.encode())
    assert settings.get("HUBSPOT_ACCESS_TOKEN", secrets) == TOKEN
    assert settings.get("HUBSPOT_BASE_URL", secrets) == "https://api.hubapi.com"  # blank is unset


def test_runs_and_audit_entries_are_scrubbed_when_recorded(engine, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN + "\r")
    run_id = syncs.start_run(engine, "hubspot", "sync")
    escaped = repr((TOKEN + "\r").encode())
    syncs.finish_run(engine, run_id, "failed", error=f"unexpected ValueError: Invalid header {escaped}")
    journal.add_audit(engine, "ops", "sync.hubspot", "hubspot",
                         {"error": escaped, "tries": [{"url": f"https://x/?t={TOKEN}%0D"}]})  # fmt: skip
    assert_no_form(TOKEN + "\r", database=stored_text(engine))
    assert settings.mask(TOKEN) in syncs.read_sync_runs(engine)["error"].iloc[0]


# ----------------------------------------------------------------------------- through the real sync


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n", " ", "\t "])
def test_a_token_with_a_line_end_or_space_around_it_still_syncs(
    monkeypatch, capsys, everything_logged, tmp_path, hubspot, ending
):
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", f"{ending}{TOKEN}{ending}")
    monkeypatch.setenv("HUBSPOT_BASE_URL", hubspot.base_url)
    assert cli.main(["sync", "hubspot", "--full"]) == 0
    out, err = capsys.readouterr()
    runs = syncs.read_sync_runs(make_engine(url))
    assert runs["status"].tolist() == ["ok"]
    assert_no_form(TOKEN, stdout=out, stderr=err, log=everything_logged.text)


BROKEN = {
    "a line break inside": TOKEN[:20] + "\r\n" + TOKEN[20:],
    "a carriage return inside": TOKEN[:20] + "\r" + TOKEN[20:],
    "a space inside": TOKEN[:12] + " " + TOKEN[12:],
    "double quotes": f'"{TOKEN}"',
    "single quotes": f"'{TOKEN}'",
    "a tab and quote": TOKEN[:30] + "\t'" + TOKEN[30:],
}


@pytest.mark.parametrize("token", BROKEN.values(), ids=BROKEN.keys())
def test_a_token_with_a_character_no_token_has_fails_in_one_line_and_leaks_nowhere(
    monkeypatch, capsys, everything_logged, tmp_path, hubspot, demo_db_url, token
):
    shutil.copyfile(demo_db_url.removeprefix("sqlite:///"), tmp_path / "accord.db")  # the Data page has data
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", hubspot.base_url)
    assert cli.main(["sync", "hubspot"]) == 1
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "HUBSPOT_ACCESS_TOKEN" in err, err
    engine = make_engine(url)
    runs = syncs.read_sync_runs(engine)
    assert runs["status"].iloc[0] == "failed" and "Copy it again" in runs["error"].iloc[0]
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=90)
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    for secret in (token, TOKEN):
        assert_no_form(secret, stdout=out, stderr=err, log=everything_logged.text,
                       database=stored_text(engine), data_page=rendered(at))  # fmt: skip


def test_the_cli_process_masks_a_token_in_a_traceback(tmp_path):
    # Anything unexpected still prints a traceback; the CLI's stderr masks every form of every secret in it.
    broken = TOKEN[:20] + "\r" + TOKEN[20:]
    code = (
        "import os, sys, cli; sys.stderr = cli.ScrubbedStream(sys.stderr); "
        "token = os.environ['HUBSPOT_ACCESS_TOKEN']; "
        "raise ValueError(f'Invalid header value {token.encode()!r}, {token!r}, {token}')"
    )
    env = {"HUBSPOT_ACCESS_TOKEN": broken, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(settings.ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "Traceback" in done.stderr and "Invalid header value" in done.stderr
    assert_no_form(broken, stderr=done.stderr)


@pytest.mark.parametrize(
    "template",
    [
        "postgresql+psycopg://u:{pw}@[::1:8699/accord",  # the IPv6 host's "]" is missing
        "postgresql+psycopg://u:{pw}@db:54x32/accord",  # a port that is not a number
        "postgresql+psycopg://u:{pw}@db:99999999999999999999/accord",
        "postgresql+psycopg://u:{pw}@[zz::1]:5432/accord",
    ],
)
def test_a_malformed_database_url_is_one_line_with_the_password_masked(monkeypatch, capsys, template):
    password = "Malformed-Pw-31f9c2"
    monkeypatch.setenv("ACCORD_DATABASE_URL", template.format(pw=password))
    assert cli.main(["db", "status"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "ACCORD_DATABASE_URL" in err and "u:***@" in err, err
    assert_no_form(password, stdout=out, stderr=err)
