"""PriceStore: the embedded SQLite store (one file, WAL mode, versioned schema).

Dashboards, the CLI and the live server read and write the same file concurrently: WAL lets
readers go on during an import, and each import is one ``BEGIN IMMEDIATE`` transaction, so a
reader sees all of an import or none of it.

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

from energy_nb.commodities import CODES, get_commodity
from energy_nb.config import Settings
from energy_nb.data.validation import Flag, PriceSeries, find_flags

#: Schema migrations, applied in order; ``PRAGMA user_version`` holds how many ran.
MIGRATIONS: tuple[str, ...] = (
    # 1: prices with their provenance, an import log, and room for the forecasting features.
    """
    CREATE TABLE prices (
        commodity   TEXT NOT NULL,
        date        TEXT NOT NULL,
        price       REAL,
        source      TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        PRIMARY KEY (commodity, date)
    ) WITHOUT ROWID;
    CREATE TABLE series_versions (
        commodity  TEXT PRIMARY KEY,
        version    INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE imports (
        id             INTEGER PRIMARY KEY,
        commodity      TEXT NOT NULL,
        source         TEXT NOT NULL,
        imported_at    TEXT NOT NULL,
        rows_read      INTEGER NOT NULL,
        rows_added     INTEGER NOT NULL,
        rows_replaced  INTEGER NOT NULL,
        rows_unchanged INTEGER NOT NULL,
        conflicts      INTEGER NOT NULL
    );
    CREATE TABLE model_runs (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        commodity     TEXT NOT NULL,
        params_json   TEXT NOT NULL,
        train_start   TEXT,
        train_end     TEXT,
        data_version  TEXT,
        created_at    TEXT NOT NULL,
        versions_json TEXT,
        metrics_json  TEXT
    );
    CREATE INDEX model_runs_commodity ON model_runs (commodity, name);
    CREATE TABLE forecasts (
        id           INTEGER PRIMARY KEY,
        commodity    TEXT NOT NULL,
        model        TEXT NOT NULL,
        origin       TEXT NOT NULL,
        horizon      INTEGER NOT NULL,
        levels_json  TEXT NOT NULL,
        data_version TEXT,
        created_at   TEXT NOT NULL,
        inputs_json  TEXT,
        result_json  TEXT NOT NULL
    );
    CREATE INDEX forecasts_topic ON forecasts (commodity, model, origin);
    CREATE TABLE backtests (
        id          INTEGER PRIMARY KEY,
        commodity   TEXT NOT NULL,
        strategy    TEXT NOT NULL,
        params_json TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        stats_json  TEXT NOT NULL,
        trades_json TEXT,
        equity_json TEXT
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The store cannot be opened or used (e.g. a newer schema, a locked or corrupt file)."""


class StoreMissingError(StoreError):
    """A command that only reads was pointed at a store file that does not exist.

    Attributes:
        path: the missing file.
    """

    def __init__(self, path: Path):
        self.path = path
        folder = "" if path.parent.is_dir() else f"; its folder {path.parent} does not exist"
        super().__init__(
            f"there is no store at {path}{folder}. Create one with `energy-nb data init` "
            "(downloads the prices, or --offline-dir FOLDER) or `energy-nb data import FILE`, "
            "or give the right file with --db")


class StoreDamagedError(StoreError):
    """The store file is damaged: unreadable pages, a missing table or column, impossible rows.

    Attributes:
        path: the store file.
        what: the (first) problem.
        problems: every problem found (:class:`energy_nb.data.store_check.StoreProblem`).
    """

    def __init__(self, path: Path, what: str, problems: Sequence[Any] = ()):
        self.path, self.what, self.problems = path, what, list(problems)
        super().__init__(f"the store at {path} is damaged ({what})")


class StoreVersionError(StoreError):
    """The store was written by a newer energy_nb (its schema version is higher than ours)."""


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
    """The SQLite store of prices (and, later, model runs, forecasts and backtests).

    Args:
        path: the database file.
        timeout: seconds to wait for a lock held by another process.
        create: create the file (and its folder) when missing, and set up an empty file; with
            ``False`` (commands that only read) a missing or empty file is an error and nothing
            is created.
        verify: run the quick health check (SQLite ``quick_check``, tables and columns, price
            rows) on opening; a damaged file raises :class:`StoreDamagedError`.

    Raises:
        StoreMissingError: ``create`` is false and there is no file at ``path``.
        StoreDamagedError: the file is damaged (see :mod:`energy_nb.data.store_check`).
        StoreVersionError: the file was written by a newer energy_nb.

    Usage::

        store = PriceStore.from_settings()
        wti = store.load("WTI", start="2020-01-01")
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0, create: bool = True,
                 verify: bool = True) -> None:
        self.path = Path(path)
        self.timeout = timeout
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
        elif not create and self.path.stat().st_size == 0:
            raise StoreDamagedError(self.path, "the file is empty (0 bytes); `energy-nb data "
                                               "init` starts a new store in it")
        self._migrate(create)
        if verify:
            self.verify()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, create: bool = True) -> PriceStore:
        """Open the store at the configured location (``ENERGY_NB_HOME``).

        Args:
            settings: settings to use instead of the environment's.
            create: create the store when missing (see :class:`PriceStore`).

        Returns:
            The store.
        """
        settings = settings or Settings.from_env()
        return cls(settings.db_path, create=create)

    def verify(self, *, full: bool = False) -> None:
        """Check the file's health and raise if it is damaged.

        Args:
            full: SQLite's full ``integrity_check`` and the JSON columns too (slower).

        Raises:
            StoreDamagedError: what is wrong (every problem in its ``problems``).
        """
        from energy_nb.data.store_check import check_store

        result = check_store(self.path, full=full, timeout=self.timeout)
        if not result.ok:
            raise result.error()

    # -- connections -------------------------------------------------------------------------

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        return connect_existing(self.path, self.timeout, create=create)

    def _damage(self, exc: sqlite3.DatabaseError) -> StoreError | None:
        """The store error an SQLite error met while using the file stands for, if any."""
        return damage_error(self.path, exc)

    def _opening_damage(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The error for a file SQLite cannot even open: what the health check finds in it."""
        from energy_nb.data.store_check import check_store

        error = self._damage(exc) or StoreDamagedError(
            self.path, f"not a usable SQLite database: {exc}")
        try:
            result = check_store(self.path, full=False, timeout=self.timeout)
        except StoreError:
            return error
        return error if result.ok else result.error()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error.

        Yields:
            The connection to execute statements on.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            error = self._damage(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent snapshot.

        Yields:
            The connection to query.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            error = self._damage(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            conn.close()

    def _migrate(self, create: bool = True) -> None:
        conn = self._connect(create=create)
        try:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")]
            except sqlite3.DatabaseError as exc:
                raise self._opening_damage(exc) from exc
            if mode.lower() != "wal":  # pragma: no cover - e.g. a read-only or network file system
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            if version > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"the store at {self.path} has schema version {version}, newer than this "
                    f"energy_nb understands ({SCHEMA_VERSION}); upgrade energy_nb")
            if version == 0 and (tables or not create):
                named = ", ".join(sorted(tables)) or "none"
                raise StoreDamagedError(
                    self.path, f"not an energy_nb store: schema version 0, tables: {named}")
            for number in range(version, SCHEMA_VERSION):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Re-read inside the lock: another process may have migrated meanwhile.
                    if conn.execute("PRAGMA user_version").fetchone()[0] > number:
                        conn.execute("COMMIT")
                        continue
                    for statement in _statements(MIGRATIONS[number]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number + 1}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        finally:
            conn.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

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
                stored = dict(conn.execute(
                    "SELECT date, price FROM prices WHERE commodity = ?", (code,)).fetchall())
                report = ImportReport(code, series.source, rows_read=len(series))
                new_rows, changed_rows, conflicts = [], [], []
                for d, p, line in zip(series.dates, series.prices, series.lines):
                    key = d.isoformat()
                    if key not in stored:
                        new_rows.append((code, key, p, series.source, now))
                    elif _same(stored[key], p):
                        report.unchanged += 1
                    else:
                        conflicts.append((d, stored[key], p, line))
                        changed_rows.append((p, series.source, now, code, key))
                if conflicts and not replace:
                    raise ImportConflictError(series.source, conflicts)
                conn.executemany(
                    "INSERT INTO prices (commodity, date, price, source, ingested_at) "
                    "VALUES (?, ?, ?, ?, ?)", new_rows)
                conn.executemany(
                    "UPDATE prices SET price = ?, source = ?, ingested_at = ? "
                    "WHERE commodity = ? AND date = ?", changed_rows)
                report.added, report.replaced = len(new_rows), len(changed_rows)
                report.flags = series.flags
                if new_rows or changed_rows:
                    conn.execute(
                        "INSERT INTO series_versions (commodity, version, updated_at) "
                        "VALUES (?, 1, ?) "
                        "ON CONFLICT (commodity) DO UPDATE SET version = version + 1, "
                        "updated_at = excluded.updated_at", (code, now))
                conn.execute(
                    "INSERT INTO imports (commodity, source, imported_at, rows_read, rows_added, "
                    "rows_replaced, rows_unchanged, conflicts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (code, series.source, now, report.rows_read, report.added, report.replaced,
                     report.unchanged, len(conflicts)))
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
        sql, params = "SELECT date, price FROM prices WHERE commodity = ?", [code]
        if start is not None:
            sql += " AND date >= ?"
            params.append(pd.Timestamp(start).strftime("%Y-%m-%d"))
        if end is not None:
            sql += " AND date <= ?"
            params.append(pd.Timestamp(end).strftime("%Y-%m-%d"))
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY date", params).fetchall()
        try:
            index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], format="%Y-%m-%d"),
                                     name="date")
            values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:  # a row no import wrote
            raise StoreDamagedError(self.path, f"stored {code} prices: {exc}") from exc
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
            row = conn.execute("SELECT version FROM series_versions WHERE commodity = ?",
                               (code,)).fetchone()
        return f"{code}@{row[0] if row else 0}"

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
        with self.read() as conn:
            versions = tuple(conn.execute(
                "SELECT commodity, version FROM series_versions ORDER BY commodity").fetchall())
            evaluations = tuple(conn.execute(
                "SELECT COUNT(*), MAX(id) FROM model_runs "
                "WHERE json_extract(metrics_json, '$.kind') = 'walk_forward'").fetchone())
            backtests = tuple(conn.execute("SELECT COUNT(*), MAX(id) FROM backtests").fetchone())
        return versions, evaluations, backtests

    def last_date(self, commodity: str) -> pd.Timestamp | None:
        """The last stored date of a commodity, or ``None``."""
        code = get_commodity(commodity).code
        with self.read() as conn:
            row = conn.execute("SELECT MAX(date) FROM prices WHERE commodity = ?",
                               (code,)).fetchone()
        return pd.Timestamp(row[0]) if row and row[0] else None

    def is_empty(self) -> bool:
        """Whether no price at all is stored."""
        with self.read() as conn:
            return conn.execute("SELECT 1 FROM prices LIMIT 1").fetchone() is None

    def status(self) -> list[dict[str, Any]]:
        """Per commodity: first and last date, rows, sources, and flagged values.

        Returns:
            One dict per catalogue commodity (``rows`` is 0 when nothing is stored).
        """
        out: list[dict[str, Any]] = []
        with self.read() as conn:
            for code in CODES:
                rows = conn.execute(
                    "SELECT date, price FROM prices WHERE commodity = ? ORDER BY date", (code,)
                ).fetchall()
                sources = [r[0] for r in conn.execute(
                    "SELECT source FROM prices WHERE commodity = ? GROUP BY source ORDER BY source",
                    (code,))]
                version = conn.execute("SELECT version, updated_at FROM series_versions "
                                       "WHERE commodity = ?", (code,)).fetchone()
                try:
                    dates = [date.fromisoformat(r[0]) for r in rows]
                except (TypeError, ValueError) as exc:  # a row no import wrote
                    raise StoreDamagedError(self.path, f"stored {code} dates: {exc}") from exc
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


def connect_existing(path: Path, timeout: float, *, create: bool = False) -> sqlite3.Connection:
    """Open an autocommit connection to a store file; it is created only when ``create``.

    Args:
        path: the store file.
        timeout: seconds to wait for a lock held by another process.
        create: create the file when it does not exist.

    Returns:
        The connection.

    Raises:
        StoreError: the file cannot be opened (missing, unreadable, damaged).
    """
    uri = f"{Path(path).resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        error = damage_error(path, exc) if isinstance(exc, sqlite3.DatabaseError) else None
        raise (error or StoreError(f"cannot open the store at {path}: {exc}")) from exc
    return conn


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


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _fmt(p: float | None) -> str:
    return "blank" if p is None else f"{p:g}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
