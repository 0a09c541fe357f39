"""A link naming a period, team, owner or channel that does not exist says so on the page (AppTest)."""

from __future__ import annotations

import pytest

from tests.conftest import plain
from tests.pages.dashboard_oracle import metrics, open_page, shown_filters


def warnings(at) -> list[str]:
    return [plain(w.value) for w in at.warning]


@pytest.mark.parametrize("page", ["pages/marketing.py", "pages/overview.py"])
def test_unknown_values_are_named_and_what_is_shown_instead_is_said(monkeypatch, tmp_path, demo_db_url, page):
    at = open_page(monkeypatch, tmp_path, demo_db_url, page, period="2019-01", team="Mars", owner="Nobody Here",
                   channel="Carrier pigeon")  # fmt: skip
    f = shown_filters(at)
    said = warnings(at)
    assert f"No month '2019-01' among the last 15; showing {f.period}." in said
    assert "No team called 'Mars'; showing all teams." in said
    assert "No owner called 'Nobody Here'; showing all owners." in said
    assert "No channel called 'Carrier pigeon'; showing all channels." in said
    assert (f.teams, f.owners, f.channels) == ((), (), ())
    everyone = open_page(monkeypatch, tmp_path, demo_db_url, page)
    assert metrics(at) == metrics(everyone)  # the figures are the unfiltered ones the notices name
    assert not [w for w in warnings(everyone) if w.startswith("No ")]


def test_a_known_team_is_kept_beside_an_unknown_one(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/marketing.py", team=["EMEA", "Mars"])
    assert shown_filters(at).teams == ("EMEA",)
    assert "No team called 'Mars'; showing EMEA." in warnings(at)
    emea = open_page(monkeypatch, tmp_path, demo_db_url, "pages/marketing.py", team=["EMEA"])
    assert metrics(at) == metrics(emea)
    assert not [w for w in warnings(emea) if w.startswith("No ")]
