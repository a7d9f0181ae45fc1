"""The operations the HTTP API serves, as plain functions of a price store and a request.

Each returns a JSON-safe payload (the same one the CLI prints with ``--json`` for the same
request) and, where a table makes sense, a :class:`pandas.DataFrame` for CSV output. They raise
:class:`NotFound` for a missing id or an empty store and :class:`RequestError` for input the
core refuses.

Usage::

    store = PriceStore(path)
    payload, table = history(store, HistoryRequest.from_query({"commodity": "wti"}))
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from energy_nb.commodities import COMMODITIES
from energy_nb.service.requests import (
    FREQUENCIES,
    BacktestRequest,
    ForecastRequest,
    HistoryRequest,
    RequestError,
)


class NotFound(LookupError):
    """The requested thing does not exist (a run id, or prices not stored)."""


def commodities() -> tuple[dict[str, Any], pd.DataFrame]:
    """The commodities: code, name, unit, source series ids, chart colour."""
    rows = [asdict(c) for c in COMMODITIES.values()]
    for row in rows:
        row.pop("snapshot_file", None)
    return {"commodities": rows}, pd.DataFrame(rows)


def history(store: Any, request: HistoryRequest) -> tuple[dict[str, Any], pd.DataFrame]:
    """Stored prices in a window, daily or resampled to the last price of each week/month."""
    from energy_nb.data.frequency import resample_prices

    series = store.load(request.commodity, start=request.start, end=request.end)
    if request.freq != "D" and not series.empty:
        series = resample_prices(series.dropna(), FREQUENCIES[request.freq])
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"),
                          "price": series.to_numpy(dtype=float)})
    prices = [{"date": d, "price": None if pd.isna(p) else float(p)}
              for d, p in zip(frame["date"], frame["price"], strict=True)]
    payload = {"commodity": request.commodity, "freq": request.freq,
               "start": frame["date"].iloc[0] if len(frame) else None,
               "end": frame["date"].iloc[-1] if len(frame) else None,
               "count": len(prices), "prices": prices}
    return payload, frame


def forecast(service: Any, request: ForecastRequest,
             record: bool = True) -> tuple[dict[str, Any], pd.DataFrame]:
    """One forecast through the shared :class:`~energy_nb.service.forecasting.ForecastService`.

    Returns:
        ``ForecastRun.to_dict()`` (what ``energy-nb forecast --json`` prints) and the table
        (step, date, mean, bounds per level, and ``actual`` after a past start).
    """
    from energy_nb.service.forecasting import (
        ForecastFitError,
        ForecastRequestError,
        compare_with_actuals,
    )

    try:
        run = service.forecast(request.commodity, request.model, origin=request.start,
                               horizon=request.horizon, levels=request.levels, record=record)
    except ForecastRequestError as exc:
        text = str(exc)
        if text.startswith(f"no {request.commodity} prices stored"):
            raise NotFound(text) from None
        raise RequestError("invalid_value", text,
                           "start" if text.startswith("start date") else None) from None
    except ForecastFitError as exc:
        raise RequestError("model_failed", str(exc), "model") from None
    frame = run.forecast.to_frame()
    if not run.actuals.empty:
        errors = compare_with_actuals(run.forecast, run.actuals)
        frame["actual"] = float("nan")
        frame.loc[: len(errors) - 1, "actual"] = errors["actual"].to_numpy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return run.to_dict(), frame


def run_summary(run: Any) -> dict[str, Any]:
    """A model run without its per-step metrics, plus the mean rMAE/MAE/coverage over steps
    (the rows of ``energy-nb models list --json``)."""
    data = run.to_dict()
    metrics = dict(data.pop("metrics"))
    means = metrics.pop("mean_over_steps", {}) or {}
    metrics.pop("steps", None)
    metrics.pop("origins", None)
    data["evaluation"] = metrics
    for key in ("rmae", "coverage_80", "coverage_95", "mae"):
        data[key] = means.get(key)
    return data


def model_runs(store: Any, commodity: str | None = None, name: str | None = None,
               kind: str | None = None, limit: int | None = None,
               ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Recorded model runs, newest first (``energy-nb models list --json``)."""
    from energy_nb.service.registry import ModelRegistry, RegistryError

    try:
        runs = ModelRegistry(store).list(commodity=commodity, name=name, kind=kind, limit=limit)
    except RegistryError as exc:
        raise RequestError("invalid_value", str(exc)) from None
    rows = [run_summary(r) for r in runs]
    table = pd.DataFrame([{k: v for k, v in row.items() if not isinstance(v, (dict, list))}
                          for row in rows])
    return {"runs": rows}, table


def model_run(store: Any, run_id: int, kind: str | None = None,
              ) -> tuple[dict[str, Any], pd.DataFrame]:
    """One model run in full (``energy-nb models show ID --json``); the table is its per-step
    metrics.

    Args:
        kind: when given, a run of another kind is :class:`NotFound` (evaluations are
            ``walk_forward`` runs).
    """
    from energy_nb.service.registry import ModelRegistry, RegistryError

    try:
        run = ModelRegistry(store).get(run_id)
    except RegistryError as exc:
        raise NotFound(str(exc)) from None
    if kind is not None and run.kind != kind:
        raise NotFound(f"run {run_id} is a {run.kind or 'unknown'} run, not an evaluation")
    frame = run.step_metrics().reset_index()
    return run.to_dict(), frame


def run_backtest(store: Any, request: BacktestRequest) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run and store one backtest; the payload is ``BacktestResult.to_dict()`` with its ``id``
    and the table is the daily equity."""
    from energy_nb.backtest.notes import result_payload
    from energy_nb.backtest.run import BacktestError
    from energy_nb.backtest.run import run_backtest as run
    from energy_nb.backtest.strategies import StrategyError

    prices = store.load(request.commodity)
    if prices.empty:
        raise NotFound(f"no {request.commodity} prices stored")
    try:
        result = run(prices, request.strategy, request.params, capital=request.capital,
                     commission=request.commission, slippage_bps=request.slippage_bps,
                     start=request.start, end=request.end, store=store)
    except (BacktestError, StrategyError) as exc:
        raise RequestError("invalid_value", str(exc)) from None
    payload = result_payload(result)
    return payload, pd.DataFrame(payload.get("equity") or [])


def backtest(store: Any, run_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """A stored backtest with its trades and equity; the table is the daily equity."""
    from energy_nb.backtest.run import BacktestError, load_backtest

    try:
        payload = load_backtest(store, run_id)
    except BacktestError as exc:
        raise NotFound(str(exc)) from None
    return payload, pd.DataFrame(payload.get("equity") or [])
