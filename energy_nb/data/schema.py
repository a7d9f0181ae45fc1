"""The store's tables, as SQLAlchemy Core metadata (the same on SQLite and PostgreSQL).

Dates are ISO ``YYYY-MM-DD`` text and JSON columns are text, as the first SQLite release wrote
them, so a store made by it is already this schema (see :mod:`energy_nb.data.migrations`).

Usage::

    >>> from energy_nb.data.schema import metadata, prices
    >>> sorted(metadata.tables)[:2]
    ['backtests', 'forecasts']
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text

metadata = MetaData()

#: one price per commodity and date, with where it came from
prices = Table(
    "prices", metadata,
    Column("commodity", Text, primary_key=True),
    Column("date", Text, primary_key=True),
    Column("price", Float),
    Column("source", Text, nullable=False),
    Column("ingested_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

#: a counter per commodity, bumped by every import that changes its prices
series_versions = Table(
    "series_versions", metadata,
    Column("commodity", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Text, nullable=False),
)

#: the import log
imports = Table(
    "imports", metadata,
    Column("id", Integer, primary_key=True),
    Column("commodity", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_at", Text, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_added", Integer, nullable=False),
    Column("rows_replaced", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
)

#: the model registry: fits and walk-forward evaluations
model_runs = Table(
    "model_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("commodity", Text, nullable=False),
    Column("params_json", Text, nullable=False),
    Column("train_start", Text),
    Column("train_end", Text),
    Column("data_version", Text),
    Column("created_at", Text, nullable=False),
    Column("versions_json", Text),
    Column("metrics_json", Text),
    Index("model_runs_commodity", "commodity", "name"),
)

#: served forecasts with their inputs
forecasts = Table(
    "forecasts", metadata,
    Column("id", Integer, primary_key=True),
    Column("commodity", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("levels_json", Text, nullable=False),
    Column("data_version", Text),
    Column("created_at", Text, nullable=False),
    Column("inputs_json", Text),
    Column("result_json", Text, nullable=False),
    Index("forecasts_topic", "commodity", "model", "origin"),
)

#: stored backtest runs
backtests = Table(
    "backtests", metadata,
    Column("id", Integer, primary_key=True),
    Column("commodity", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("params_json", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("stats_json", Text, nullable=False),
    Column("trades_json", Text),
    Column("equity_json", Text),
)

#: the tables in the order a copy fills them
TABLES: tuple[Table, ...] = (prices, series_versions, imports, model_runs, forecasts, backtests)
