"""Health of a store: SQLite integrity, the energy_nb schema, and sane rows.

:func:`check_store` reads a store file without creating, migrating or changing it, and lists what
is wrong with it; :class:`~energy_nb.data.store.PriceStore` runs the quick form whenever it opens a
file, and ``energy-nb data check`` runs the full one. :func:`check_server` runs the same schema
and content checks on a PostgreSQL store (the server checks its own pages); the content rules,
one implementation for both backends, are in :mod:`energy_nb.data.content_check`.

Usage::

    >>> result = check_store("var/energy_nb.sqlite")            # doctest: +SKIP
    >>> result.ok, [p.detail for p in result.problems]          # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from energy_nb.data.store import (
    SCHEMA_VERSION,
    StoreDamagedError,
    StoreError,
    StoreMissingError,
    StoreVersionError,
    connect_existing,
)

#: Rows of ``PRAGMA quick_check`` / ``integrity_check`` reported at most.
MAX_INTEGRITY_LINES = 10

#: Columns holding JSON text, per table (checked by the full check).
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "model_runs": ("params_json", "versions_json", "metrics_json"),
    "forecasts": ("levels_json", "inputs_json", "result_json"),
    "backtests": ("params_json", "stats_json", "trades_json", "equity_json"),
}


@dataclass(frozen=True)
class StoreProblem:
    """One thing wrong with a store file.

    Attributes:
        kind: ``file`` (not a database, empty), ``version`` (schema too new), ``integrity``
            (SQLite's own check or an unreadable page), ``schema`` (missing table or column) or
            ``rows`` (a value no energy_nb code wrote, e.g. a text price).
        detail: what is wrong, for people.
    """

    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return the problem as a JSON-able dict."""
        return {"kind": self.kind, "detail": self.detail}


@dataclass
class StoreCheck:
    """The result of :func:`check_store`.

    Attributes:
        path: the file checked (on PostgreSQL: the URL, password masked).
        full: whether the full check ran: SQLite's ``integrity_check`` and every content rule
            (else ``quick_check`` and the price rows).
        schema_version: the schema version, or ``None`` when unreadable.
        problems: what is wrong; empty when the store is healthy.
        rows: rows per table, for the tables that could be counted (full check only).
        backend: ``"sqlite"`` or ``"postgresql"``.
    """

    path: Path | str
    full: bool
    schema_version: int | None = None
    problems: list[StoreProblem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    backend: str = "sqlite"

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """The first problem, and how many more there are (the ``(...)`` of the error)."""
        if not self.problems:
            return "no problem found"
        more = len(self.problems) - 1
        return self.problems[0].detail + (f"; and {more} more problem(s)" if more else "")

    def error(self) -> StoreError:
        """The error a command raises for this store: damaged, or written by a newer energy_nb."""
        if self.problems and self.problems[0].kind == "version":
            return StoreVersionError(f"the store at {self.path} has {self.problems[0].detail}")
        return StoreDamagedError(self.path, self.summary(), self.problems)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-able dict."""
        if self.backend == "sqlite":
            check = "integrity_check" if self.full else "quick_check"
        else:  # the server keeps its pages sound itself
            check = "schema_and_content"
        return {"store": str(self.path), "ok": self.ok, "check": check,
                "schema_version": self.schema_version,
                "problems": [p.to_dict() for p in self.problems], "rows": dict(self.rows)}


@lru_cache(maxsize=None)
def expected_schema(version: int = SCHEMA_VERSION) -> dict[str, tuple[str, ...]]:
    """The tables and columns a store of a schema version has.

    The current version's come from the declared schema (:mod:`energy_nb.data.schema`, which
    ``tests/data/test_store_backends.py`` holds equal to what the migrations build): every
    dashboard kernel checks its store when it opens it, and running the migrations for that
    imported Alembic, Mako and Pygments into each kernel (136 modules, 10 MiB). An older
    version's come from its Alembic migrations, run on an in-memory SQLite database
    (:func:`migrated_schema`).

    Args:
        version: the schema version, 1..SCHEMA_VERSION.

    Returns:
        ``{table: (column, ...)}`` (without Alembic's own ``alembic_version``).
    """
    if version == SCHEMA_VERSION:
        from energy_nb.data.schema import metadata

        return {table.name: tuple(column.name for column in table.columns)
                for table in metadata.sorted_tables}
    return migrated_schema(version)


def migrated_schema(version: int) -> dict[str, tuple[str, ...]]:
    """The tables and columns the Alembic migrations up to ``version`` build, on an in-memory
    SQLite database.

    Args:
        version: the schema version, 1..SCHEMA_VERSION.

    Returns:
        ``{table: (column, ...)}`` in the database's column order (without ``alembic_version``).
    """
    from sqlalchemy import create_engine

    from energy_nb.data import migrations

    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn, conn.begin():
            migrations.upgrade(conn, f"{version:04d}")
            raw = conn.connection.dbapi_connection
            tables = _tables(raw)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    tables.pop("alembic_version", None)
    return tables


def check_store(path: str | Path, *, full: bool = True, timeout: float = 30.0) -> StoreCheck:
    """Check a store file without creating or changing it.

    Args:
        path: the store file.
        full: run SQLite's ``integrity_check`` and check the JSON columns (slower) instead of
            ``quick_check`` and the price rows only.
        timeout: seconds to wait for a lock held by another process.

    Returns:
        The :class:`StoreCheck`; ``problems`` is empty for a healthy store.

    Raises:
        StoreMissingError: there is no file at ``path``.
    """
    path = Path(path)
    result = StoreCheck(path, full)
    if not path.exists():
        raise StoreMissingError(path)
    if path.is_dir():
        result.problems.append(StoreProblem("file", "it is a folder, not a store file"))
        return result
    if path.stat().st_size == 0:
        result.problems.append(StoreProblem(
            "file", "the file is empty (0 bytes); `energy-nb data init` starts a new store in it"))
        return result
    conn = connect_existing(path, timeout)
    try:
        result.problems.extend(inspect_connection(conn, full=full, result=result))
    finally:
        conn.close()
    cut = _cut_short(path) if result.problems else None
    if cut:
        result.problems.insert(0, StoreProblem("file", cut))
    return result


def _cut_short(path: Path) -> str | None:
    """Say so when the file is shorter than its SQLite header says (a copy cut short)."""
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] != header[92:96] or not pages:  # the header's page count is not valid
        return None
    size, expected = path.stat().st_size, pages * page_size
    if size >= expected:
        return None
    return (f"the file is cut short: {size:,} of {expected:,} bytes "
            f"({size // page_size} of {pages} pages)")


def inspect_connection(conn: sqlite3.Connection, *, full: bool,
                       result: StoreCheck | None = None) -> list[StoreProblem]:
    """List what is wrong with the open database (read only).

    Args:
        conn: a connection to the store file.
        full: run the full checks (see :func:`check_store`).
        result: if given, its ``schema_version`` and ``rows`` are filled in.

    Returns:
        The problems found, in the order integrity, version, schema, rows.
    """
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = _tables(conn)
        if "alembic_version" in tables:  # the Alembic revision, when newer than the mirror
            row = conn.execute("SELECT max(version_num) FROM alembic_version").fetchone()
            version = max(version, _revision_number(row[0] if row else None))
    except sqlite3.DatabaseError as exc:
        if str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_CORRUPT"):
            return [StoreProblem("integrity", f"SQLite: {exc}")]
        return [StoreProblem("file", f"not a usable SQLite database: {exc}")]
    if result is not None:
        result.schema_version = version
    problems = _integrity(conn, full)
    if version > SCHEMA_VERSION:
        return [StoreProblem(
            "version", f"schema version {version}, newer than this energy_nb understands "
                       f"({SCHEMA_VERSION}); upgrade energy_nb"), *problems]
    if version == 0:
        named = ", ".join(sorted(tables)) if tables else "none"
        problems.append(StoreProblem(
            "schema", f"not an energy_nb store: schema version 0, tables: {named}"))
        return problems
    expected = expected_schema(version)
    missing, whole = schema_problems(tables, expected)
    problems.extend(missing)
    if full:
        problems.extend(_content(conn, whole))
    elif "prices" in whole:
        problems.extend(_price_rows(conn))
    if full:
        if result is not None:
            for table in expected:
                if table in tables:
                    count = _query(conn, f"SELECT COUNT(*) FROM {table}", problems)
                    if count:
                        result.rows[table] = int(count[0][0])
    return problems


def _revision_number(revision: str | None) -> int:
    from energy_nb.data.store import _revision_number as number

    return number(revision)


def _tables(conn: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {name: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({name!r})"))
            for name in names}


def _query(conn: sqlite3.Connection, sql: str, problems: list[StoreProblem]) -> list[tuple]:
    """Run a read; an unreadable page becomes an integrity problem instead of an exception."""
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        table = re.search(r"\bFROM (\w+)", sql)
        what = f"table {table.group(1)}" if table else sql
        problem = StoreProblem("integrity", f"cannot read {what}: {exc}")
        if problem not in problems:
            problems.append(problem)
        return []


def _integrity(conn: sqlite3.Connection, full: bool) -> list[StoreProblem]:
    pragma = "integrity_check" if full else "quick_check"
    problems: list[StoreProblem] = []
    rows = _query(conn, f"PRAGMA {pragma}({MAX_INTEGRITY_LINES})", problems)
    lines = [line.strip() for r in rows for line in str(r[0]).splitlines()]
    lines = [line for line in lines if line and line != "ok" and not line.startswith("***")]
    problems.extend(StoreProblem("integrity", f"SQLite {pragma}: {line}")
                    for line in lines[:MAX_INTEGRITY_LINES])
    return problems


#: The two kinds of bad price row, as both price-row checks name them (this SQLite quick check
#: and :func:`energy_nb.data.content_check.price_row_problems`, the portable full one).
BAD_PRICE_DATE = "a date that is not a valid YYYY-MM-DD date"
BAD_PRICE_VALUE = "a price that is not a number"


def price_rows_problem(what: str, count: int, examples: Iterable[tuple]) -> StoreProblem:
    """The problem both price-row checks report for one kind of bad row.

    Args:
        what: :data:`BAD_PRICE_DATE` or :data:`BAD_PRICE_VALUE`.
        count: how many rows.
        examples: a few ``(commodity, date, price)`` rows.

    Returns:
        E.g. ``2 price rows with a price that is not a number, e.g. WTI date '2020-01-02' ...``.
    """
    shown = "; ".join(f"{code} date {day!r} price {price!r}" for code, day, price in examples)
    return StoreProblem("rows", f"{count} price row{'s' if count != 1 else ''} with {what}, "
                                f"e.g. {shown}")


def _price_rows(conn: sqlite3.Connection) -> list[StoreProblem]:
    """The price-row rule in SQL, one pass over the table (the quick check of every page open)."""
    problems: list[StoreProblem] = []
    checks = (
        (BAD_PRICE_DATE, "date(date, '+0 days') IS NOT date"),
        (BAD_PRICE_VALUE, "typeof(price) NOT IN ('real', 'integer', 'null')"),
    )
    # one pass over the table counts both kinds of bad row; examples only when there are some
    sums = ", ".join(f"SUM({condition})" for _, condition in checks)
    counts = _query(conn, f"SELECT {sums} FROM prices", problems)
    for (what, condition), n in zip(checks, counts[0] if counts else ()):
        if not n:
            continue
        examples = _query(conn, f"SELECT commodity, date, price FROM prices WHERE {condition} "
                                "LIMIT 3", problems)
        problems.append(price_rows_problem(what, n, examples))
    return problems


def schema_problems(tables: dict[str, tuple[str, ...]] | dict[str, set[str]],
                    expected: dict[str, tuple[str, ...]]) -> tuple[list[StoreProblem], set[str]]:
    """Compare the tables and columns found with those a schema version has.

    Args:
        tables: ``{table: columns}`` found in the store.
        expected: ``{table: columns}`` of the store's schema version (:func:`expected_schema`).

    Returns:
        The ``schema`` problems, and the names of the tables that have all their columns.
    """
    problems, whole = [], set()
    for table, columns in expected.items():
        missing = [c for c in columns if c not in tables.get(table, columns)]
        if table not in tables:
            problems.append(StoreProblem("schema", f"table {table} is missing"))
        elif missing:
            problems.append(StoreProblem(
                "schema", f"table {table} lacks column(s) {', '.join(missing)}"))
        else:
            whole.add(table)
    return problems, whole


def _content(conn: sqlite3.Connection, tables: set[str]) -> list[StoreProblem]:
    """The content rules (:mod:`energy_nb.data.content_check`) on an open SQLite file."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from energy_nb.data.content_check import content_problems

    # the rules speak SQLAlchemy: an engine over this very connection (nothing else opens it)
    engine = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
    with engine.connect() as wrapped:
        return content_problems(wrapped, tables)


def check_server(store: Any) -> StoreCheck:
    """The full check of a PostgreSQL store: its schema version, tables and columns, and the
    content rules (the same as a SQLite file's, :mod:`energy_nb.data.content_check`); read only.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore` on PostgreSQL, opened with
            ``verify=False`` (a damaged one is listed, not refused).

    Returns:
        The :class:`StoreCheck` (``rows`` per table, ``problems`` empty when healthy).
    """
    from sqlalchemy import func, inspect, select

    from energy_nb.data.content_check import content_problems
    from energy_nb.data.database import current_revision
    from energy_nb.data.schema import TABLES

    result = StoreCheck(store.location, full=True, backend=store.backend)
    with store.read() as conn:
        result.schema_version = _revision_number(current_revision(conn))
        found = inspect(conn)
        tables = {name: tuple(c["name"] for c in found.get_columns(name))
                  for name in found.get_table_names()}
    if result.schema_version > SCHEMA_VERSION:
        result.problems.append(StoreProblem(
            "version", f"schema version {result.schema_version}, newer than this energy_nb "
                       f"understands ({SCHEMA_VERSION}); upgrade energy_nb"))
        return result
    missing, whole = schema_problems(tables, expected_schema(result.schema_version or 1))
    result.problems.extend(missing)
    with store.read() as conn:
        result.problems.extend(content_problems(conn, whole))
    with store.read() as conn:
        for table in TABLES:
            if table.name in tables:
                result.rows[table.name] = int(conn.execute(
                    select(func.count()).select_from(table)).scalar() or 0)
    return result
