"""Real-browser fixtures: a `streamlit run` on a free loopback port and Debian's Chromium.

Locally these tests skip when /usr/bin/chromium is missing; CI installs it and
sets ACCORD_REQUIRE_SERVICES=1, which makes a missing browser a failure.
Screenshots go to artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import settings
from tests.conftest import chromium_path

SCREENSHOTS = settings.ROOT / "artifacts" / "screenshots"
# CI shares 2 cores between the browser, the server and pytest: give assertions time before failing.
expect.set_options(timeout=30_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, log) -> None:
    """Stop a test server's process (killed if it does not stop within 10 s) and close its log."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


class StreamlitServer:
    """`streamlit run app.py` in a subprocess, with its log kept for failure reports.

    ``cwd`` is where Streamlit looks for ``.streamlit/`` (config and secrets); ``port``: a free one unless given;
    ``app``: another tree's app.py (bench/bench_pages_against.py runs an earlier commit's beside this one).
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        cwd: Path = settings.ROOT,
        port: int | None = None,
        app: Path = settings.ROOT / "app.py",
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "streamlit", "run", str(app),
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"streamlit did not become healthy in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        stop_process(self.process, self._log)


@contextmanager
def serving(env: dict[str, str], log_path: Path, **where) -> Iterator[StreamlitServer]:
    """A started and healthy :class:`StreamlitServer` (``where``: its ``cwd``/``port``), stopped afterwards."""
    chromium_path()  # skip (or fail in CI) before starting anything
    server = StreamlitServer(env, log_path, **where)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def demo_copy(demo_db_url: str, folder: Path) -> str:
    """The URL of a private copy of the demo database in ``folder``, for a test that writes."""
    path = folder / "accord.db"
    shutil.copyfile(demo_db_url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


def watched(page: Page, server, request) -> Iterator[Page]:
    """Yield ``page``; JavaScript errors on it fail the test, and a failed test prints the server's log.

    For fixtures: ``yield from watched(page, server, request)``.
    """
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(f"--- streamlit log ---\n{server.log()}")
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def app_server(demo_db_url, tmp_path_factory):
    """The dashboard served on the shared demo database (read it, never write: other tests share it)."""
    with serving(
        {"ACCORD_DATABASE_URL": demo_db_url}, tmp_path_factory.mktemp("logs") / "streamlit.log"
    ) as server:
        yield server


@pytest.fixture
def app_page(page: Page, app_server, request):
    """A browser page on the dashboard; on failure the server log is printed."""
    yield from watched(page, app_server, request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def wait_for_app(page: Page, timeout: float = 60_000) -> None:
    """Wait until Streamlit finished running the script (the signal Streamlit's own e2e suite uses)."""
    page.wait_for_timeout(250)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout
    )
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
