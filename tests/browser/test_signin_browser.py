"""Sign-in end to end in Chromium: a local OpenID Connect provider, roles, gating by menu and by URL, sign-out.

The test starts ``oidc-provider-mock`` on 127.0.0.1 with three predefined people
and a Streamlit server whose working directory holds a temporary
``.streamlit/secrets.toml`` (``[auth]`` pointing at that provider, ``[accord]``
mapping people to roles). The first test opens a deep link on the freshly
started server, before anyone has loaded the home page.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

import settings
from tests.browser.conftest import free_port, screenshot, serving, stop_process, wait_for_app, watched
from tests.conftest import chromium_path

PEOPLE = {
    "ops": {"email": "ops@example.com", "email_verified": True, "name": "Olivia Ops"},
    "sam": {"email": "sam@example.com", "email_verified": True, "name": "Sam Sales", "groups": ["Sales US"]},
    "stranger": {"email": "stranger@example.org", "email_verified": True, "name": "Stra Nger"},
}
SECRETS = """
[auth]
redirect_uri = "{app}/oauth2callback"
cookie_secret = "browser-test-cookie-secret-0123456789abcdef"
client_id = "accord-test"
client_secret = "browser-test-client-secret"
server_metadata_url = "{idp}/.well-known/openid-configuration"

[accord]
role_claim = "groups"

[accord.roles]
admin = ["ops@example.com"]

[accord.groups]
sales = ["Sales US"]
"""
DATA_PAGE_CAPTION = "Where Accord's numbers come from"
REDIRECT_MS = (
    90_000  # a sign-in or sign-out goes through the provider and a new session: slow on 2 busy cores
)


class IdentityProvider:
    """``oidc-provider-mock`` in a subprocess on a free loopback port."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        for sub, claims in PEOPLE.items():
            command += ["--user-claims", json.dumps({"sub": sub, **claims})]
        self._log = log_path.open("w")
        env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(
                    f"{self.url}/.well-known/openid-configuration", timeout=2
                ) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"oidc-provider-mock did not answer in {timeout} s")

    def stop(self) -> None:
        stop_process(self.process, self._log)


@pytest.fixture(scope="module")
def signin_server(demo_db_url, tmp_path_factory):
    """The dashboard with an [auth] section pointing at a local identity provider (secrets in its own folder)."""
    chromium_path()  # skip (or fail in CI) before starting anything
    folder = tmp_path_factory.mktemp("signin")
    idp = IdentityProvider(folder / "idp.log")
    port = free_port()
    (folder / ".streamlit").mkdir()
    shutil.copy(settings.ROOT / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    (folder / ".streamlit" / "secrets.toml").write_text(
        SECRETS.format(app=f"http://127.0.0.1:{port}", idp=idp.url)
    )
    try:
        idp.wait_ready()
        with serving(
            {"ACCORD_DATABASE_URL": demo_db_url}, folder / "streamlit.log", cwd=folder, port=port
        ) as server:
            yield server
    finally:
        idp.stop()


@pytest.fixture
def browser_page(page: Page, signin_server, request):
    yield from watched(page, signin_server, request)


def open_url(page: Page, url: str) -> None:
    """Open ``url`` and wait for the app's state, not for the page's load event: under load, loading Streamlit's
    scripts after a sign-out once took longer than Playwright's 30 s navigation default."""
    for attempt in range(3):
        try:
            page.goto(url, wait_until="commit", timeout=REDIRECT_MS)
            break
        except PlaywrightError as error:
            if attempt == 2:
                raise
            if "interrupted by another navigation" in str(error):
                # A sign-out's redirect to the provider can still be under way: let it land, then go.
                page.wait_for_load_state("load", timeout=REDIRECT_MS)
            elif "Timeout" in str(error):
                # Once (CI, 2 busy cores) a navigation from the provider's end-session page never committed:
                # leave that page for a blank one, then go again.
                page.goto("about:blank", timeout=REDIRECT_MS)
            else:
                raise
    wait_for_app(page, timeout=REDIRECT_MS)


def sign_in(page: Page, server, sub: str) -> None:
    open_url(page, server.url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=sub, exact=True).click(timeout=REDIRECT_MS)  # a predefined person
    page.wait_for_url(f"{server.url}/**", timeout=REDIRECT_MS)
    wait_for_app(page)
    expect(page.get_by_text("Signed in as")).to_be_visible()


def menu(page: Page) -> list[str]:
    """The titles in the sidebar menu (each link's text is its icon's name, then the title)."""
    return [
        text.split("\n")[-1].strip()
        for text in page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()
    ]


def test_a_deep_link_on_a_fresh_server_shows_only_the_sign_in(browser_page, signin_server):
    frames: list[bytes] = []
    browser_page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
        f if isinstance(f, bytes) else f.encode())))  # fmt: skip
    open_url(browser_page, f"{signin_server.url}/data")
    expect(browser_page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(browser_page.get_by_test_id("stSidebarNav")).to_have_count(0)
    assert not any(DATA_PAGE_CAPTION.encode() in frame for frame in frames)
    screenshot(browser_page, "signin-page")


def test_sales_sees_its_pages_and_no_editor_even_by_url(browser_page, signin_server):
    page = browser_page
    sign_in(page, signin_server, "sam")
    expect(page.get_by_text("role: sales")).to_be_visible()
    shown = menu(page)
    assert "Sales" in shown and "Funnel" in shown and "Agreement" in shown
    assert "Data" not in shown and "Marketing" not in shown
    screenshot(page, "signin-sales")

    open_url(page, f"{signin_server.url}/data")  # not registered for sales: the default page instead
    expect(page.get_by_text(DATA_PAGE_CAPTION)).to_have_count(0)
    expect(page.get_by_role("heading", name="Data", exact=True)).to_have_count(0)

    open_url(page, f"{signin_server.url}/agreement?section=Edit")
    expect(page.get_by_role("heading", name="Agreement", exact=True)).to_be_visible()
    expect(page.get_by_text("Only an admin can change the agreement")).to_be_visible()
    expect(page.get_by_role("button", name="Save", exact=False)).to_have_count(0)


def user_cookies(page: Page) -> list[dict]:
    """The browser's Streamlit sign-in cookies for the app."""
    return [c for c in page.context.cookies() if c["name"].startswith("_streamlit_user")]


def sign_out(page: Page) -> None:
    """Click "Sign out" and wait until the browser no longer holds the sign-in cookie.

    Streamlit clears the session, then its logout route drops the cookie and sends the browser to the
    provider, which asks to end its session too (answered whenever it asks).
    """
    wait_for_app(page)  # a click during a rerun can land on a button that is being replaced
    assert user_cookies(page), "not signed in before Sign out"
    page.get_by_role("button", name="Sign out").click()
    end_session = page.get_by_role("button", name="End session")
    deadline = time.monotonic() + REDIRECT_MS / 1000
    while user_cookies(page) and time.monotonic() < deadline:
        if end_session.is_visible():
            end_session.click()
        page.wait_for_timeout(250)
    assert not user_cookies(page), "still signed in after Sign out"
    # The cookie can go before the provider has asked to end its session: answer it and let its redirect
    # land, so the next navigation does not start inside a pending one.
    page.wait_for_load_state("load", timeout=REDIRECT_MS)
    if end_session.is_visible():
        end_session.click()
        page.wait_for_load_state("load", timeout=REDIRECT_MS)


def test_admin_opens_data_then_signs_out(browser_page, signin_server):
    page = browser_page
    sign_in(page, signin_server, "ops")
    expect(page.get_by_text("Olivia Ops (ops@example.com)")).to_be_visible()
    assert "Data" in menu(page)
    open_url(page, f"{signin_server.url}/data")
    expect(page.get_by_text(DATA_PAGE_CAPTION)).to_be_visible()
    screenshot(page, "signin-admin-data")

    sign_out(page)
    screenshot(page, "signin-after-sign-out")
    open_url(page, signin_server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    open_url(page, f"{signin_server.url}/data")
    expect(page.get_by_text(DATA_PAGE_CAPTION)).to_have_count(0)


def test_someone_without_a_role_is_told_so(browser_page, signin_server):
    page = browser_page
    open_url(page, signin_server.url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="stranger", exact=True).click(timeout=REDIRECT_MS)
    page.wait_for_url(f"{signin_server.url}/**", timeout=REDIRECT_MS)
    wait_for_app(page)
    expect(page.get_by_text("has no role in Accord")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    screenshot(page, "signin-no-role")
    sign_out(page)  # to try another account
    open_url(page, signin_server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
