"""The Overview on Monday morning (AppTest): it opens on the week just closed, any of the last 13 weeks can be
chosen, and the link carries the week."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

import settings
from analytics import wording
from analytics.agreement import versions_from_rows
from analytics.snapshots import evaluate_weeks
from data import journal
from data.engine import make_engine
from data.frames import read_window
from tests.conftest import plain
from tests.pages.dashboard_oracle import metrics, open_page, table
from tests.pages.test_figures_cli import figures
from tests.pages.test_overview_page import demo_copy, open_overview, shown  # noqa: F401 (a fixture)
from tests.views.oracle import follow_up_by_rep

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


def test_the_sales_page_shows_a_week_with_the_overviews_definitions(monkeypatch, tmp_path, demo_db_url):
    as_of = pd.Timestamp("2026-11-16 10:00", tz="Europe/Berlin").tz_convert("UTC")
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/sales.py", as_of=f"{as_of:%Y-%m-%dT%H:%MZ}",
                   span="Week")  # fmt: skip
    assert at.selectbox(key="week").value == "2026-W46"  # Monday morning: the week just closed
    assert any("2026-W46: 9–15 November 2026, closed" in c.value for c in at.caption)
    assert any(h.value.startswith("Sales' commitments — week 46 of 2026") for h in at.subheader)
    engine = make_engine(demo_db_url)
    versions = versions_from_rows(journal.read_agreement_versions(engine, "Sales and Marketing SLA"))
    frames = read_window(engine, as_of - pd.Timedelta(days=40), as_of + pd.Timedelta(days=1))
    week = evaluate_weeks(versions, frames, ["2026-W46"], as_of).set_index("metric")
    speed = week.loc["followed_up_within"]
    assert metrics(at)["Follow-up"] == wording.format_value(speed["actual"], "rate", beside=speed["target"])
    row = pd.Timestamp("2026-11-09", tz="Europe/Berlin").tz_convert("UTC")
    by_rep = follow_up_by_rep(versions, frames, row, row + pd.Timedelta(days=7), as_of)
    reps = table(at, "owner_id", "owner", "team").set_index("owner")  # the per-rep table of the week
    assert sorted(reps.index) == sorted(by_rep)
    for rep, counts in by_rep.items():
        assert tuple(reps.loc[rep, ["met", "breached", "pending"]]) == tuple(counts.values()), rep

    at.segmented_control(key="span").set_value("Month").run()  # back to the month
    assert any(h.value.startswith("Sales' commitments — November 2026") for h in at.subheader)


def test_cli_figures_of_a_sales_week_are_the_page(monkeypatch, tmp_path, capsys, demo_db_url):
    as_of = "2026-11-16T09:00Z"  # Monday 10:00 in Berlin: the week just closed
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/sales.py", as_of=as_of, span="Week")
    rows = figures(capsys, monkeypatch, demo_db_url, "--page", "sales", "--sales-week", "--as-of", as_of)
    assert set(rows["period"]) == {"2026-W46"}
    whole = rows[~rows["slice"].str.startswith("rep: ")].set_index("commitment")
    for cid, label in {
        "speed-to-lead": "Follow-up",
        "touches": "Touches",
        "disposition": "Disposition",
    }.items():
        assert metrics(at)[label] == wording.format_value(
            whole.loc[cid, "actual"], "rate", beside=whole.loc[cid, "target"]
        )
    reps = rows[rows["slice"].str.startswith("rep: ")]
    printed = dict(zip(reps["slice"].str.removeprefix("rep: "), reps["actual"], strict=True))
    page_reps = table(at, "owner_id", "owner", "team")
    assert len(printed) == len(page_reps) > 0
    for rep, rate in zip(page_reps["owner"], page_reps["rate"], strict=True):
        assert wording.format_value(printed[rep], "rate", missing="— (none decided)") == rate


def test_a_sales_week_outside_the_last_thirteen_says_so(monkeypatch, tmp_path, demo_db_url):
    # Straight to /sales, as the link opens it (a first run at / would show the Overview's own week notice).
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=120)
    for name, value in {"as_of": MONDAY_MIDNIGHT_BERLIN, "span": "Week", "week": "2025-W01"}.items():
        at.query_params[name] = value
    at.switch_page("pages/sales.py").run()
    assert not at.exception
    assert at.selectbox(key="week").value == "2026-W46"
    assert "No week '2025-W01' among the last 14; showing 2026-W46." in [plain(w.value) for w in at.warning]
