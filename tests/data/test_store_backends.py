"""The store behind a URL: the same guarantees on SQLite and PostgreSQL, migrations from the
first release, masked passwords, and the repositories on both backends."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from energy_nb.backtest.run import list_backtests, load_backtest
from energy_nb.config import Settings
from energy_nb.data import migrations
from energy_nb.data.database import masked, parse_url
from energy_nb.data.repositories import ForecastRepository, PriceSummaryRepository
from energy_nb.data.schema import TABLES, imports, prices
from energy_nb.data.store import (
    SCHEMA_VERSION,
    ImportConflictError,
    PriceStore,
    StoreDamagedError,
    StoreError,
    StoreMissingError,
    StoreVersionError,
)
from energy_nb.service.registry import ModelRegistry, RegistryError

from .test_store import content, make_series

#: The first release's schema, exactly as its hand-written MIGRATIONS[0] created it
#: (``PRAGMA user_version = 1``, no Alembic table): a store made by that release.
FIRST_RELEASE_SCHEMA = """
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
"""


def first_release_store(path: Path) -> Path:
    """A store as the first release left it, with a row in every table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(FIRST_RELEASE_SCHEMA)
    conn.executescript("""
        PRAGMA user_version = 1;
        INSERT INTO prices VALUES ('WTI', '2024-01-02', 70.5, 'old.csv', '2024-01-03'),
                                  ('WTI', '2024-01-03', NULL, 'old.csv', '2024-01-03');
        INSERT INTO series_versions VALUES ('WTI', 4, '2024-01-03');
        INSERT INTO imports VALUES (7, 'WTI', 'old.csv', '2024-01-03', 2, 2, 0, 0, 0);
        INSERT INTO model_runs VALUES (3, 'drift', 'WTI', '{}', '2024-01-02', '2024-01-03',
            'WTI@4', '2024-01-04', '{}', '{"kind": "walk_forward", "horizon": 5}');
        INSERT INTO forecasts VALUES (5, 'WTI', 'drift', '2024-01-03', 5, '[80]', 'WTI@4',
            '2024-01-04', '{}', '{"mean": [1]}');
        INSERT INTO backtests VALUES (9, 'WTI', 'buy_and_hold', '{"strategy": {}}',
            '2024-01-04', '{"return": 1.5}', '[]', '[]');
    """)
    conn.close()
    return path


def test_alembic_head_is_the_schema_version() -> None:
    assert int(migrations.head()) == SCHEMA_VERSION


def test_first_release_store_upgrades_in_place_with_nothing_lost(tmp_path: Path) -> None:
    path = first_release_store(tmp_path / "old.sqlite")
    with sqlite3.connect(path) as conn:
        before = {t.name: sorted(conn.execute(f"SELECT * FROM {t.name}").fetchall(), key=repr)
                  for t in TABLES}
    store = PriceStore(path, create=False)
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        after = {t.name: sorted(conn.execute(f"SELECT * FROM {t.name}").fetchall(), key=repr)
                 for t in TABLES}
    assert after == before and all(after.values())
    assert store.data_version("WTI") == "WTI@4"
    assert ModelRegistry(store).latest_evaluations("WTI")["drift"].id == 3
    assert load_backtest(store, 9)["stats"] == {"return": 1.5}
    # and the upgraded store goes on working: new ids follow the old ones
    store.import_series(make_series("WTI", date(2024, 1, 4), [71.0]))
    assert store.data_version("WTI") == "WTI@5"
    assert ModelRegistry(store).record("naive", "WTI", metrics={"kind": "fit"}) == 4


def test_two_processes_upgrading_at_once_migrate_once(tmp_path: Path) -> None:
    path = first_release_store(tmp_path / "old.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=PriceStore, args=(str(path),)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]


def test_urls_are_parsed_and_printed_without_password(tmp_path: Path) -> None:
    url = parse_url("postgresql://me:top-secret@db.example:5433/energy")
    assert masked(url) == "postgresql://me:***@db.example:5433/energy"
    assert url.drivername == "postgresql+psycopg"
    assert masked(parse_url(tmp_path / "s.sqlite")) == str(tmp_path / "s.sqlite")
    assert parse_url(f"sqlite:///{tmp_path}/s.sqlite").database == f"{tmp_path}/s.sqlite"
    for bad, words in [("mysql://u:top-secret@h/db", "unsupported database 'mysql'"),
                       ("postgresql://u:top-secret@h", "name the database"),
                       ("sqlite://", "needs a file"),
                       ("postgresql+asyncpg://u:top-secret@h/db", "psycopg"),
                       ("::not a url://x:top-secret@", "not a database URL")]:
        with pytest.raises(StoreError, match=words) as info:
            PriceStore(bad)
        assert "top-secret" not in str(info.value)
    settings = Settings.from_env({"ENERGY_NB_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/energy_nb.sqlite"
    settings = Settings.from_env({"ENERGY_NB_HOME": str(tmp_path),
                                  "ENERGY_NB_DATABASE_URL": "postgresql://u:p@h/db"})
    assert settings.database_url == "postgresql://u:p@h/db"


@pytest.mark.postgresql
def test_server_errors_name_the_store_with_the_password_masked(pg_url: str) -> None:
    wrong = pg_url.replace(":s3cret-pw@", ":wrong-pw@")
    with pytest.raises(StoreError, match="password authentication failed") as info:
        PriceStore(wrong)
    assert "wrong-pw" not in str(info.value) and ":***@127.0.0.1" in str(info.value)
    with pytest.raises(StoreError, match="cannot use the store") as info:
        PriceStore(pg_url.rsplit("/", 1)[0] + "/no_such_db")
    assert "s3cret-pw" not in str(info.value)
    # a read command never creates a store: the empty database stays empty
    with pytest.raises(StoreMissingError, match="no energy_nb store in the database"):
        PriceStore(pg_url, create=False)
    from sqlalchemy import create_engine

    engine = create_engine(parse_url(pg_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_schema = 'public'")).scalar() == 0
    finally:
        engine.dispose()


def _importer(url: str, which: int, rounds: int, out: "mp.Queue") -> None:
    store = PriceStore(url)
    reports = []
    for r in range(rounds):
        start = date(2000, 1, 3)
        n = 300 + 200 * r + 50 * which  # overlapping, growing batches with the same prices
        series = make_series("WTI", start, [50.0 + (i % 13) for i in range(n)],
                             source=f"importer{which}")
        other = make_series("NG", start, [2.0 + (i % 5) / 10 for i in range(n // 2)],
                            source=f"importer{which}")
        reports.extend(store.import_many([series, other]))
        try:  # a conflicting batch: refused as a whole, nothing written
            store.import_many([make_series("BRENT", start, [1.0] * 5),
                               make_series("WTI", start, [999.0] * 3)])
        except ImportConflictError:
            reports.append(None)
    out.put(("importer", [(r.commodity, r.added) if r else None for r in reports]))


def _reader_check(url: str, out: "mp.Queue") -> None:
    store = PriceStore(url, create=False)
    problems = []
    for _ in range(40):
        with store.read() as conn:  # one snapshot: the counts must agree with each other
            rows = conn.execute(select(func.count()).select_from(prices)
                                .where(prices.c.commodity == "WTI")).scalar()
            added = conn.execute(select(func.coalesce(func.sum(imports.c.rows_added), 0))
                                 .where(imports.c.commodity == "WTI")).scalar()
            brent = conn.execute(select(func.count()).select_from(prices)
                                 .where(prices.c.commodity == "BRENT")).scalar()
            high = conn.execute(select(func.count()).select_from(prices)
                                .where(prices.c.price > 900)).scalar()
        if rows != added or brent or high:
            problems.append((rows, added, brent, high))
    out.put(("reader", problems))


def test_two_importers_and_readers_leave_a_consistent_store(store_url: str) -> None:
    PriceStore(store_url).import_series(make_series("WTI", date(2000, 1, 3), [50.0]))
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_importer, args=(store_url, w, 3, queue)) for w in (0, 1)]
    procs += [ctx.Process(target=_reader_check, args=(store_url, queue)) for _ in range(3)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=240) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    assert [r for kind, r in results if kind == "reader"] == [[], [], []]  # consistent snapshots
    reports = [x for kind, r in results if kind == "importer" for x in r]
    assert reports.count(None) == 6  # every conflicting batch was refused
    reports = [x for x in reports if x is not None]
    store = PriceStore(store_url)
    wti, ng = store.load("WTI"), store.load("NG")
    assert len(wti) == 300 + 400 + 50 and len(ng) == (300 + 400 + 50) // 2
    # every stored row was added by exactly one import: nothing doubled, nothing lost
    assert 1 + sum(a for c, a in reports if c == "WTI") == len(wti)
    assert sum(a for c, a in reports if c == "NG") == len(ng)
    assert store.load("BRENT").empty and float(wti.max()) < 900
    with store.read() as conn:
        n_imports = conn.execute(select(func.count()).select_from(imports)).scalar()
    assert n_imports == 1 + len(reports)


def test_reader_problems_are_reported(store_url: str) -> None:
    """The consistency reader itself can fail: a half-written import would show."""
    store = PriceStore(store_url)
    store.import_series(make_series("WTI", date(2000, 1, 3), [50.0] * 3))
    with store.transaction() as conn:  # a row no import logged
        conn.execute(prices.insert().values(commodity="WTI", date="2001-01-01", price=1.0,
                                            source="x", ingested_at="x"))
    queue: mp.Queue = mp.get_context("spawn").Queue()
    _reader_check(store_url, queue)
    assert queue.get(timeout=10) == ("reader", [(4, 3, 0, 0)] * 40)


def test_repositories_round_trip_on_both_backends(store_url: str) -> None:
    store = PriceStore(store_url)
    store.import_series(make_series("WTI", date(2024, 1, 1), [70.0, 71.0, None, 72.0]))
    token = store.content_token()
    registry = ModelRegistry(store)
    fit = registry.record("drift", "wti", {"a": 1}, "2024-01-01", "2024-01-04", "WTI@1",
                          {"kind": "fit"}, reuse=True)
    assert registry.record("drift", "WTI", {"a": 1}, "2024-01-01", "2024-01-04", "WTI@1",
                           {"kind": "fit"}, reuse=True) == fit
    assert store.content_token() == token  # fits do not change what the pages show
    evaluation = registry.record("drift", "WTI", {"a": 1}, metrics={"kind": "walk_forward"})
    assert store.content_token() != token
    assert [r.id for r in registry.list(kind="walk_forward")] == [evaluation]
    assert [r.id for r in registry.list(commodity="wti", limit=1)] == [evaluation]
    assert registry.get(fit).params == {"a": 1} and registry.get(fit).train_end == "2024-01-04"
    with pytest.raises(RegistryError, match="no model run"):
        registry.get(999)
    forecasts = ForecastRepository(store)
    fid = forecasts.insert(commodity="WTI", model="drift", origin="2024-01-04", horizon=5,
                           levels_json="[80]", data_version="WTI@1", created_at="t",
                           inputs_json="{}", result_json='{"x": 1}')
    assert tuple(forecasts.get(fid)) == (fid, "t", "{}", '{"x": 1}')
    spans, sources = PriceSummaryRepository(store).coverage()
    assert [tuple(r) for r in spans] == [("WTI", "2024-01-01", "2024-01-04", 4)]
    assert [tuple(r) for r in sources] == [("WTI", "t")]
    recent = PriceSummaryRepository(store).recent("WTI", 2)
    assert [tuple(r) for r in recent] == [("2024-01-04", 72.0), ("2024-01-02", 71.0)]
    assert list_backtests(store) == []
    assert content(store)[0][0] == "prices"


@pytest.mark.postgresql
def test_postgresql_damage_newer_schema_and_busy_writer_are_named(pg_url: str) -> None:
    store = PriceStore(pg_url)
    with store.transaction() as conn:  # one writer at a time: the second waits, then gives up
        with pytest.raises(StoreError, match=r"is busy \(.*lock timeout.*\): another process"):
            with PriceStore(pg_url, timeout=0.5).transaction():
                pass
        conn.execute(text("SELECT 1"))
    with store.transaction() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreVersionError, match="schema version 99, newer than this energy_nb"):
        PriceStore(pg_url)
    with store.transaction() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        conn.execute(text("DROP TABLE backtests"))
    with pytest.raises(StoreDamagedError, match=r"the store at postgresql://energy_nb:\*\*\*@"
                                                r".* is damaged \(table backtests is missing\)"):
        PriceStore(pg_url, create=False)


def test_migrations_build_exactly_the_schema_the_code_uses(store_url: str) -> None:
    """Alembic's autogenerate comparison finds nothing between the migrated store and schema.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from energy_nb.data.schema import metadata

    store = PriceStore(store_url)
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
