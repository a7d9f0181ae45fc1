"""PriceStore on a real SQLite file: idempotent, transactional, concurrent, migrated."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sqlalchemy import select

from energy_nb.data.schema import TABLES
from energy_nb.data.store import SCHEMA_VERSION, ImportConflictError, PriceStore, StoreError
from energy_nb.data.validation import PriceSeries, find_flags, read_price_csv


def make_series(commodity: str, start: date, prices: list[float | None],
                source: str = "t") -> PriceSeries:
    dates = [d.date() for d in pd.bdate_range(start, periods=len(prices))]
    s = PriceSeries(commodity, source, dates, list(prices), list(range(2, len(prices) + 2)))
    s.flags = find_flags(s.dates, s.prices)
    return s


def content(store: PriceStore) -> list[tuple]:
    """Everything the store holds, table by table (on either backend)."""
    with store.read() as conn:
        return [(t.name, sorted((tuple(r) for r in conn.execute(select(t)).all()), key=repr))
                for t in TABLES]


def test_new_store_is_wal_and_migrated(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "sub" / "s.sqlite")
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"prices", "imports", "model_runs", "forecasts", "backtests"} <= tables
    assert store.is_empty()
    assert store.load("WTI").empty
    assert store.data_version("WTI") == "WTI@0"
    PriceStore(store.path)  # reopening does not migrate again
    assert store.schema_version == SCHEMA_VERSION


def test_newer_schema_and_garbage_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    PriceStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(StoreError, match="newer than this energy_nb"):
        PriceStore(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        PriceStore(junk)


def test_import_is_idempotent_and_appends(store_url: str) -> None:
    store = PriceStore(store_url)
    first = store.import_series(make_series("wti", date(2024, 1, 1), [70.0, 71.0, 72.0]))
    assert (first.added, first.unchanged, first.replaced) == (3, 0, 0)
    v1 = store.data_version("WTI")
    before = content(store)
    again = store.import_series(make_series("WTI", date(2024, 1, 1), [70.0, 71.0, 72.0]))
    assert (again.added, again.unchanged) == (0, 3)
    assert store.data_version("WTI") == v1
    assert ([t for t in content(store) if t[0] != "imports"]
            == [t for t in before if t[0] != "imports"])

    more = store.import_series(make_series("WTI", date(2024, 1, 1), [70.0, 71.0, 72.0, 73.0, None]))
    assert (more.added, more.unchanged) == (2, 3)
    assert store.data_version("WTI") != v1
    loaded = store.load("wti")
    assert loaded.name == "WTI" and loaded.index.name == "date"
    assert list(loaded.iloc[:4]) == [70.0, 71.0, 72.0, 73.0] and np.isnan(loaded.iloc[4])
    assert list(store.load("WTI", start="2024-01-02", end="2024-01-03")) == [71.0, 72.0]


def test_conflict_is_reported_and_store_unchanged_unless_replace(store_url: str) -> None:
    store = PriceStore(store_url)
    store.import_series(make_series("BRENT", date(2024, 1, 1), [80.0, 81.0, None]))
    before = content(store)
    revised = make_series("BRENT", date(2024, 1, 1), [80.0, 81.5, 82.0, 83.0], source="rev")
    with pytest.raises(ImportConflictError,
                       match=r"2 date\(s\).*2024-01-02 stored 81 vs 81.5 \(line 3\)") as info:
        store.import_series(revised)
    assert len(info.value.conflicts) == 2
    assert content(store) == before  # nothing written, not even the new 4th date

    report = store.import_series(revised, replace=True)
    assert (report.added, report.replaced, report.unchanged) == (1, 2, 1)
    assert list(store.load("BRENT")) == [80.0, 81.5, 82.0, 83.0]
    assert store.status()[1]["sources"] == ["rev", "t"]


def test_batch_is_all_or_nothing(store_url: str) -> None:
    store = PriceStore(store_url)
    store.import_series(make_series("NG", date(2024, 1, 1), [2.0, 2.1]))
    before = content(store)
    good = make_series("WTI", date(2024, 1, 1), [70.0])
    bad = make_series("NG", date(2024, 1, 1), [2.0, 9.9])
    with pytest.raises(ImportConflictError):
        store.import_many([good, bad])
    assert content(store) == before
    assert store.load("WTI").empty


def test_status_reports_real_quirks(store_url: str, eia_dir: Path) -> None:
    store = PriceStore(store_url)
    store.import_many([read_price_csv(eia_dir / f, commodity=c) for c, f in
                       [("WTI", "wti-daily.csv"), ("BRENT", "brent-daily.csv"),
                        ("NG", "henryhub-daily.csv")]])
    status = {s["commodity"]: s for s in store.status()}
    assert status["WTI"]["first"] == "1986-01-02" and status["WTI"]["last"] == "2026-08-18"
    assert status["WTI"]["rows"] == 10226
    assert [f["kind"] for f in status["WTI"]["flags"]] == ["non_positive"]
    assert [f["kind"] for f in status["NG"]["flags"]] == ["gap", "missing"]
    assert status["BRENT"]["flags"] == []
    wti = store.load("WTI")
    assert wti.loc["2020-04-20"] == -36.98 and wti.index.is_monotonic_increasing
    assert np.isnan(store.load("NG").loc["2018-01-05"])
    frame = store.load_frame(["WTI", "NG"], start="2018-01-01", end="2018-01-10")
    assert list(frame.columns) == ["WTI", "NG"]


def _reader(path: str, n_rows_expected: int, out: "mp.Queue[list[int]]") -> None:
    store = PriceStore(path)
    seen = []
    for _ in range(300):
        seen.append(len(store.load("WTI")))
    out.put(seen)


def test_reader_during_import_sees_all_or_nothing(store_url: str) -> None:
    path = store_url
    store = PriceStore(path)
    store.import_series(make_series("WTI", date(1990, 1, 1), [50.0] * 100))
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_reader, args=(str(path), 100, queue))
    proc.start()
    big = make_series("WTI", date(1990, 1, 1), [50.0] * 100 + [60.0 + i % 7 for i in range(20000)])
    for _ in range(3):
        store.import_series(big)
    seen = queue.get(timeout=120)
    proc.join(timeout=30)
    assert set(seen) <= {100, 20100}, f"reader saw a partial import: {sorted(set(seen))}"
    assert len(store.load("WTI")) == 20100
