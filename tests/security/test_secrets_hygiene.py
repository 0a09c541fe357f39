"""Secrets hygiene: a recognisable fake token and password never show in output, logs, pages or tables.

The CLI and the app run with a fake HubSpot token, a database password and
sign-in secrets; everything they print, log (caplog, DEBUG), render (every
element of every page) and store (every column of every table) is searched for
each secret and for its middle half (so a "masked" value that still shows most
of it is caught too). A local HubSpot stand-in answers every request with an
error whose body echoes the Authorization header back, as a hostile or buggy
proxy could.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

import cli
import settings
from connectors.hubspot.client import HubSpotError
from connectors.hubspot.settings import HubSpotConfig
from connectors.hubspot.sync import sync
from data.engine import make_engine, upgrade
from pages.components import navigation
from tests.conftest import postgres_url, reset_postgres, skip_or_fail
from tests.security.conftest import assert_nowhere, rendered, stored_text

TOKEN = "pat-eu1-0b5e7c1a-HYGIENE-TOKEN-d00d-4f3a9e2c7b61"
PASSWORD = "Hygiene-Pw-7d2c91e4b8"
COOKIE_SECRET = "hygiene-cookie-secret-5a8e0f4b1c"
CLIENT_SECRET = "hygiene-client-secret-9c3d7e2a6f"
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": COOKIE_SECRET,
    "client_id": "accord",
    "client_secret": CLIENT_SECRET,
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
UNREACHABLE_DB = f"postgresql+psycopg://accord:{PASSWORD}@127.0.0.1:1/accord"


class EchoingHubSpot:
    """A HubSpot stand-in on 127.0.0.1 answering every request with ``status`` and the caller's token echoed."""

    def __init__(self, status: int):
        self.requests = 0

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                outer.requests += 1
                echoed = self.headers.get("Authorization", "")
                body = json.dumps({
                    "status": "error",
                    "message": f"Request with header '{echoed}' failed",
                    "category": "VALIDATION_ERROR",
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "errors": [{"message": f"scope crm.objects.owners.read missing for {echoed}"}],
                    "context": {"requiredGranularScopes": [echoed]},
                }).encode()  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "argv",
    [
        ["db", "status"],
        ["db", "upgrade"],
        ["demo", "--leads", "50"],
        ["import", "leads", "x.csv"],
        ["sync", "hubspot"],
    ],  # fmt: skip
)
def test_cli_errors_never_show_the_database_password(monkeypatch, capsys, everything_logged, argv):
    monkeypatch.setenv("ACCORD_DATABASE_URL", UNREACHABLE_DB)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert "ACCORD_DATABASE_URL" in err and "accord:***@127.0.0.1:1" in err  # says where, masked
    assert_nowhere(PASSWORD, stdout=out, stderr=err, log=everything_logged.text)
    assert_nowhere(TOKEN, stdout=out, stderr=err, log=everything_logged.text)


def test_the_cli_process_prints_no_password(tmp_path):
    env = {"ACCORD_DATABASE_URL": UNREACHABLE_DB, "HUBSPOT_ACCESS_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(settings.ROOT / "cli.py"), "db", "status"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert_nowhere(PASSWORD, stdout=done.stdout, stderr=done.stderr)


@pytest.mark.parametrize("status", [401, 403, 400, 404])
def test_a_hubspot_echoing_the_token_never_gets_it_shown_logged_or_stored(
    monkeypatch, capsys, everything_logged, tmp_path, status
):
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    with EchoingHubSpot(status) as hubspot:
        monkeypatch.setenv("ACCORD_DATABASE_URL", url)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("HUBSPOT_BASE_URL", hubspot.url)
        assert cli.main(["sync", "hubspot"]) == 1
        assert hubspot.requests >= 1
    out, err = capsys.readouterr()
    assert err.strip()  # one line says what went wrong
    assert_nowhere(
        TOKEN, stdout=out, stderr=err, log=everything_logged.text, database=stored_text(make_engine(url))
    )


@pytest.mark.parametrize("status", [500, 429])
def test_retried_answers_echoing_the_token_keep_it_out_of_progress_errors_and_runs(
    everything_logged, tmp_path, status
):
    engine = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    upgrade(engine)
    progress: list[str] = []
    with EchoingHubSpot(status) as hubspot:
        config = HubSpotConfig(token=TOKEN, base_url=hubspot.url, backoff_seconds=0.01, max_attempts=3,
                               window_seconds=0.05)  # fmt: skip
        with pytest.raises(HubSpotError) as failure:
            sync(engine, config=config, progress=lambda *a, **k: progress.append(repr((a, k))))
    assert_nowhere(TOKEN, error=str(failure.value), progress="\n".join(progress), log=everything_logged.text,
                   database=stored_text(engine))  # fmt: skip


# ----------------------------------------------------------------------------- the app


@pytest.fixture
def demo_copy(demo_db_url, tmp_path) -> str:
    target = tmp_path / "accord.db"
    shutil.copyfile(demo_db_url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


def every_page(at: AppTest) -> dict[str, bytes]:
    """What each page of an admin's menu rendered, by page."""
    shown = {"(default)": rendered(at)}
    for spec in navigation.specs_for("admin"):
        at.switch_page(spec.path).run()
        assert not at.exception, (spec.path, at.exception)
        shown[spec.path] = rendered(at)
    return shown


def test_no_page_shows_the_token_or_the_sign_in_secrets(monkeypatch, everything_logged, demo_copy):  # fmt: skip
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_copy)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=90)
    at.secrets["auth"] = AUTH
    at.secrets["accord"] = {"roles": {"admin": ["ops@example.com"]}}
    at.user = {"is_logged_in": True, "email": "ops@example.com", "email_verified": True, "name": "Ops"}
    at.run()
    assert not at.exception, at.exception
    pages = every_page(at)
    assert len(pages) == 1 + len(navigation.specs_for("admin"))
    for secret in (TOKEN, COOKIE_SECRET, CLIENT_SECRET):
        assert_nowhere(
            secret, log=everything_logged.text, database=stored_text(make_engine(demo_copy)), **pages
        )


def test_a_database_password_stays_out_of_output_pages_and_tables(monkeypatch, capsys, everything_logged):  # fmt: skip
    base = postgres_url()
    if base is None:
        skip_or_fail("no PostgreSQL: set ACCORD_TEST_POSTGRES_URL to run the database password check")
    # the test cluster trusts local connections, so any password gets in: the URL carries it all the same
    url = make_url(base).set(password=PASSWORD).render_as_string(hide_password=False)
    engine = reset_postgres(url)
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    assert cli.main(["demo", "--leads", "300"]) == 0
    assert cli.main(["db", "status"]) == 0
    out, err = capsys.readouterr()
    assert "accord:***@" in out or ":***@" in out  # db status names the database, masked
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    pages = every_page(at)
    assert any(b":***@" in page for page in pages.values())  # the Data page shows the URL masked
    assert_nowhere(PASSWORD, stdout=out, stderr=err, log=everything_logged.text, database=stored_text(engine),
                   **pages)  # fmt: skip
