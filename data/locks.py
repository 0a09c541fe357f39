"""A named lock shared by every process on one database: what must happen once happens once.

Two dashboard servers started together on an empty database (N servers behind
one proxy) would otherwise both create the schema, both save the default
agreement and both load the demo company. :func:`held` serialises them: the
second waits, then finds the work done.

- PostgreSQL: a session advisory lock (``pg_advisory_lock``) on a connection of
  its own, so it spans the separate transactions of the work it guards, and is
  let go when that connection ends (a crashed holder never leaves it taken).
- SQLite: an exclusive ``flock`` on a file beside the database (``accord.db.lock``).
  A SQLite file is only ever shared by processes on one machine, and the
  kernel lets the lock go when its holder exits.
- In-memory SQLite is private to its connection: nothing to share, no lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

try:
    import fcntl
except ImportError:  # Windows: no flock; one server per SQLite file there
    fcntl = None

FIRST_START = "accord.first-start"  # the default agreement and the demo load of an empty database
SCHEMA = "accord.schema"  # migrating the schema


def lock_key(name: str) -> int:
    """The signed 64-bit key of lock ``name`` for ``pg_advisory_lock`` (stable across processes).

    >>> lock_key("accord.schema") == lock_key("accord.schema") != lock_key("accord.first-start")
    True
    """
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def lock_file(engine: Engine, name: str) -> Path | None:
    """The file a SQLite database's lock ``name`` is taken on, beside the database; None for in-memory SQLite."""
    database = engine.url.database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return path.with_name(f"{path.name}.{name.removeprefix('accord.')}.lock")


@contextmanager
def held(engine: Engine, name: str) -> Iterator[None]:
    """Hold lock ``name`` on ``engine``'s database for the block, waiting while any other holder has it.

    Not re-entrant: a block must not take the lock it is inside of (a different name is fine).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = lock_key(name)
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = lock_file(engine, name) if engine.dialect.name == "sqlite" else None
    if path is None or fcntl is None:
        yield
        return
    try:
        handle = path.open("a")
    except OSError:  # a read-only folder: nobody can write this database, so there is nothing to serialise
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the holder; released on close (or the holder's exit)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
