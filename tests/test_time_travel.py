"""Time travel over the calendar's edges: the dashboard on a demo company generated "today", at instants
where a period, a week, a year or the clocks change in the agreement's timezone (Europe/Berlin).

The rest of the suite runs at one pinned instant (tests/conftest.py). Here the clock is moved to each
edge (time-machine in this process, ACCORD_NOW for the app's clock), the demo company is generated as
of that day, and every dashboard page must open on the period that holds the instant in Berlin, without
an error, with the MQL count a slow count of the raw table gives.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import text

from bootstrap import load_demo_if_empty
from data.engine import make_engine, upgrade
from tests.pages.dashboard_oracle import metrics, open_page, shown_filters

BERLIN = ZoneInfo("Europe/Berlin")

EDGES = {
    # 00:30 on the 1st in Berlin is still the 30th of the previous month in UTC.
    "first day of a month": dt.datetime(2026, 12, 1, 0, 30, tzinfo=BERLIN),
    "Monday 00:00": dt.datetime(2026, 11, 23, 0, 0, tzinfo=BERLIN),
    "New Year": dt.datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN),
    # 02:00 CET becomes 03:00 CEST; 03:00 CEST becomes 02:00 CET (01:00 UTC both times).
    "DST starts": dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC),
    "DST ends": dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC),
}
PAGES = ("pages/overview.py", "pages/marketing.py", "pages/sales.py", "pages/funnel.py")


def slow_mql_count(url: str, now: dt.datetime) -> int:
    """Handovers from the start of ``now``'s Berlin month up to ``now``, counted row by row from the raw
    tables: a lead's stored handovers when it has two or more (recycled, re-qualified), else its mql_at;
    archived leads do not count."""
    engine = make_engine(url)
    with engine.connect() as conn:
        leads = conn.execute(
            text(
                "SELECT source, external_id, mql_at FROM leads WHERE mql_at IS NOT NULL AND (archived IS NULL OR archived = 0)"
            )
        ).all()
        handovers = conn.execute(text("SELECT source, lead_external_id, mql_at FROM handovers")).all()
    engine.dispose()
    by_lead: dict[tuple, list] = {}
    for source, lead, micros in handovers:
        by_lead.setdefault((source, lead), []).append(micros)
    instants = []
    for source, lead, micros in leads:
        many = by_lead.get((source, lead), [])
        instants += many if len(many) >= 2 else [micros]
    local_now = now.astimezone(BERLIN)
    count = 0
    for micros in instants:  # SQLite keeps instants as integer epoch microseconds, UTC
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))
        local = moment.astimezone(BERLIN)
        if (local.year, local.month) == (local_now.year, local_now.month) and moment <= now:
            count += 1
    return count


@pytest.mark.slow
@pytest.mark.parametrize("edge", EDGES, ids=list(EDGES))
def test_every_page_at_a_calendar_edge(edge, tmp_path, monkeypatch):
    now = EDGES[edge].astimezone(dt.UTC)
    with time_machine.travel(now, tick=False):
        monkeypatch.setenv("ACCORD_NOW", now.isoformat())
        url = f"sqlite:///{tmp_path / 'accord.db'}"
        engine = make_engine(url)
        upgrade(engine)
        assert load_demo_if_empty(engine, leads=1_500)
        engine.dispose()

        local = now.astimezone(BERLIN)
        for page in PAGES:
            at = open_page(monkeypatch, tmp_path, url, page, as_of="")  # no ?as_of=: the app's own clock
            f = shown_filters(at)
            assert f.as_of == now.replace(second=0, microsecond=0), page
            assert f.period_start <= now < f.period_end, (page, f.period_start, f.period_end)
            assert f.period_start.tz_convert(BERLIN).month == local.month, page
            if page == "pages/marketing.py":
                assert metrics(at)["MQLs"] == f"{slow_mql_count(url, now):,}"
        # The case that once failed early in a month: one channel, possibly empty so far.
        open_page(monkeypatch, tmp_path, url, "pages/funnel.py", as_of="", channel=["Events"])
