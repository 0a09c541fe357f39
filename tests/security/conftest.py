"""Helpers of the security tests: AppTest routed like a real server, and scanners for leaked secrets."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, table
from sqlalchemy import column as sql_column
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest


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


@pytest.fixture
def served_like_a_server(monkeypatch):
    """:func:`route_like_a_server` for one test."""
    route_like_a_server(monkeypatch)


def rendered(at: AppTest) -> bytes:
    """Everything the app sent to the browser in its last run: every element, serialised."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(out)


def stored_text(engine: Engine) -> str:
    """Every value of every column of every table in the database, as one text to search."""
    parts: list[str] = []
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            columns = [c["name"] for c in inspect(conn).get_columns(name)]
            for row in conn.execute(select(*[sql_column(c) for c in columns]).select_from(table(name))):
                parts.extend(str(value) for value in row if value is not None)
    return "\n".join(parts)


def assert_nowhere(secret: str, **places: str | bytes) -> None:
    """Fail naming the place where ``secret`` (or its distinctive middle) shows up."""
    needles = {secret, secret[len(secret) // 4 : -len(secret) // 4]}
    for where, text in places.items():
        blob = text if isinstance(text, bytes) else str(text).encode("utf-8", "replace")
        for needle in needles:
            assert needle.encode() not in blob, f"the secret {needle!r} appears in {where}"
