"""Jobs are scheduled commands (``cli.py`` from cron or a systemd timer), never run inside a dashboard server.

With N servers behind a proxy a job started by each server would run N times; so no page starts one on its
own. The one thread a page may start is a job a person clicked (a sync or an import on the Data page,
pages/components/jobs.py), refused across servers while another run of it is going (data.syncs.start_run).
"""

from __future__ import annotations

import re
import shutil
import threading

from streamlit.testing.v1 import AppTest

import settings
from cli import build_parser
from pages.components import loaders

APP = str(settings.ROOT / "app.py")
PAGES = ("pages/overview.py", "pages/sales.py", "pages/marketing.py", "pages/funnel.py", "pages/agreement.py",
         "pages/data.py")  # fmt: skip
BACKGROUND = re.compile(r"\b(Thread|Timer|ThreadPoolExecutor)\(|\bsched\b|apscheduler|\bschedule\.every")


def test_opening_every_page_starts_no_background_thread(demo_db_url, tmp_path, monkeypatch):
    path = tmp_path / "accord.db"
    shutil.copy(
        demo_db_url.removeprefix("sqlite:///"), path
    )  # the Overview freezes last week: a private copy
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{path}")
    before = {thread.ident for thread in threading.enumerate()}
    at = AppTest.from_file(APP, default_timeout=120).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    started = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    loaders.clear()
    assert started == []


def test_only_a_job_someone_clicked_may_start_a_thread_in_the_app():
    sources = [settings.ROOT / "app.py", *sorted((settings.ROOT / "pages").rglob("*.py"))]
    starting = {str(p.relative_to(settings.ROOT)) for p in sources if BACKGROUND.search(p.read_text())}
    assert starting == {"pages/components/jobs.py"}
    assert ".start()" in (settings.ROOT / "pages/components/jobs.py").read_text()  # the pattern still matches


def test_every_job_is_a_command_cron_can_run():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"sync", "alerts", "snapshot", "report"} <= set(commands)
    assert {"hubspot", "salesforce"} <= set(commands["sync"]._subparsers._group_actions[0].choices)
