"""PriceStore: the store behind a URL, on SQLite (the embedded default) or PostgreSQL.

Dashboards, the CLI and the live server read and write the same store concurrently. On SQLite
(one file, WAL mode) readers go on during an import, and each import is one ``BEGIN IMMEDIATE``
transaction; on PostgreSQL each import is one transaction holding the store's write lock (see
:mod:`energy_nb.data.database`), so on both a reader sees all of an import or none of it. The
schema is migrated with Alembic (:mod:`energy_nb.data.migrations`); the tables are in
:mod:`energy_nb.data.schema`, and the SQL of runs, forecasts and backtests in
:mod:`energy_nb.data.repositories`.

Import semantics: importing the same data twice changes nothing; new dates are appended; a
different value for a stored date is a conflict, reported and left alone unless
``replace=True``; any error leaves the store exactly as it was.

Usage::

    >>> store = PriceStore("var/energy_nb.sqlite")                 # doctest: +SKIP
    >>> report = store.import_series(                              # doctest: +SKIP
    ...     read_price_csv("wti-daily.csv", commodity="WTI"))
    >>> store.load("wti").tail(1)                                 # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    URL,
    Connection,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from energy_nb.commodities import CODES, get_commodity
from energy_nb.config import Settings
from energy_nb.data.database import (
    DatabaseUrlError,
    connect_sqlite,
    current_revision,
    engine_for,
    fetch_rows,
    insert_rows,
    is_sqlite,
    masked,
    parse_url,
    pg_error_text,
    table_names,
)
from energy_nb.data.errors import (  # noqa: F401 - defined there, raised and re-exported here
    StoreDamagedError,
    StoreError,
    StoreMissingError,
    StoreVersionError,
)
from energy_nb.data.schema import backtests, imports, model_runs, prices, series_versions
from energy_nb.data.validation import Flag, PriceSeries, find_flags

#: The schema version this energy_nb writes: the number of the newest Alembic revision in
#: :mod:`energy_nb.data.migrations` (``0001`` -> 1; a test keeps the two equal). The first release
#: counted it in ``PRAGMA user_version``, which SQLite stores still mirror.
SCHEMA_VERSION = 1


class ImportConflictError(StoreError):
    """An import would change stored prices; nothing was written.

    Attributes:
        conflicts: ``(date, stored price, new price, source line)`` per conflicting date.
    """

    def __init__(self, source: str, conflicts: list[tuple[date, float | None, float | None, int]]):
        self.conflicts = conflicts
        shown = "; ".join(
            f"{d.isoformat()} stored {_fmt(old)} vs {_fmt(new)} (line {line})"
            for d, old, new, line in conflicts[:5]
        )
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        super().__init__(
            f"{source}: {len(conflicts)} date(s) already stored with a different price: "
            f"{shown}{more}."
            " Nothing was imported; pass replace=True (CLI: --replace) to overwrite them."
        )


@dataclass
class ImportReport:
    """What one import did.

    Attributes:
        commodity: canonical code.
        source: file or URL.
        rows_read: observations in the source.
        added: new dates stored.
        replaced: stored dates whose price was overwritten (``replace=True`` only).
        unchanged: dates already stored with the same price.
        flags: quirks in the imported data (non-positive, missing, gap).
    """

    commodity: str
    source: str
    rows_read: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-able dict."""
        return {
            "commodity": self.commodity,
            "source": self.source,
            "rows_read": self.rows_read,
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "flags": [f.to_dict() for f in self.flags],
        }


class PriceStore:
    """The store of prices, model runs, forecasts and backtests, on SQLite or PostgreSQL.

    Args:
        path: the SQLite database file, or a database URL (``sqlite:///file`` or
            ``postgresql://user:password@host:port/db``; see :mod:`energy_nb.data.database`).
        timeout: seconds to wait for a lock held by another process.
        create: create the store when missing (for SQLite the file and its folder; for
            PostgreSQL the tables in the existing database) and set up an empty one; with
            ``False`` (commands that only read) a missing or empty store is an error and nothing
            is created.
        verify: run the quick health check on opening (SQLite: ``quick_check``, tables and
            columns, price rows; PostgreSQL: tables and columns); a damaged store raises
            :class:`StoreDamagedError`.

    Raises:
        StoreMissingError: ``create`` is false and there is no store there.
        StoreDamagedError: the store is damaged (see :mod:`energy_nb.data.store_check`).
        StoreVersionError: the store was written by a newer energy_nb.
        StoreError: a bad URL, or a server that cannot be reached (password masked).

    Usage::

        store = PriceStore.from_settings()
        wti = store.load("WTI", start="2020-01-01")
    """

    def __init__(self, path: str | Path | URL, *, timeout: float = 30.0, create: bool = True,
                 verify: bool = True) -> None:
        try:
            self.url = parse_url(path)
        except DatabaseUrlError as exc:
            raise StoreError(str(exc)) from exc
        self.timeout = timeout
        #: ``"sqlite"`` or ``"postgresql"``
        self.backend = "sqlite" if is_sqlite(self.url) else "postgresql"
        #: the SQLite file (``None`` on PostgreSQL)
        self.path: Path | None = Path(str(self.url.database)) if self.backend == "sqlite" else None
        #: where the store is, for people: the file, or the URL with its password masked
        self.location = masked(self.url)
        if self.path is not None:
            self._prepare_file(create)
        self.engine = engine_for(self.url, timeout)
        if self.path is not None:
            self._migrate_sqlite(create)
        else:
            self._migrate_server(create)
        if verify:
            self.verify()

    def _prepare_file(self, create: bool) -> None:
        assert self.path is not None
        if self.path.is_dir():
            raise StoreError(f"the store at {self.path} is a folder, not a file; give a file name")
        if not self.path.exists():
            if not create:
                raise StoreMissingError(self.path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store folder {self.path.parent}: {exc}") from exc
            connect_sqlite(self.path, self.timeout, create=True).close()
        elif not create and self.path.stat().st_size == 0:
            raise StoreDamagedError(self.path, "the file is empty (0 bytes); `energy-nb data "
                                               "init` starts a new store in it")

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, create: bool = True) -> PriceStore:
        """Open the configured store (``ENERGY_NB_DATABASE_URL``, else in ``ENERGY_NB_HOME``).

        Args:
            settings: settings to use instead of the environment's.
            create: create the store when missing (see :class:`PriceStore`).

        Returns:
            The store.
        """
        settings = settings or Settings.from_env()
        return cls(settings.database_url, create=create)

    def verify(self, *, full: bool = False) -> None:
        """Check the store's health and raise if it is damaged.

        Args:
            full: SQLite's full ``integrity_check`` and the JSON columns too (slower).

        Raises:
            StoreDamagedError: what is wrong (every problem in its ``problems``).
        """
        if self.path is None:
            self._verify_server()
            return
        from energy_nb.data.store_check import check_store

        result = check_store(self.path, full=full, timeout=self.timeout)
        if not result.ok:
            raise result.error()

    def _verify_server(self) -> None:
        from energy_nb.data.store_check import expected_schema, schema_problems

        with self.read() as conn:
            rows = conn.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()")).all()
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        problems = [p.detail for p in schema_problems(found, expected_schema())[0]]
        if problems:
            more = f"; and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
            raise StoreDamagedError(self.location, problems[0] + more)

    # -- connections -------------------------------------------------------------------------

    def _damage(self, exc: BaseException) -> StoreError | None:
        """The store error a driver error met while using the store stands for, if any."""
        if isinstance(exc, DBAPIError):
            if self.path is None:
                return _server_error(self.location, self.url, exc)
            exc = exc.orig  # type: ignore[assignment]
        if self.path is not None and isinstance(exc, sqlite3.DatabaseError):
            return damage_error(self.path, exc)
        return None

    def _opening_damage(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The error for a file SQLite cannot even open: what the health check finds in it."""
        from energy_nb.data.store_check import check_store

        assert self.path is not None
        error = damage_error(self.path, exc) or StoreDamagedError(
            self.path, f"not a usable SQLite database: {exc}")
        try:
            result = check_store(self.path, full=False, timeout=self.timeout)
        except StoreError:
            return error
        return error if result.ok else result.error()

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(energy_nb_write=True)
                elif self.path is None:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except (DBAPIError, sqlite3.DatabaseError) as exc:
            error = self._damage(exc)
            if error is None:
                raise
            raise error from exc

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on error.

        One writer at a time: SQLite ``BEGIN IMMEDIATE``; PostgreSQL an advisory lock.

        Yields:
            The SQLAlchemy connection to execute statements on.
        """
        with self._connection(write=True) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: every query inside sees one consistent snapshot.

        Yields:
            The SQLAlchemy connection to query.
        """
        with self._connection(write=False) as conn:
            yield conn

    def _migrate_sqlite(self, create: bool) -> None:
        assert self.path is not None
        conn = connect_sqlite(self.path, self.timeout)
        try:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")]
                revision = None
                if "alembic_version" in tables:
                    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                    revision = row[0] if row else None
            except sqlite3.DatabaseError as exc:
                raise self._opening_damage(exc) from exc
        finally:
            conn.close()
        if mode.lower() != "wal":  # pragma: no cover - e.g. a read-only or network file system
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
        number = max(version, _revision_number(revision))
        if number > SCHEMA_VERSION:
            raise StoreVersionError(
                f"the store at {self.path} has schema version {number}, newer than this "
                f"energy_nb understands ({SCHEMA_VERSION}); upgrade energy_nb")
        if version == 0 and revision is None and (tables or not create):
            named = ", ".join(sorted(tables)) or "none"
            raise StoreDamagedError(
                self.path, f"not an energy_nb store: schema version 0, tables: {named}")
        if version == SCHEMA_VERSION and _revision_number(revision) == SCHEMA_VERSION:
            return
        self._upgrade()

    def _migrate_server(self, create: bool) -> None:
        try:
            with self.engine.connect() as conn:
                revision = current_revision(conn)
                tables = table_names(conn)
        except DBAPIError as exc:
            raise _server_error(self.location, self.url, exc) from exc
        number = _revision_number(revision)
        if number > SCHEMA_VERSION:
            raise StoreVersionError(
                f"the store at {self.location} has schema version {number}, newer than this "
                f"energy_nb understands ({SCHEMA_VERSION}); upgrade energy_nb")
        if number == SCHEMA_VERSION:
            return
        if revision is None and tables:
            raise StoreDamagedError(self.location, "not an energy_nb store: no schema version, "
                                    f"tables: {', '.join(sorted(tables))}")
        if revision is None and not create:
            raise StoreMissingError(self.location)
        self._upgrade()

    def _upgrade(self) -> None:
        """Run the Alembic migrations in one write transaction (another process may race us)."""
        from energy_nb.data import migrations

        with self.transaction() as conn:
            revision = current_revision(conn)  # re-read inside the lock
            if revision is None and self.path is not None:
                legacy = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
                if legacy:  # made by the first release: its tables are revision 0001's
                    migrations.stamp(conn, f"{legacy:04d}")
            migrations.upgrade(conn)
            if self.path is not None:
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        """The schema version of the open store (its Alembic revision's number)."""
        with self.read() as conn:
            return _revision_number(current_revision(conn))

    # -- writing -------------------------------------------------------------------------------

    def import_series(self, series: PriceSeries, *, replace: bool = False) -> ImportReport:
        """Import one parsed source in one transaction.

        Args:
            series: observations from :func:`energy_nb.data.validation.read_price_csv` or a
                download.
            replace: overwrite stored prices that differ (otherwise that is an error).

        Returns:
            What was added, replaced and left unchanged, and the data's flags.

        Raises:
            ImportConflictError: a stored date has a different price and ``replace`` is false.
        """
        return self.import_many([series], replace=replace)[0]

    def import_many(self, batch: Sequence[PriceSeries], *,
                    replace: bool = False) -> list[ImportReport]:
        """Import several sources in ONE transaction: all of them land, or none.

        Args:
            batch: parsed sources.
            replace: overwrite stored prices that differ.

        Returns:
            One report per source.

        Raises:
            ImportConflictError: on any conflict without ``replace``; nothing is written.
        """
        now = _now()
        reports: list[ImportReport] = []
        with self.transaction() as conn:
            for series in batch:
                code = get_commodity(series.commodity).code
                stored = dict(fetch_rows(conn, select(prices.c.date, prices.c.price)
                                         .where(prices.c.commodity == code)))
                report = ImportReport(code, series.source, rows_read=len(series))
                new_rows, changed_rows, conflicts = [], [], []
                for d, p, line in zip(series.dates, series.prices, series.lines):
                    key = d.isoformat()
                    if key not in stored:
                        new_rows.append({"commodity": code, "date": key, "price": p,
                                         "source": series.source, "ingested_at": now})
                    elif _same(stored[key], p):
                        report.unchanged += 1
                    else:
                        conflicts.append((d, stored[key], p, line))
                        changed_rows.append({"new_price": p, "new_source": series.source,
                                             "now": now, "code": code, "key": key})
                if conflicts and not replace:
                    raise ImportConflictError(series.source, conflicts)
                insert_rows(conn, prices, new_rows)
                if changed_rows:
                    conn.execute(
                        update(prices)
                        .where(prices.c.commodity == bindparam("code"),
                               prices.c.date == bindparam("key"))
                        .values(price=bindparam("new_price"), source=bindparam("new_source"),
                                ingested_at=bindparam("now")),
                        changed_rows)
                report.added, report.replaced = len(new_rows), len(changed_rows)
                report.flags = series.flags
                if new_rows or changed_rows:
                    _bump_version(conn, code, now)
                conn.execute(insert(imports).values(
                    commodity=code, source=series.source, imported_at=now,
                    rows_read=report.rows_read, rows_added=report.added,
                    rows_replaced=report.replaced, rows_unchanged=report.unchanged,
                    conflicts=len(conflicts)))
                reports.append(report)
        return reports

    # -- reading -------------------------------------------------------------------------------

    def load(self, commodity: str, start: Any = None, end: Any = None) -> pd.Series:
        """Load one commodity's prices.

        Args:
            commodity: code, case-insensitive.
            start: first date to include (anything ``pd.Timestamp`` accepts), or ``None``.
            end: last date to include, or ``None``.

        Returns:
            Float series named by the code, indexed by a sorted ``DatetimeIndex`` named ``date``;
            NaN where the source had a blank price. Empty when nothing is stored.
        """
        code = get_commodity(commodity).code
        query = select(prices.c.date, prices.c.price).where(prices.c.commodity == code)
        if start is not None:
            query = query.where(prices.c.date >= pd.Timestamp(start).strftime("%Y-%m-%d"))
        if end is not None:
            query = query.where(prices.c.date <= pd.Timestamp(end).strftime("%Y-%m-%d"))
        with self.read() as conn:
            rows = fetch_rows(conn, query.order_by(prices.c.date))
        try:
            index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], format="%Y-%m-%d"),
                                     name="date")
            values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:  # a row no import wrote
            raise StoreDamagedError(self.location, f"stored {code} prices: {exc}") from exc
        return pd.Series(values, index=index, name=code, dtype=float)

    def load_frame(self, commodities: Sequence[str], start: Any = None,
                   end: Any = None) -> pd.DataFrame:
        """Load several commodities side by side (outer join on date).

        Args:
            commodities: codes, case-insensitive.
            start: first date, or ``None``.
            end: last date, or ``None``.

        Returns:
            A DataFrame with one column per commodity code.
        """
        series = [self.load(c, start, end) for c in commodities]
        if not series:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        frame = pd.concat(series, axis=1)
        frame.index.name = "date"
        return frame

    def data_version(self, commodity: str) -> str:
        """A token that changes whenever the commodity's stored prices change.

        Args:
            commodity: code, case-insensitive.

        Returns:
            ``"<code>@<version>"`` (``"<code>@0"`` when nothing is stored).
        """
        code = get_commodity(commodity).code
        with self.read() as conn:
            version = conn.execute(select(series_versions.c.version)
                                   .where(series_versions.c.commodity == code)).scalar()
        return f"{code}@{version or 0}"

    def content_token(self) -> tuple:
        """A value that changes whenever what the dashboards show from this store changes.

        Covers the stored prices of every commodity (their data versions), the recorded
        walk-forward evaluations and the stored backtests. Fits and served forecasts, which the
        pages record themselves while rendering, do not count.

        Returns:
            A hashable tuple; compare two tokens with ``==``.

        Usage::

            >>> before = store.content_token(); ...; changed = store.content_token() != before
        """
        from energy_nb.data.repositories import metrics_kind

        with self.read() as conn:
            versions = tuple(tuple(r) for r in conn.execute(
                select(series_versions.c.commodity, series_versions.c.version)
                .order_by(series_versions.c.commodity)).all())
            evaluations = tuple(conn.execute(
                select(func.count(), func.max(model_runs.c.id))
                .where(metrics_kind(conn) == "walk_forward")).one())
            stored = tuple(conn.execute(select(func.count(), func.max(backtests.c.id))).one())
        return versions, evaluations, stored

    def last_date(self, commodity: str) -> pd.Timestamp | None:
        """The last stored date of a commodity, or ``None``."""
        code = get_commodity(commodity).code
        with self.read() as conn:
            last = conn.execute(select(func.max(prices.c.date))
                                .where(prices.c.commodity == code)).scalar()
        return pd.Timestamp(last) if last else None

    def is_empty(self) -> bool:
        """Whether no price at all is stored."""
        with self.read() as conn:
            return conn.execute(select(literal_column("1")).select_from(prices)
                                .limit(1)).first() is None

    def status(self) -> list[dict[str, Any]]:
        """Per commodity: first and last date, rows, sources, and flagged values.

        Returns:
            One dict per catalogue commodity (``rows`` is 0 when nothing is stored).
        """
        out: list[dict[str, Any]] = []
        with self.read() as conn:
            for code in CODES:
                rows = fetch_rows(conn, select(prices.c.date, prices.c.price)
                                  .where(prices.c.commodity == code).order_by(prices.c.date))
                sources = list(conn.execute(
                    select(prices.c.source).where(prices.c.commodity == code)
                    .group_by(prices.c.source).order_by(prices.c.source)).scalars())
                version = conn.execute(
                    select(series_versions.c.version, series_versions.c.updated_at)
                    .where(series_versions.c.commodity == code)).first()
                try:
                    dates = [date.fromisoformat(r[0]) for r in rows]
                except (TypeError, ValueError) as exc:  # a row no import wrote
                    raise StoreDamagedError(self.location,
                                            f"stored {code} dates: {exc}") from exc
                flags = find_flags(dates, [r[1] for r in rows])
                out.append({
                    "commodity": code,
                    "unit": get_commodity(code).unit,
                    "first": dates[0].isoformat() if dates else None,
                    "last": dates[-1].isoformat() if dates else None,
                    "rows": len(rows),
                    "sources": sources,
                    "data_version": f"{code}@{version[0] if version else 0}",
                    "updated_at": version[1] if version else None,
                    "flags": [f.to_dict() for f in flags],
                })
        return out


def _bump_version(conn: Connection, code: str, now: str) -> None:
    """Count one more change of ``code``'s prices (an upsert on either backend)."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect
    statement = dialect(series_versions).values(commodity=code, version=1, updated_at=now)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[series_versions.c.commodity],
        set_={"version": series_versions.c.version + 1,
              "updated_at": statement.excluded.updated_at}))


def _server_error(location: str, url: URL, exc: DBAPIError) -> StoreError | None:
    """The store error for a PostgreSQL driver error (its text with the password masked)."""
    detail = pg_error_text(exc, url)
    if isinstance(exc, OperationalError) and "lock timeout" not in detail:
        return StoreError(f"cannot use the store at {location}: {detail}")
    if "lock timeout" in detail:
        return StoreError(f"the store at {location} is busy ({detail}): another process "
                          "held it longer than the timeout")
    if isinstance(exc, ProgrammingError) and "does not exist" in detail:
        return StoreDamagedError(location, detail)
    return None


def _revision_number(revision: str | None) -> int:
    """The schema version an Alembic revision stands for (``"0001"`` -> 1, none -> 0)."""
    if revision is None:
        return 0
    try:
        return int(revision)
    except ValueError:  # not one of ours: a newer (or foreign) migration history
        return SCHEMA_VERSION + 1


#: the name the first release gave :func:`energy_nb.data.database.connect_sqlite`
connect_existing = connect_sqlite


def damage_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError | None:
    """The store error that an SQLite error met while using a store file stands for.

    Args:
        path: the store file.
        exc: the error SQLite raised.

    Returns:
        :class:`StoreDamagedError` for corrupt pages, a file that is not a database or a missing
        table or column; :class:`StoreError` for a busy, read-only or unreadable file; ``None``
        for errors of the statement itself (e.g. a constraint), which the caller re-raises.
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_NOTADB"):
        return StoreDamagedError(path, f"not a usable SQLite database: {text}")
    if name.startswith("SQLITE_CORRUPT"):
        return StoreDamagedError(path, f"SQLite: {text}")
    if text.startswith(("no such table", "no such column")):
        return StoreDamagedError(path, text)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"the store at {path} is busy ({text}): another process held it "
                          "longer than the timeout")
    if name.startswith(("SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_FULL",
                        "SQLITE_PERM")):
        return StoreError(f"cannot use the store at {path}: {text}")
    return None


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _fmt(p: float | None) -> str:
    return "blank" if p is None else f"{p:g}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
