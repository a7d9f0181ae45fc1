"""The SQL of everything the store keeps beside prices: model runs, forecasts, backtests, and the
cheap price summaries the pages show. Nothing outside the data layer writes SQL.

Each repository wraps a :class:`~energy_nb.data.store.PriceStore` (its transactions, its
backend) and speaks rows and plain values; the modules above (``registry``, ``forecasting``,
``backtest.run``, ``ui``) turn them into their objects. The statements are SQLAlchemy Core, so
they run unchanged on SQLite and PostgreSQL.

Usage::

    runs = ModelRunRepository(store)
    run_id = runs.insert(name="naive", commodity="WTI", params_json="{}", ...)
    row = runs.get(run_id)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    func,
    insert,
    literal_column,
    select,
)

from energy_nb.data.schema import backtests, forecasts, model_runs, prices

#: model_runs columns in the order :meth:`ModelRunRepository.get` returns them
RUN_COLUMNS = ("id", "name", "commodity", "params_json", "train_start", "train_end",
               "data_version", "created_at", "versions_json", "metrics_json")
#: backtests columns in the order :meth:`BacktestRepository.get` returns them
BACKTEST_COLUMNS = ("id", "commodity", "strategy", "params_json", "created_at", "stats_json",
                    "trades_json", "equity_json")


def metrics_kind(conn: Connection) -> ColumnElement[Any]:
    """The ``kind`` inside ``model_runs.metrics_json``, as a SQL expression of the backend.

    Args:
        conn: the connection the expression will run on.

    Returns:
        ``json_extract(...)`` on SQLite, ``metrics_json::json ->> 'kind'`` on PostgreSQL.
    """
    if conn.dialect.name == "sqlite":
        return func.json_extract(model_runs.c.metrics_json, "$.kind")
    return literal_column("(model_runs.metrics_json::json ->> 'kind')")


class TableRepository:
    """Rows of one table with an integer ``id``: insert one, get one by id.

    Args:
        store: the store.

    Attributes:
        table: the table.
        columns: the columns :meth:`get` returns, in order.
    """

    table: Table
    columns: tuple[str, ...]

    def __init__(self, store: Any) -> None:
        self.store = store

    def _insert(self, conn: Connection, values: dict[str, Any]) -> int:
        return int(conn.execute(
            insert(self.table).values(**values).returning(self.table.c.id)).scalar_one())

    def insert(self, **values: Any) -> int:
        """Store one row (one transaction).

        Args:
            **values: the columns (every one of :attr:`columns` except ``id``).

        Returns:
            The new id.
        """
        with self.store.transaction() as conn:
            return self._insert(conn, values)

    def get(self, row_id: int) -> Row | None:
        """One row (:attr:`columns`), or ``None``."""
        with self.store.read() as conn:
            return conn.execute(select(*(self.table.c[n] for n in self.columns))
                                .where(self.table.c.id == int(row_id))).first()


class ModelRunRepository(TableRepository):
    """The ``model_runs`` table (the model registry's rows).

    Args:
        store: the store.
    """

    table, columns = model_runs, RUN_COLUMNS

    def insert(self, *, reuse_kind: str | None = None, reuse: bool = False,
               **values: Any) -> int:
        """Insert a run, or with ``reuse`` return an identical earlier run's id (one transaction).

        Args:
            reuse: look for a run with the same name, commodity, parameters, training window and
                data version whose metrics ``kind`` equals ``reuse_kind`` first.
            reuse_kind: the ``kind`` to match.
            **values: the columns (every one of :data:`RUN_COLUMNS` except ``id``).

        Returns:
            The run id.
        """
        import json

        with self.store.transaction() as conn:
            if reuse:
                c = model_runs.c
                rows = conn.execute(
                    select(c.id, c.metrics_json).where(
                        c.name == values["name"], c.commodity == values["commodity"],
                        c.params_json == values["params_json"],
                        c.train_start.is_not_distinct_from(values["train_start"]),
                        c.train_end.is_not_distinct_from(values["train_end"]),
                        c.data_version.is_not_distinct_from(values["data_version"]),
                    ).order_by(c.id.desc())).all()
                for run_id, mjson in rows:
                    if json.loads(mjson or "{}").get("kind") == reuse_kind:
                        return int(run_id)
            return self._insert(conn, values)

    def list(self, *, commodity: str | None = None, name: str | None = None,
             kind: str | None = None, limit: int | None = None) -> Sequence[Row]:
        """Runs, newest first, filtered (and limited) in SQL.

        Args:
            commodity: only this code.
            name: only this model name.
            kind: only runs whose metrics ``kind`` is this.
            limit: at most this many.

        Returns:
            Rows of :data:`RUN_COLUMNS`.
        """
        query = select(*(model_runs.c[n] for n in RUN_COLUMNS))
        if commodity is not None:
            query = query.where(model_runs.c.commodity == commodity)
        if name is not None:
            query = query.where(model_runs.c.name == name)
        query = query.order_by(model_runs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            if kind is not None:
                query = query.where(metrics_kind(conn) == kind)
            return conn.execute(query).all()


class ForecastRepository(TableRepository):
    """The ``forecasts`` table (served forecasts with their inputs): :meth:`insert` takes
    commodity, model, origin, horizon, levels_json, data_version, created_at, inputs_json and
    result_json; :meth:`get` returns ``(id, created_at, inputs_json, result_json)``.

    Args:
        store: the store.
    """

    table, columns = forecasts, ("id", "created_at", "inputs_json", "result_json")

    def matching(self, *, commodity: str, model: str, origin: str, horizon: int,
                 data_version: str, limit: int = 20) -> Sequence[Row]:
        """The newest stored forecasts of one request on one version of the data.

        Args:
            commodity, model, origin (``YYYY-MM-DD``), horizon, data_version: the request.
            limit: at most this many rows.

        Returns:
            Rows ``(id, created_at, inputs_json, result_json)``, newest first.
        """
        c = forecasts.c
        query = (select(*(c[n] for n in self.columns))
                 .where(c.commodity == commodity, c.model == model, c.origin == origin,
                        c.horizon == int(horizon), c.data_version == data_version)
                 .order_by(c.id.desc()).limit(int(limit)))
        with self.store.read() as conn:
            return conn.execute(query).all()


class BacktestRepository(TableRepository):
    """The ``backtests`` table (stored strategy runs).

    Args:
        store: the store.
    """

    table, columns = backtests, BACKTEST_COLUMNS

    def list(self, *, commodity: str | None = None, limit: int = 10) -> Sequence[Row]:
        """The newest runs without their trades and equity (the first 6 columns).

        Args:
            commodity: only this code, or all.
            limit: at most this many.

        Returns:
            Rows of the first six :data:`BACKTEST_COLUMNS`.
        """
        query = select(*(backtests.c[n] for n in BACKTEST_COLUMNS[:6]))
        if commodity:
            query = query.where(backtests.c.commodity == commodity)
        with self.store.read() as conn:
            return conn.execute(query.order_by(backtests.c.id.desc()).limit(int(limit))).all()


class PriceSummaryRepository:
    """Cheap summaries of the ``prices`` table for the pages (one or two queries each).

    Args:
        store: the store.
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    def coverage(self) -> tuple[Sequence[Row], Sequence[Row]]:
        """Per commodity ``(code, first date, last date, rows)``, and ``(code, source)`` pairs.

        Returns:
            The two row lists (one snapshot).
        """
        c = prices.c
        with self.store.read() as conn:
            spans = conn.execute(select(c.commodity, func.min(c.date), func.max(c.date),
                                        func.count()).group_by(c.commodity)).all()
            sources = conn.execute(select(c.commodity, c.source).distinct()
                                   .order_by(c.commodity, c.source)).all()
        return spans, sources

    def recent(self, code: str, count: int) -> Sequence[Row]:
        """The last ``count`` non-blank ``(date, price)`` rows of a commodity, newest first."""
        c = prices.c
        with self.store.read() as conn:
            return conn.execute(select(c.date, c.price)
                                .where(c.commodity == code, c.price.is_not(None))
                                .order_by(c.date.desc()).limit(int(count))).all()
