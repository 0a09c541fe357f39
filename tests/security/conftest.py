"""Helpers of the security tests: scanners for leaked secrets, and the database the fuzz tests import into."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, select, table
from sqlalchemy import column as sql_column
from streamlit.testing.v1 import AppTest

from tests.conftest import migrated_engine


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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_engine(request, tmp_path_factory):
    """One database for all examples of a test; each example imports under its own source."""
    engine = migrated_engine(request.param, tmp_path_factory.mktemp("hostile"))
    yield engine
    engine.dispose()


def alias_chain(levels: int, key: str = "bomb", width: int = 9) -> str:
    """A YAML mapping entry ``key`` holding an alias chain: ``width ** levels`` strings once expanded.

    Nine levels of nine are 521 bytes that expand to 387 million values (the "billion laughs").
    """
    lines = [f"{key}:", '  a0: &a0 "lol"']
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"
