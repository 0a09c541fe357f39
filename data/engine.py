"""The database engine: one factory, given the database URL by its caller.

The callers (``cli.py``, the command modules, the app's loaders) pass in
:func:`settings.database_url` (``ACCORD_DATABASE_URL`` or the default SQLite
file); nothing here reads a setting.

SQLite (the default, a file under the git-ignored ``var/``) runs in WAL mode
with a busy timeout, so a sync can write while the dashboard reads.
PostgreSQL is any ``postgresql+psycopg://`` URL. A URL that does not parse,
or a server that cannot be reached, becomes one :class:`DatabaseConfigError`
that says which variable to fix, with the password masked.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from data import locks
from errors import AccordError
from settings import masked_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 15_000


class DatabaseConfigError(AccordError, RuntimeError):
    """The database URL is wrong or the database cannot be reached; the message says what to fix."""

    exit_code = 2  # the command cannot start from this input


def make_engine(url: str, *, check: bool = True, variable: str = "ACCORD_DATABASE_URL") -> Engine:
    """An engine for ``url`` (e.g. :func:`settings.database_url`), connected once to check it works.

    ``variable`` is the setting the URL came from, named in the error messages.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number, an unclosed "[" (IPv6)
        raise DatabaseConfigError(
            f"{variable} is not a database URL: {masked_url(url)} (check its host and "
            "port); expected e.g. sqlite:///var/accord.db or postgresql+psycopg://user:password@host:5432/accord"
        ) from None
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not (
            parsed.database.startswith("file:")  # a SQLite URI names an existing file; create nothing
        )
    ):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseConfigError(
            f"{variable} names a database driver that is not installed "
            f"({parsed.drivername}): {exc}. Use sqlite:/// or postgresql+psycopg://"
        ) from None
    if check:
        try:
            with engine.connect():
                pass
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseConfigError(
                f"cannot reach the database at {masked_url(url)}: {reason}. "
                f"Check {variable} (host, port, user, password, database name)."
            ) from None
    return engine


def read_engine(url: str | None, writer: Engine) -> Engine:
    """The engine the dashboard reads through: one on ``url`` (a read replica) when given, else ``writer``.

    ``url`` is ``ACCORD_READ_DATABASE_URL`` as the caller read it. Everything that writes (the first start's
    demo load, syncs, imports, agreement saves, snapshots, alerts, the audit log) keeps using ``writer``;
    the replica's schema is the writer's, migrated there and replicated, so nothing migrates it.
    """
    if not url:
        return writer
    return make_engine(url, variable="ACCORD_READ_DATABASE_URL")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in place (an existing database keeps its rows).

    Under the schema lock (:mod:`data.locks`): servers and commands started together migrate one at a time,
    and the later ones find the schema current.
    """
    with locks.held(engine, locks.SCHEMA):
        command.upgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest schema revision this code knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
