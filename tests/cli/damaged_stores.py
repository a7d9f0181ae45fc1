"""Real damaged SQLite store files, one builder per kind of damage (the corrupt-store matrix).

Every builder copies a healthy store (prices of the three commodities, model runs, forecasts and
backtests, all in the main file after a WAL checkpoint) and damages the copy the way it happens in
the field: a copy cut short, pages overwritten, a table or column gone, rows no import writes, a
file that is not a database, an empty file, a store from a newer energy_nb.

Usage::

    base = build_healthy_store(tmp_path / "base.sqlite")
    damaged = DAMAGE["truncated"].build(base, tmp_path / "x.sqlite")
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from energy_nb.data.store import SCHEMA_VERSION, PriceStore
from energy_nb.data.validation import PriceSeries, find_flags

PAGE = 4096
#: Business days of prices per commodity in the healthy store.
DAYS = 600


def build_healthy_store(path: Path) -> Path:
    """A healthy store with prices, model runs, forecasts and backtests, checkpointed.

    Args:
        path: the file to create.

    Returns:
        ``path``.
    """
    store = PriceStore(path)
    rng = np.random.default_rng(7)
    dates = [d.date() for d in pd.bdate_range("2018-01-02", periods=DAYS)]
    batch = []
    for code, level in (("WTI", 60.0), ("BRENT", 65.0), ("NG", 3.0)):
        prices = list(np.round(level * np.exp(np.cumsum(rng.normal(0, 0.01, DAYS))), 4))
        series = PriceSeries(code, f"{code.lower()}.csv", dates, prices,
                             list(range(2, DAYS + 2)))
        series.flags = find_flags(series.dates, series.prices)
        batch.append(series)
    store.import_many(batch)
    blob = json.dumps({"equity": list(range(400))})
    with store.transaction() as conn:
        for i in range(40):
            conn.exec_driver_sql(
                "INSERT INTO model_runs (name, commodity, params_json, created_at, "
                "versions_json, metrics_json) VALUES ('drift', 'WTI', '{}', '2024-01-01', "
                "'{}', ?)", (json.dumps({"kind": "fit", "n": i}),))
            conn.exec_driver_sql(
                "INSERT INTO forecasts (commodity, model, origin, horizon, levels_json, "
                "created_at, result_json) VALUES ('WTI', 'drift', '2019-01-02', 5, '[80]', "
                "'2024-01-01', ?)", (blob,))
            conn.exec_driver_sql(
                "INSERT INTO backtests (commodity, strategy, params_json, created_at, "
                "stats_json, equity_json) VALUES ('WTI', 'buy-and-hold', '{}', '2024-01-01', "
                "'{}', ?)", (blob,))
    _checkpoint(path)
    return path


def _checkpoint(path: Path) -> None:
    """Move everything from the WAL into the main file, so the file alone is the store."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _root_page(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                                (table,)).fetchone()[0])
    finally:
        conn.close()


def _sql(*statements: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()
        _checkpoint(path)
    return damage


def _overwrite_root(table: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        page = _root_page(path, table)
        with path.open("r+b") as handle:
            handle.seek((page - 1) * PAGE)
            handle.write(bytes(range(256)) * (PAGE // 256))
    return damage


def _truncate(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate((size // PAGE) // 3 * PAGE)


def _not_a_database(path: Path) -> None:
    path.write_text("Date,Price\n2020-01-02,61.18\n" * 200)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@dataclass(frozen=True)
class Damage:
    """One kind of damage.

    Attributes:
        name: short id (the test parameter).
        apply: damages a copy of the healthy store in place.
        detail: text the damaged-store message must contain.
        message: the start of the error after ``the store at <path> ``.
    """

    name: str
    apply: Callable[[Path], None]
    detail: str
    message: str = "is damaged ("

    def build(self, healthy: Path, path: Path) -> Path:
        """Copy the healthy store to ``path`` and damage the copy."""
        shutil.copyfile(healthy, path)
        self.apply(path)
        return path


DAMAGE: dict[str, Damage] = {d.name: d for d in (
    Damage("truncated", _truncate, "the file is cut short: "),
    Damage("overwritten-price-pages", _overwrite_root("prices"), "SQLite"),
    Damage("overwritten-backtest-pages", _overwrite_root("backtests"), "SQLite"),
    Damage("dropped-table", _sql("DROP TABLE forecasts"), "table forecasts is missing"),
    Damage("missing-column", _sql("ALTER TABLE prices DROP COLUMN source"),
           "table prices lacks column(s) source"),
    Damage("text-price", _sql("UPDATE prices SET price = 'n/a' WHERE commodity = 'NG' "
                              "AND date = '2018-03-01'"),
           "1 price row with a price that is not a number, e.g. NG date '2018-03-01' price 'n/a'"),
    Damage("garbage-date", _sql("INSERT INTO prices VALUES ('WTI', '2020-01-02garbage', 61.0, "
                                "'x.csv', '2024-01-01')"),
           "1 price row with a date that is not a valid YYYY-MM-DD date, e.g. WTI date "
           "'2020-01-02garbage'"),
    Damage("not-a-database", _not_a_database, "not a usable SQLite database"),
    Damage("empty-file", _empty, "the file is empty (0 bytes)"),
    Damage("newer-schema", _sql(f"PRAGMA user_version = {SCHEMA_VERSION + 98}"),
           f"schema version {SCHEMA_VERSION + 98}, newer than this energy_nb understands",
           message="has schema version"),
)}
