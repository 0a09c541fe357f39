"""One "as of" per data generation: new tabs reuse the instant in use, and the views computed for it, until the
data change, ACCORD_AS_OF_REUSE_MINUTES pass or someone asks to recompute now (AppTest; each AppTest is a
new tab, i.e. a new session of the same server process).

The clock moves with time_machine. The generation itself is cached for loaders.GENERATION_TTL seconds of
real (monotonic) time, which time_machine does not move: where a test writes outside the app, it clears that
short cache to stand for those seconds passing.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import time_machine
from streamlit.testing.v1 import AppTest

import clock
import settings
import views.sales
from agreements import store
from analytics.periods import last_closed_week
from bootstrap import DEFAULT_AGREEMENT
from data import generation, syncs
from data.engine import make_engine
from pages.components import loaders
from reports import weeks
from tests.conftest import plain
from tests.pages.dashboard_oracle import APP, copy_database, shown_filters

PAGE = "pages/sales.py"
AGREEMENT = "Sales and Marketing SLA"
TIMEZONE = "Europe/Berlin"  # the default agreement's


@pytest.fixture
def url(demo_db_url, tmp_path, monkeypatch) -> str:
    """A private copy of the demo database (the as_of in use and the caches are kept per URL)."""
    copied = copy_database(demo_db_url, tmp_path)
    monkeypatch.setenv("ACCORD_DATABASE_URL", copied)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "no-secrets.toml")  # runs open, as an admin
    frozen = make_engine(copied)  # the first look at the Overview freezes the last closed week (a write):
    weeks.freeze_week(
        frozen, AGREEMENT, last_closed_week(pd.Timestamp(clock.now()), TIMEZONE), pd.Timestamp(clock.now())
    )  # done here, so that the tests start from unchanging data
    frozen.dispose()
    loaders.clear()
    # Each test starts a second into a minute (the suite's clock ticks on), so that it crosses a minute only
    # where it travels on purpose.
    with time_machine.travel(pd.Timestamp(clock.now()).ceil("min") + pd.Timedelta(seconds=1), tick=True):
        yield copied
    loaders.clear()


@pytest.fixture
def builds(monkeypatch) -> list[pd.Timestamp]:
    """The as_of of every Sales view built (the loader imports views.sales.sales_view when it builds one)."""
    seen = []
    build = views.sales.sales_view

    def counted(versions, frames, queue_frames, f, clock=None):
        seen.append(f.as_of)
        return build(versions, frames, queue_frames, f, clock)

    monkeypatch.setattr(views.sales, "sales_view", counted)
    return seen


def new_tab(page: str = PAGE, **params) -> AppTest:
    """A new session opened on ``page`` with query ``params``; it ran without an exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def as_of(at: AppTest) -> pd.Timestamp:
    return shown_filters(at).as_of


def later(minutes: float):
    """The clock ``minutes`` after now (ticking on from there)."""
    return time_machine.travel(clock.now() + dt.timedelta(minutes=minutes), tick=True)


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption] + [c.value for c in at.sidebar.caption]


def test_a_new_tab_minutes_later_with_no_write_reuses_the_as_of_and_the_view(url, builds):
    first = new_tab()
    start = as_of(first)
    assert start == pd.Timestamp(clock.now()).ceil("min")
    with later(3):
        second = new_tab()
        assert as_of(second) == start
        second.run()  # a rerun of the same tab too
        assert as_of(second) == start
    assert builds == [start]  # built once, for both tabs and the rerun
    # The page says the instant its figures are as of: the one used, in the agreement's timezone.
    tz = shown_filters(second).document.timezone
    shown = f"{start.tz_convert(tz):%Y-%m-%d %H:%M} ({tz})"
    assert any(f"As of {shown}" in c for c in captions(second)), captions(second)
    assert any(f"as of {shown}" in c for c in captions(second)), captions(second)


def test_a_sync_run_written_outside_the_app_starts_a_new_as_of_and_view(url, builds):
    start = as_of(new_tab())
    with later(2):
        engine = make_engine(url)
        run = syncs.start_run(engine, "file:crm", "import")  # e.g. cli.py import, or another server
        syncs.finish_run(engine, run, "ok", {"leads": 0})
        engine.dispose()
        loaders.generation.clear()  # the few seconds the generation is cached for have passed
        after = as_of(new_tab())
        assert after == pd.Timestamp(clock.now()).ceil("min") > start
    assert builds == [start, after]


def test_an_agreement_saved_in_the_app_starts_a_new_as_of_never_before_it(url, builds):
    start = as_of(new_tab())
    with later(1.5):
        saved = store.save(
            make_engine(url), DEFAULT_AGREEMENT.read_text(), None, author="Ada", reason="targets"
        )
        loaders.clear()  # what the Agreement page does after a save
        after = as_of(new_tab())
    assert after > start
    assert after >= saved.created_at
    assert builds == [start, after]


def test_a_write_in_the_same_minute_keeps_the_instant_but_builds_the_view_again(url, builds):
    first = as_of(new_tab())
    engine = make_engine(url)
    syncs.finish_run(engine, syncs.start_run(engine, "file:crm", "import"), "ok", {})
    engine.dispose()
    loaders.generation.clear()
    assert as_of(new_tab()) == first  # now to the minute is still that minute (never before the write)
    assert len(builds) == 2  # but the view is of the new data: views are kept per data generation


def test_after_the_reuse_minutes_the_as_of_moves(url, builds, monkeypatch):
    monkeypatch.setenv("ACCORD_AS_OF_REUSE_MINUTES", "4")
    start = as_of(new_tab())  # now rounded up: up to a minute ahead of the clock
    with later(4):
        assert pd.Timestamp(clock.now()) - start < pd.Timedelta(minutes=4)
        assert as_of(new_tab()) == start
    with later(5.5):  # the as_of is 4.5 minutes old
        moved = as_of(new_tab())
        assert moved == pd.Timestamp(clock.now()).ceil("min") > start
    assert builds == [start, moved]


def test_zero_minutes_is_now_to_the_minute_every_time(url, builds, monkeypatch):
    monkeypatch.setenv("ACCORD_AS_OF_REUSE_MINUTES", "0")
    start = as_of(new_tab())
    with later(2):
        at = new_tab()
        assert as_of(at) == pd.Timestamp(clock.now()).ceil("min") > start
        assert not _has_button(at)  # nothing to recompute: every run is now
    assert len(builds) == 2


def _has_button(at: AppTest) -> bool:
    return any(b.key == "_accord_recompute_as_of" for b in at.button)


def test_a_bad_reuse_setting_stops_with_its_name(url, monkeypatch):
    monkeypatch.setenv("ACCORD_AS_OF_REUSE_MINUTES", "five")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]  # one message, not a traceback
    shown = [plain(e.value) for e in at.error]
    assert any("ACCORD_AS_OF_REUSE_MINUTES: expected a whole number" in s for s in shown), shown


def test_as_of_in_the_link_pins_the_instant_exactly(url, builds):
    new_tab()
    with later(2):
        at = new_tab(as_of="2026-11-10T12:34Z")
    assert as_of(at) == pd.Timestamp("2026-11-10T12:34Z")
    assert not _has_button(at)  # a pinned instant is not recomputed
    assert builds[-1] == pd.Timestamp("2026-11-10T12:34Z")


def test_recompute_now_starts_a_new_as_of_for_every_tab(url, builds):
    start = as_of(new_tab())
    with later(2):
        at = new_tab()
        assert as_of(at) == start
        at.button(key="_accord_recompute_as_of").click().run()
        assert not at.exception, [e.message for e in at.exception]
        now = pd.Timestamp(clock.now()).ceil("min")
        assert as_of(at) == now > start
        assert as_of(new_tab()) == now  # another tab opened after it shows the same new instant
    assert builds == [start, now]


def test_opening_pages_writes_nothing_that_changes_the_generation(url):
    engine = make_engine(url)
    before = generation.generation(engine)  # the last closed week is frozen already (the url fixture)
    for page in ("pages/sales.py", "pages/marketing.py", "pages/funnel.py", "pages/overview.py"):
        new_tab(page)
    assert generation.generation(engine) == before
    engine.dispose()
