"""Fixtures shared by the whole suite.

Tests that need a server or a browser skip locally with the reason, and are
forced to run in CI: ``.ci/run`` sets ``ACCORD_REQUIRE_SERVICES=1``, which turns
every such skip into a failure.

- ``engine``: a fresh, migrated database, once on SQLite and once on
  PostgreSQL (``ACCORD_TEST_POSTGRES_URL``, e.g.
  ``postgresql+psycopg://accord@127.0.0.1:55432/accord_test``).
- ``sqlite_engine``: a fresh, migrated SQLite database only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import text
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

import clock
from data.engine import make_engine, upgrade
from data.models import SyncRun

POSTGRES_URL_VAR = "ACCORD_TEST_POSTGRES_URL"
CHROMIUM = "/usr/bin/chromium"

# The instant the whole suite runs at: a Wednesday mid-month, mid-week, between the DST switches. No test
# reads the real clock; tests about calendar edges travel from here (tests/test_time_travel.py).
PINNED_NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


def pytest_configure(config):
    """Pin "now" before collection: in this process by time-machine (ticking from PINNED_NOW, so timeouts
    still pass), and for every server or CLI the tests start through ACCORD_NOW, which they inherit."""
    os.environ["ACCORD_NOW"] = PINNED_NOW.isoformat()
    clock.READ_PIN = (
        False  # here time-machine moves the clock (tests travel further); servers read ACCORD_NOW
    )
    traveller = time_machine.travel(PINNED_NOW, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def plain(markdown: str) -> str:
    """Text a page escaped for Markdown (analytics.wording.literal) as the reader sees it: backslashes off."""
    return re.sub(r"\\(.)", r"\1", markdown)


def clock_env() -> dict[str, str]:
    """``ACCORD_NOW`` for a server or command a test starts: this process's (pinned) now, so what the child
    records and what the test recorded just before are on one clock. Add it to an environment built from
    scratch (one that drops the ``ACCORD_`` variables)."""
    return {"ACCORD_NOW": dt.datetime.now(dt.UTC).isoformat()}


def services_required() -> bool:
    """True in CI, where a missing server or browser is a failure, not a skip."""
    return os.environ.get("ACCORD_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip the calling test locally; fail it when services are required (CI)."""
    if services_required():
        pytest.fail(f"{reason} (ACCORD_REQUIRE_SERVICES=1: this test must run here)")
    pytest.skip(reason)


def dataset_folder(name: str) -> Path:
    """Where public data set ``name`` is: under ``ACCORD_DATASETS`` if set, else ``../shared/datasets``
    beside the repository (the first place that has it; the last place if none does)."""
    places = [Path(os.environ["ACCORD_DATASETS"])] if os.environ.get("ACCORD_DATASETS") else []
    places.append(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    places.append(Path("/work/shared/datasets"))  # the workplace's shared folder, for a clone made elsewhere
    return next((p / name for p in places if (p / name).is_dir()), places[-1] / name)


def require_dataset(name: str) -> Path:
    """:func:`dataset_folder`, or a skip locally and a failure in CI when the data set is not there."""
    folder = dataset_folder(name)
    if not folder.is_dir():
        skip_or_fail(f"the {name} data set is not at {folder} (set ACCORD_DATASETS to its parent folder)")
    return folder


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VAR) or None


def chromium_path() -> str:
    """Debian's chromium, or a skip (a failure in CI) when it is not installed."""
    if not shutil.which(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


def reset_postgres(url: str | None):
    """An engine on ``url`` (default: the test PostgreSQL) whose public schema was emptied and migrated."""
    engine = empty_postgres(url)
    upgrade(engine)
    return engine


def empty_postgres(url: str | None = None):
    """An engine on ``url`` (default: the test PostgreSQL) with an empty public schema, not migrated.

    Without a test PostgreSQL the test is skipped (failed in CI)."""
    url = url or postgres_url()
    if url is None:
        skip_or_fail(f"no PostgreSQL: set {POSTGRES_URL_VAR} to run the PostgreSQL variant")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    """The URL of an empty database (no schema): a new SQLite file, or the emptied test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accord.db'}"
    engine = empty_postgres(None)
    engine.dispose()
    return engine.url.render_as_string(hide_password=False)


def migrated_engine(backend: str, folder: Path):
    """A migrated, empty database: a SQLite file in ``folder``, or the emptied test PostgreSQL."""
    if backend == "postgresql":
        return reset_postgres(postgres_url())
    engine = make_engine(f"sqlite:///{folder / 'accord.db'}")
    upgrade(engine)
    return engine


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = migrated_engine("sqlite", tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    engine = migrated_engine(request.param, tmp_path)
    yield engine
    engine.dispose()


DEMO_TEST_LEADS = 3_000


@pytest.fixture(scope="session")
def demo_db_url(tmp_path_factory) -> str:
    """A SQLite database holding a small demo company (3,000 leads), built once per test session.

    The one seeded data set behind the AppTest and browser tests; treat it as read-only.
    """
    from bootstrap import load_demo_if_empty

    path = tmp_path_factory.mktemp("demo") / "accord.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo_if_empty(engine, leads=DEMO_TEST_LEADS)
    engine.dispose()
    return url


# ----------------------------------------------------------------------------- AppTest


def _run_main_script(main_script_path: str) -> None:
    """Run app.py as the entry point, as a real server does once legacy ``pages/`` routing is off."""
    PagesManager.uses_pages_directory = False
    module = types.ModuleType("__main__")
    module.__dict__["__file__"] = main_script_path
    exec(compile(Path(main_script_path).read_text(), main_script_path, "exec"), module.__dict__)  # noqa: S102


def route_like_a_server(monkeypatch) -> None:
    """Make AppTest run app.py on every run, the way a real server routes.

    AppTest resets Streamlit's legacy-``pages/`` flag before every run, so without
    this a rerun on (or a switch to) a page runs that page's file on its own,
    without app.py's sign-in gate and role-built navigation (a real server turns
    that mode off for good on its first run: pages/components/__init__.py).
    """
    monkeypatch.setattr(script_runner, "_mpa_v1", _run_main_script)


@pytest.fixture(autouse=True)
def served_like_a_server(monkeypatch):
    """Every test's AppTest routes like a real server (:func:`route_like_a_server`)."""
    route_like_a_server(monkeypatch)


def signed_in_as(at, email: str, role: str) -> None:
    """Configure AppTest ``at`` for sign-in (a provider that is never called) with ``email`` signed in as ``role``."""
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "not-a-real-secret",
        "client_id": "accord", "client_secret": "not-a-real-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }  # fmt: skip
    at.secrets["accord"] = {"roles": {role: [email]}}
    at.user = {"is_logged_in": True, "email": email, "email_verified": True, "name": email.split("@")[0]}


def pretend_run(engine, run_id: int, **values) -> None:
    """Rewrite who runs ``run_id`` and when it was last heard from, as another process would have left it."""
    table = SyncRun.__table__
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == run_id).values(**values))


@pytest.fixture
def other_process():
    """A live process on this machine that is not the test's."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def dead_pid() -> int:
    """The id of a process on this machine that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
