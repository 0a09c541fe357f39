"""The Overview on Monday morning (AppTest): it opens on the week just closed, any of the last 13 weeks can be
chosen, and the link carries the week."""

from __future__ import annotations

import pandas as pd

from tests.conftest import plain
from tests.pages.test_overview_page import demo_copy, open_overview, shown  # noqa: F401 (a fixture)

MONDAY_MIDNIGHT_BERLIN = "2026-11-15T23:00Z"  # Monday 16 November 2026, 00:00 in Europe/Berlin


def weeks_shown(at) -> set[str]:
    """The weeks the cards name ('**MQL volume** · 2026-W46')."""
    return {label.rsplit(" · ", 1)[1] for label in shown(at) if label.startswith("**")}


def test_monday_midnight_opens_on_the_week_just_closed(monkeypatch, demo_copy):  # noqa: F811
    at = open_overview(monkeypatch, demo_copy, as_of=MONDAY_MIDNIGHT_BERLIN)
    picker = at.selectbox(key="week")
    assert picker.value == "2026-W46"
    assert picker.options[0] == "2026-W47" and len(picker.options) == 14  # the current week and 13 before
    assert weeks_shown(at) == {"2026-W46"}
    assert any("2026-W46 (9–15 November 2026, closed)" in c.value for c in at.caption)


def test_after_the_first_working_day_it_opens_on_the_week_in_progress(monkeypatch, demo_copy):  # noqa: F811
    closing = pd.Timestamp("2026-11-16 17:30", tz="Europe/Berlin").tz_convert("UTC")
    before = open_overview(
        monkeypatch, demo_copy, as_of=f"{closing - pd.Timedelta(minutes=1):%Y-%m-%dT%H:%MZ}"
    )
    assert before.selectbox(key="week").value == "2026-W46"
    after = open_overview(monkeypatch, demo_copy, as_of=f"{closing:%Y-%m-%dT%H:%MZ}")
    assert after.selectbox(key="week").value == "2026-W47"


def test_a_week_of_an_earlier_period_can_be_chosen_and_the_link_carries_it(monkeypatch, demo_copy):  # noqa: F811
    at = open_overview(monkeypatch, demo_copy, as_of=MONDAY_MIDNIGHT_BERLIN, week="2026-W36")
    assert at.selectbox(key="week").value == "2026-W36"  # 31 Aug - 6 Sep: the 11th week before
    assert weeks_shown(at) == {"2026-W36"}
    assert not [w for w in at.warning if "No week" in w.value]
    at.selectbox(key="week").select("2026-W40").run()
    assert weeks_shown(at) == {"2026-W40"}  # (the URL follows in the browser: tests/browser)
    assert not [w for w in at.warning if "No week" in w.value]


def test_a_week_outside_the_last_thirteen_says_so(monkeypatch, demo_copy):  # noqa: F811
    at = open_overview(monkeypatch, demo_copy, as_of=MONDAY_MIDNIGHT_BERLIN, week="2026-W30")
    assert at.selectbox(key="week").value == "2026-W46"
    assert any(
        "No week '2026-W30' among the last 14; showing 2026-W46." in w
        for w in map(plain, (w.value for w in at.warning))
    )
