"""Hostile query parameters on every page: a notice at most, never a traceback.

Anyone signed in can type a URL. ``?as_of=NaT`` (or nan, year -1 or 9999, the
pandas bounds) showed full tracebacks; now it is ignored with a notice like any
other bad parameter. Hypothesis then throws random values at every parameter the
pages read, on every page.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import settings
from pages.components import navigation
from pages.components.filters import AS_OF_RANGE, parse_as_of

PAGES = [spec.path for spec in navigation.specs_for("admin")]
EXTREME = ["NaT", "nan", "-0001-01-01", "9999-12-31", "1677-09-21", "2262-04-11", "2262-04-11T23:47:16.854775807",
           "1677-09-21 00:12:43.145224193", "0001-01-01", "1e309", "2026-02-30", "\x00", "%00"]  # fmt: skip


def open_page(path: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=120)
    at.switch_page(path)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


@pytest.mark.parametrize("raw", EXTREME)
def test_extreme_as_of_values_are_refused_with_a_reason(raw):
    stamp, problem = parse_as_of(raw)
    assert stamp is None and problem


@pytest.mark.parametrize("raw", ["1970-01-01", "2199-12-31T23:00Z", "2026-11-27"])
def test_as_of_values_in_range_are_used(raw):
    stamp, problem = parse_as_of(raw)
    assert problem is None and AS_OF_RANGE[0] <= stamp <= AS_OF_RANGE[1]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_shows_a_notice_for_an_extreme_as_of(monkeypatch, demo_db_url, path):
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    for raw in ("NaT", "9999-12-31", "2262-04-11"):
        at = open_page(path, {"as_of": raw})
        assert not at.exception, (path, raw, at.exception)
        assert any("Ignoring as_of=" in w.value for w in at.warning), (path, raw)


VALUES = st.one_of(
    st.sampled_from(
        EXTREME + ["![x](https://evil.example/p.png)", "<script>", "' OR 1=1 --", "2026-W99", "2026-Q9"]
    ),
    st.text(max_size=30),
)
QUERY = st.dictionaries(
    st.sampled_from(["as_of", "period", "team", "owner", "channel", "agreement", "tab", "week"]),
    VALUES | st.lists(VALUES, max_size=3),
    max_size=4,
)


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(PAGES), query=QUERY)
def test_any_query_parameters_on_any_page_never_crash(monkeypatch, demo_db_url, path, query):
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    at = open_page(path, query)
    assert not at.exception, (path, query, at.exception)
