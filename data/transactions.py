"""A transaction on the database, and the one error a refused read or write becomes (:class:`StorageError`).

Every function of the data layer takes a SQLAlchemy ``Engine`` (runs in its own
transaction) or a ``Connection`` (runs inside the caller's transaction, so a
connector can write rows and advance its cursor atomically): :func:`transaction`
gives either as a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from errors import AccordError


class StorageError(AccordError, RuntimeError):
    """The database refused a read or write (read-only, full, locked too long); nothing was half-written."""


# What the database says -> what the user is told. Matched on the driver's message.
_STORAGE_FAULTS = (
    ("readonly", "the database is read-only (check the file's permissions or the user's grants)"),
    ("read-only", "the database is read-only (check the file's permissions or the user's grants)"),
    ("disk is full", "the disk holding the database is full; free space and run it again"),
    ("no space left", "the disk holding the database is full; free space and run it again"),
    ("database is locked", "the database stayed locked by another writer for too long; run it again"),
)


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: the caller's, or a new one committed on success and rolled back on error.

    Storage faults (read-only, full disk, lock timeout) become :class:`StorageError`.
    """
    if isinstance(bind, Connection):
        yield bind
        return
    try:
        with bind.begin() as conn:
            yield conn
    except OperationalError as exc:
        text_ = str(exc.orig).lower()
        for needle, message in _STORAGE_FAULTS:
            if needle in text_:
                raise StorageError(f"Nothing was saved: {message}.") from exc
        raise


@contextmanager
def driver_errors(conn: Connection, statement: str = "") -> Iterator[None]:
    """Work on the raw DBAPI cursor, its errors raised as SQLAlchemy's (so :func:`transaction` maps faults)."""
    try:
        yield
    except conn.dialect.dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.dbapi.Error) from exc
