"""Where the store lives: a database URL, its engine, and its errors in people's words.

``ENERGY_NB_DATABASE_URL`` (or ``--db``) names the store: ``sqlite:///path/energy_nb.sqlite`` (the
embedded default, one file in WAL mode) or ``postgresql://user:password@host:port/db`` (a shared
server, through psycopg 3). A bare file path means SQLite. URLs are shown with the password
masked everywhere (:func:`masked`).

On SQLite a write transaction is ``BEGIN IMMEDIATE`` (one writer at a time, readers go on in
WAL); on PostgreSQL it takes a transaction-level advisory lock, the same one-writer rule, and a
read transaction is ``REPEATABLE READ`` (one snapshot for every query inside).

Usage::

    >>> url = parse_url("postgresql://me:secret@127.0.0.1:5432/energy")
    >>> masked(url)
    'postgresql://me:***@127.0.0.1:5432/energy'
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    make_url,
    text,
)
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

#: the advisory lock every PostgreSQL write transaction holds (the store's "one writer" rule)
WRITE_LOCK_KEY = 0x656E62  # "enb"

_ENGINES: dict[tuple[str, float], Engine] = {}
_ENGINES_LOCK = threading.Lock()


class DatabaseUrlError(ValueError):
    """A store URL that is not one energy_nb can use (the message names what is wrong)."""


def parse_url(value: str | Path | URL) -> URL:
    """Parse a store location: a SQLite file path, or a ``sqlite:`` / ``postgresql:`` URL.

    Args:
        value: a path, a URL string or a :class:`sqlalchemy.URL`.

    Returns:
        The URL; PostgreSQL URLs use the psycopg 3 driver.

    Raises:
        DatabaseUrlError: not a URL of a supported database (the password masked in the text).
    """
    if isinstance(value, URL):
        url = value
    elif isinstance(value, Path) or "://" not in str(value):
        if not str(value).strip():
            raise DatabaseUrlError("the store location is empty; give a file or a database URL")
        return URL.create("sqlite", database=str(Path(value).expanduser()))
    else:
        try:
            url = make_url(str(value))
        except ArgumentError as exc:
            raise DatabaseUrlError(
                f"not a database URL: {mask_text(str(value))!r} (expected "
                "sqlite:///path/file.sqlite or postgresql://user:password@host:port/db)") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise DatabaseUrlError(f"{masked(url)}: a SQLite store URL needs a file, "
                                   "e.g. sqlite:////srv/energy_nb/energy_nb.sqlite")
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise DatabaseUrlError(f"{masked(url)}: name the database, "
                                   "e.g. postgresql://user:password@host:5432/energy_nb")
        if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise DatabaseUrlError(f"{masked(url)}: only the psycopg (3) driver is supported; "
                                   "write postgresql://...")
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(f"{masked(url)}: unsupported database {backend!r}; energy_nb "
                           "stores prices in SQLite (sqlite:///file) or PostgreSQL "
                           "(postgresql://user:password@host:port/db)")


def masked(url: URL | str) -> str:
    """The URL as text with its password replaced by ``***``.

    Args:
        url: a URL (or URL text).

    Returns:
        The printable URL; for a SQLite URL, the file path alone.
    """
    if isinstance(url, str):
        return mask_text(url)
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def mask_text(value: str) -> str:
    """Mask the password of a URL written inside ``value`` (e.g. an error message)."""
    import re

    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", value)


def is_sqlite(url: URL) -> bool:
    """Whether the URL names a SQLite file."""
    return url.get_backend_name() == "sqlite"


def engine_for(url: URL, timeout: float = 30.0) -> Engine:
    """The (shared, per process) engine of a store URL.

    SQLite connections open the file in ``rw`` mode (never creating it; the store does that) with
    the busy timeout, and no pool (each use opens the file, as the first release did).
    PostgreSQL connections are pooled.

    Args:
        url: from :func:`parse_url`.
        timeout: seconds to wait for a lock held by another writer.

    Returns:
        The engine.
    """
    key = (url.render_as_string(hide_password=False), float(timeout))
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _sqlite_engine(url, timeout) if is_sqlite(url) else _pg_engine(url, timeout)
            _ENGINES[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests dropping databases, a forked process)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _forget_engines_in_child() -> None:
    """After a fork, the child must not use the parent's pooled connections (SQLAlchemy's rule)."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engines_in_child)


def _sqlite_engine(url: URL, timeout: float) -> Engine:
    path = Path(str(url.database))

    def creator() -> sqlite3.Connection:
        return connect_sqlite(path, timeout)

    engine = create_engine("sqlite://", creator=creator, poolclass=NullPool)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:  # pysqlite's own BEGIN handling is off
        write = conn.get_execution_options().get("energy_nb_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _pg_engine(url: URL, timeout: float) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                           connect_args={"connect_timeout": max(1, int(min(timeout, 10)))})

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get("energy_nb_write", False):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine


def connect_sqlite(path: Path, timeout: float, *, create: bool = False) -> sqlite3.Connection:
    """Open an autocommit connection to a SQLite store file; it is created only when ``create``.

    Args:
        path: the store file.
        timeout: seconds to wait for a lock held by another process.
        create: create the file when it does not exist.

    Returns:
        The connection (``isolation_level=None``: transactions are begun explicitly).

    Raises:
        StoreError: the file cannot be opened (missing, unreadable, damaged).
    """
    from energy_nb.data.store import StoreError, damage_error

    uri = f"{Path(path).resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        error = damage_error(path, exc) if isinstance(exc, sqlite3.DatabaseError) else None
        raise (error or StoreError(f"cannot open the store at {path}: {exc}")) from exc
    return conn


def pg_error_text(exc: DBAPIError, url: URL) -> str:
    """A one-line description of a PostgreSQL error, password masked.

    Args:
        exc: the SQLAlchemy-wrapped driver error.
        url: the store URL.

    Returns:
        The text.
    """
    orig: Any = exc.orig
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if url.password:
        message = message.replace(str(url.password), "***")
    return mask_text(message)


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the connection's transaction, the fastest way the backend has.

    On PostgreSQL the rows are streamed with ``COPY ... FROM STDIN`` (psycopg's copy protocol:
    a 40-year price file in a fraction of the time of a batched ``INSERT``); elsewhere one
    executemany ``INSERT``. Either way they land with the transaction, or not at all.

    Args:
        conn: a connection in a transaction.
        table: the table.
        rows: dicts with the same keys (column names).

    Usage::

        insert_rows(conn, prices, [{"commodity": "WTI", "date": "2024-01-02", ...}, ...])
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"COPY {conn.dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(c) for c in columns)}) FROM STDIN")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    except conn.dialect.dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.dbapi.Error) from exc
    finally:
        cursor.close()


def fetch_rows(conn: Connection, statement: Any) -> list[tuple]:
    """Run a Core SELECT on the driver's own cursor and return plain tuples.

    For bulk reads (thousands of price rows) this skips building a SQLAlchemy ``Row`` per row,
    which costs more than the query itself on SQLite.

    Args:
        conn: a connection in a transaction.
        statement: a Core ``select()``.

    Returns:
        The rows as tuples.
    """
    compiled = statement.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    except Exception as exc:
        if isinstance(exc, sqlite3.Error) or not isinstance(exc, conn.dialect.dbapi.Error):
            raise
        raise DBAPIError.instance(str(compiled), params, exc, conn.dialect.dbapi.Error) from exc
    finally:
        cursor.close()


def table_names(conn: Connection) -> set[str]:
    """The tables of the connected database (its default schema)."""
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


def current_revision(conn: Connection) -> str | None:
    """The Alembic revision recorded in the database, or ``None`` when there is none."""
    if "alembic_version" not in table_names(conn):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])
