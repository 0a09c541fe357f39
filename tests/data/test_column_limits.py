"""The column limits the mappers check (``analytics.schema``) are the ones the migrated database enforces.

The migrations are frozen copies of the schema: changing a limit in ``TEXT_LIMITS`` without a migration
fails here, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, inspect

from analytics.schema import COLUMNS, INT, STR, TEXT_LIMITS


def _stored(engine, table: str) -> dict:
    return {c["name"]: c["type"] for c in inspect(engine).get_columns(table)}


def test_every_stored_text_column_has_its_limit_in_the_schema_and_the_database_agrees(engine):
    for table, limits in TEXT_LIMITS.items():
        stored = _stored(engine, table)
        text_columns = {name for name, dtype in COLUMNS[table].items() if dtype == STR and name in stored}
        assert set(limits) == text_columns, table  # no stored text column without a limit, none made up
        for name, limit in limits.items():
            assert isinstance(stored[name], String) and stored[name].length == limit, f"{table}.{name}"


def test_every_stored_whole_number_column_is_a_32_bit_integer(engine):
    """``analytics.schema.INT_MAX`` is what the file mapper allows; a BIGINT column would need a larger one."""
    for table in TEXT_LIMITS:
        stored = _stored(engine, table)
        for name, dtype in COLUMNS[table].items():
            if dtype == INT and name in stored:
                assert isinstance(stored[name], Integer), f"{table}.{name}"
                assert not isinstance(stored[name], BigInteger), f"{table}.{name}"
