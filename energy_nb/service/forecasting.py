"""The forecast service: fitted models cached per (commodity, model, origin, training window,
data version).

Dashboards, the CLI, the HTTP API and the live server ask it for forecasts (``energy-nb serve``
gives the socket and the HTTP API one service, so one cache). Fitting is the expensive part, so a
fitted model is kept in an LRU cache keyed by ``(commodity, model, origin, max_history,
data_version)``; a new horizon or new interval levels only call ``predict`` on the cached model.
``max_history`` is the training window (at most that many observations up to the origin; ``None``:
the full history), so a fit on a trimmed window is never served for a full-history request. When
the stored prices change, the data version changes and the next request refits.

Every forecast served with ``record=True`` is stored in the ``forecasts`` table together with its
inputs (model parameters, origin, horizon, levels, data version, training window), so
:meth:`ForecastService.reproduce` can recompute it later; every fit is recorded in the model
registry.

Usage::

    from energy_nb.data.store import PriceStore
    from energy_nb.service.forecasting import ForecastService
    service = ForecastService(PriceStore.from_settings())
    run = service.forecast("WTI", model="drift", horizon=7, levels=(80, 95))
    run.forecast.to_frame()
    service.forecast("WTI", model="drift", horizon=30)   # cached: no refit
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_nb.data.repositories import ForecastRepository
from energy_nb.service import requests as rules
from energy_nb.service.registry import ModelRegistry, _dumps, _jsonable, library_versions

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore
    from energy_nb.models import Forecast

#: Horizons the app offers (trading days): the rule of :mod:`energy_nb.service.requests`.
MIN_HORIZON, MAX_HORIZON = rules.MIN_HORIZON, rules.MAX_HORIZON


class ForecastRequestError(ValueError):
    """A forecast request is invalid (commodity, model, origin, horizon or levels)."""


class ForecastFitError(RuntimeError):
    """The model could not be fitted or could not forecast from the requested origin."""


@dataclass(frozen=True)
class CacheStats:
    """Counters of the fitted-model cache.

    Attributes:
        hits: requests answered by a cached fitted model.
        misses: requests that needed a fit.
        fits: models fitted (equals misses unless a fit failed).
        size: fitted models currently cached.
    """

    hits: int
    misses: int
    fits: int
    size: int


@dataclass(frozen=True)
class ForecastRun:
    """A forecast as served, with what is needed to show and reproduce it.

    Attributes:
        forecast: the :class:`~energy_nb.models.Forecast`.
        commodity: commodity code.
        model: the requested model name (``forecast.model`` is the one actually used).
        origin: the origin used (last trading day of the training data).
        horizon: steps.
        levels: interval levels.
        data_version: the store's data version used.
        cached: whether the fitted model came from the cache.
        fit_seconds: time the fit took (0 when cached).
        record_id: id in the ``forecasts`` table, or ``None`` when not recorded.
        model_run_id: id of the fit in ``model_runs``.
        actuals: prices observed after the origin (up to ``horizon`` trading days; empty for
            the latest origin).
        data_end: the last stored price's date.
        stored_at: when the forecast was stored, if it was read from the ``forecasts`` table
            (:meth:`ForecastService.stored_forecast`) instead of computed; ``None`` otherwise.
        max_history: the training window (observations up to the origin; ``None``: all).
    """

    forecast: Forecast
    commodity: str
    model: str
    origin: pd.Timestamp
    horizon: int
    levels: tuple[int, ...]
    data_version: str
    cached: bool
    fit_seconds: float
    record_id: int | None = None
    model_run_id: int | None = None
    actuals: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    data_end: pd.Timestamp | None = None
    stored_at: str | None = None
    max_history: int | None = None

    @property
    def model_used(self) -> str:
        """The model that made the forecast: ``auto``'s choice (most steps), else the model."""
        chosen = self.forecast.info.get("chosen") if isinstance(self.forecast.info, dict) else None
        return str(chosen) if chosen else self.forecast.model

    def errors(self) -> pd.DataFrame:
        """Forecast against the actuals observed so far (see :func:`compare_with_actuals`)."""
        return compare_with_actuals(self.forecast, self.actuals)

    def steps(self) -> pd.DataFrame:
        """One row per step with its date and, once observed, the actual (see
        :func:`forecast_steps`)."""
        return forecast_steps(self.forecast.to_frame(), self.actuals)

    def calendar_notes(self) -> list[str]:
        """Sentences for people about the step dates: projected ones, and shifted actuals.

        Returns:
            Up to two sentences (empty when every step was observed on its own date).
        """
        return calendar_notes(self.forecast, self.actuals, self.data_end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: request, forecast, per-step dates and actuals, cache information.

        Prices are rounded to 4 decimals (no float noise such as ``95.28999999999998``).
        """
        steps = self.steps()
        forecast = self.forecast.to_dict()
        for key in ("mean",):
            forecast[key] = _rounded(forecast[key])
        for key in ("lower", "upper"):
            forecast[key] = {k: _rounded(v) for k, v in forecast[key].items()}
        calendar = dict(self.forecast.info.get("calendar") or {})
        calendar["notes"] = self.calendar_notes()
        return {
            "commodity": self.commodity,
            "model": self.model,
            "model_used": self.model_used,
            "origin": self.origin.strftime("%Y-%m-%d"),
            "horizon": self.horizon,
            "levels": list(self.levels),
            "data_version": self.data_version,
            "cached": self.cached,
            "fit_seconds": round(self.fit_seconds, 4),
            "record_id": self.record_id,
            "model_run_id": self.model_run_id,
            "forecast": forecast,
            "calendar": calendar,
            "steps": [
                {"step": int(r["step"]), "date": r["date"].strftime("%Y-%m-%d"),
                 "mean": _rounded([r["mean"]])[0],
                 "actual_date": (r["actual_date"].strftime("%Y-%m-%d")
                                 if "actual_date" in steps and pd.notna(r["actual_date"])
                                 else None),
                 "actual": (_rounded([r["actual"]])[0] if "actual" in steps else None)}
                for _, r in steps.iterrows()
            ],
            "actuals": [
                {"date": d.strftime("%Y-%m-%d"), "price": _rounded([v])[0]}
                for d, v in self.actuals.items()
            ],
        }


#: ``(commodity, model, origin, max_history, data_version)``: what a fitted model was fitted on.
CacheKey = tuple[str, str, pd.Timestamp, int | None, str]


@dataclass
class _Fitted:
    model: Any
    params: dict[str, Any]
    train_start: pd.Timestamp
    seconds: float
    run_id: int | None


class ForecastService:
    """Serve forecasts from a price store, caching fitted models.

    Args:
        store: the :class:`~energy_nb.data.store.PriceStore`.
        cache_size: fitted models kept (least recently used are dropped).
        model_params: optional per-model constructor parameters, ``{"arima": {"max_p": 2}}``.
        registry: where fits are recorded (default: a :class:`ModelRegistry` on ``store``).

    Usage::

        service = ForecastService(store)
        run = service.forecast("NG", "auto", origin="2025-03-03", horizon=10)
        run.errors()   # forecast vs actual prices after the origin
    """

    def __init__(
        self,
        store: PriceStore,
        cache_size: int = 32,
        model_params: dict[str, dict[str, Any]] | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive integer, got {cache_size!r}")
        self.store = store
        self.cache_size = cache_size
        self.model_params = {k: dict(v) for k, v in (model_params or {}).items()}
        self.registry = registry or ModelRegistry(store)
        self._cache: OrderedDict[CacheKey, _Fitted] = OrderedDict()
        self._series: dict[str, tuple[str, pd.Series]] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._hits = self._misses = self._fits = 0

    # -- inputs ------------------------------------------------------------------------------

    def series(self, commodity: str) -> tuple[pd.Series, str]:
        """The stored prices of a commodity and their data version (cached per version).

        Args:
            commodity: code, case-insensitive.

        Returns:
            ``(series, data_version)``.

        Raises:
            ForecastRequestError: unknown commodity or no stored prices.
        """
        code = _commodity(commodity)
        version = self.store.data_version(code)
        with self._lock:
            cached = self._series.get(code)
            if cached is not None and cached[0] == version:
                return cached[1], version
        series = self.store.load(code)
        if series.dropna().empty:
            raise ForecastRequestError(
                f"no {code} prices stored; import them first (energy-nb data import / init)"
            )
        with self._lock:
            self._series[code] = (version, series)
        return series, version

    def resolve_origin(self, commodity: str, origin: Any = None) -> pd.Timestamp:
        """The trading day a forecast starts from.

        Args:
            commodity: code.
            origin: a date; ``None`` means the latest stored price. A non-trading day resolves to
                the last trading day before it.

        Returns:
            The origin date.

        Raises:
            ForecastRequestError: not a date, before the data, or after the last stored date.
        """
        series, _ = self.series(commodity)
        valid = series.dropna()
        if origin is None:
            return pd.Timestamp(valid.index[-1])
        ts = _date(origin, "start date")
        first, last = valid.index[0], valid.index[-1]
        if ts < first:
            raise ForecastRequestError(
                f"start date {ts.date()} is before the first {series.name} price ({first.date()})"
            )
        if ts > last:
            raise ForecastRequestError(
                f"start date {ts.date()} is after the last stored {series.name} price "
                f"({last.date()})"
            )
        return pd.Timestamp(valid.index[valid.index.searchsorted(ts, "right") - 1])

    # -- the cache -----------------------------------------------------------------------------

    def fitted_model(self, commodity: str, model: str, origin: Any = None,
                     max_history: int | None = None) -> tuple[Any, bool]:
        """The model fitted on prices up to ``origin``, from the cache when possible.

        Args:
            commodity: code.
            model: model name.
            origin: see :meth:`resolve_origin`.
            max_history: fit on at most this many observations up to ``origin`` (``None``: all).

        Returns:
            ``(fitted model, cached)``.

        Usage::

            fitted, cached = service.fitted_model("WTI", "drift", max_history=1500)
        """
        fitted, cached, *_ = self._fitted(commodity, model, origin, max_history)
        return fitted.model, cached

    def _cached(self, key: CacheKey) -> _Fitted | None:
        """The cached fit for ``key`` (counted as a hit, made most recent), or ``None``.
        Call with ``self._lock`` held."""
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self._hits += 1
        return hit

    def _fitted(self, commodity: str, model: str, origin: Any,
                max_history: int | None = None) -> tuple[
            _Fitted, bool, str, pd.Timestamp, str, pd.Series]:
        code = _commodity(commodity)
        name = _model_name(model)
        window = check_max_history(max_history)
        series, version = self.series(code)
        origin_ts = self.resolve_origin(code, origin)
        key: CacheKey = (code, name, origin_ts, window, version)
        with self._lock:
            hit = self._cached(key)
            if hit is not None:
                return hit, True, code, origin_ts, version, series
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one fit per key even when two threads ask at once
            with self._lock:
                hit = self._cached(key)
                if hit is not None:
                    return hit, True, code, origin_ts, version, series
                self._misses += 1
            train = series.loc[:origin_ts]
            fitted = self._fit(code, name, train.iloc[-window:] if window else train, version)
            with self._lock:
                self._fits += 1
                self._cache[key] = fitted
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                self._key_locks.pop(key, None)
        return fitted, False, code, origin_ts, version, series

    def _fit(self, code: str, name: str, train: pd.Series, version: str) -> _Fitted:
        from energy_nb.models import make_model

        params = self.model_params.get(name, {})
        began = time.perf_counter()
        try:
            model = make_model(name, **params).fit(train.copy())
        except Exception as exc:
            raise ForecastFitError(
                f"cannot fit {name} on {code} up to {train.index[-1].date()}: {exc}"
            ) from exc
        seconds = time.perf_counter() - began
        full_params = _params(model)
        run_id = self.registry.record(
            name, code, params=full_params, train_start=train.index[0],
            train_end=train.index[-1], data_version=version,
            metrics={"kind": "fit", "fit_seconds": round(seconds, 4), "n_obs": len(train)},
            reuse=True,
        )
        return _Fitted(model, full_params, pd.Timestamp(train.index[0]), seconds, run_id)

    def cache_stats(self) -> CacheStats:
        """Current cache counters."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._fits, len(self._cache))

    def clear_cache(self) -> None:
        """Drop every cached fitted model and loaded series."""
        with self._lock:
            self._cache.clear()
            self._series.clear()

    # -- forecasting ---------------------------------------------------------------------------

    def forecast(
        self,
        commodity: str,
        model: str = "auto",
        origin: Any = None,
        horizon: int = 7,
        levels: Sequence[int] = (80, 95),
        *,
        record: bool = True,
        max_history: int | None = None,
    ) -> ForecastRun:
        """Forecast ``horizon`` trading days after ``origin``.

        Args:
            commodity: ``WTI``, ``BRENT`` or ``NG`` (case-insensitive).
            model: a model name (default ``auto``).
            origin: start date of the forecast (default: latest data).
            horizon: 1..30 trading days.
            levels: interval levels, ints in (0, 100).
            record: store the forecast with its inputs in the ``forecasts`` table.
            max_history: the training window: at most this many observations up to the origin
                (default ``None``: the full history). Part of the cache key.

        Returns:
            A :class:`ForecastRun` (with the actual prices after a past origin).

        Raises:
            ForecastRequestError: invalid input. ForecastFitError: the model failed.
        """
        horizon = check_horizon(horizon)
        levels = check_levels(levels)
        fitted, cached, code, origin_ts, version, series = self._fitted(
            commodity, model, origin, max_history)
        try:
            fc = fitted.model.predict(horizon=horizon, levels=levels)
        except Exception as exc:
            raise ForecastFitError(f"{model} could not forecast {code}: {exc}") from exc
        name = _model_name(model)
        run = ForecastRun(
            forecast=fc,
            commodity=code,
            model=name,
            origin=origin_ts,
            horizon=horizon,
            levels=levels,
            data_version=version,
            cached=cached,
            fit_seconds=0.0 if cached else fitted.seconds,
            model_run_id=fitted.run_id,
            actuals=_after(series, origin_ts, horizon),
            data_end=pd.Timestamp(series.dropna().index[-1]),
            max_history=check_max_history(max_history),
        )
        if record:
            run = _replace(run, record_id=self._record(run, fitted))
        return run

    def actuals_after(self, commodity: str, origin: Any, horizon: int) -> pd.Series:
        """The prices observed on the ``horizon`` trading days after ``origin``.

        Args:
            commodity: code.
            origin: a past date (resolved like :meth:`resolve_origin`).
            horizon: how many trading days.

        Returns:
            Series indexed by date (shorter than ``horizon``, or empty, near the latest data).
        """
        series, _ = self.series(commodity)
        return _after(series, self.resolve_origin(commodity, origin), check_horizon(horizon))

    def history(self, commodity: str, origin: Any = None, lookback: int = 250) -> pd.Series:
        """The last ``lookback`` prices up to and including the origin (for charts).

        Args:
            commodity: code.
            origin: see :meth:`resolve_origin`.
            lookback: number of trading days.

        Returns:
            The price series.
        """
        series, _ = self.series(commodity)
        origin_ts = self.resolve_origin(commodity, origin)
        return series.loc[:origin_ts].iloc[-int(lookback):]

    # -- records -------------------------------------------------------------------------------

    def _record(self, run: ForecastRun, fitted: _Fitted) -> int:
        inputs = {
            "commodity": run.commodity,
            "model": run.model,
            "params": fitted.params,
            "origin": run.origin.strftime("%Y-%m-%d"),
            "horizon": run.horizon,
            "levels": list(run.levels),
            "data_version": run.data_version,
            "train_start": fitted.train_start.strftime("%Y-%m-%d"),
            "train_end": run.origin.strftime("%Y-%m-%d"),
            "max_history": run.max_history,
            "model_run_id": fitted.run_id,
            # the parameters asked for (``model_params``), which stored_forecast() matches
            "requested_params": self.model_params.get(run.model, {}),
            "versions": library_versions(),
        }
        return ForecastRepository(self.store).insert(
            commodity=run.commodity, model=run.model, origin=inputs["origin"],
            horizon=run.horizon, levels_json=_dumps(list(run.levels)),
            data_version=run.data_version,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            inputs_json=_dumps(inputs), result_json=_dumps(run.forecast.to_dict()))

    def recorded(self, record_id: int) -> dict[str, Any]:
        """A stored forecast: its inputs and result.

        Args:
            record_id: id in the ``forecasts`` table.

        Returns:
            ``{"id", "created_at", "inputs": {...}, "forecast": Forecast}``.

        Raises:
            ForecastRequestError: no such record.
        """
        import json

        from energy_nb.models import Forecast

        row = ForecastRepository(self.store).get(int(record_id))
        if row is None:
            raise ForecastRequestError(f"no stored forecast with id {record_id}")
        return {"id": row[0], "created_at": row[1], "inputs": json.loads(row[2] or "{}"),
                "forecast": Forecast.from_dict(json.loads(row[3]))}

    def stored_forecast(self, commodity: str, model: str = "auto", origin: Any = None,
                        horizon: int = 7, levels: Sequence[int] = (80, 95)) -> ForecastRun | None:
        """The stored forecast of exactly this request, read instead of fitted, if there is one.

        A forecast recorded by :meth:`forecast` (``record=True``: the dashboards, ``energy-nb
        forecast``, the HTTP API) is served again only when it was made for the same commodity,
        model, origin, horizon and levels, from the same stored prices (``data_version``: any
        price added or corrected since makes it stale), with the same model parameters and the
        same library versions. It then equals what :meth:`forecast` would compute now, and
        reading it imports no model library (a dashboard's first paint stays light).

        Args:
            commodity, model, origin, horizon, levels: as for :meth:`forecast`.

        Returns:
            A :class:`ForecastRun` (``cached=True``, ``record_id`` and ``stored_at`` set, actuals
            from the store), or ``None`` when nothing stored matches.

        Raises:
            ForecastRequestError: invalid input (as :meth:`forecast`).

        Usage::

            run = service.stored_forecast("WTI", "auto", horizon=7) or service.forecast("WTI")
        """
        import json

        from energy_nb.models import Forecast

        horizon = check_horizon(horizon)
        levels = check_levels(levels)
        code = _commodity(commodity)
        name = _model_name(model)
        series, version = self.series(code)
        origin_ts = self.resolve_origin(code, origin)
        wanted = {"levels": list(levels), "requested_params": self.model_params.get(name, {}),
                  "versions": library_versions()}
        rows = ForecastRepository(self.store).matching(
            commodity=code, model=name, origin=origin_ts.strftime("%Y-%m-%d"), horizon=horizon,
            data_version=version)
        for record_id, created_at, inputs_json, result_json in rows:
            try:
                inputs = json.loads(inputs_json or "{}")
                if inputs.get("max_history") is not None:  # fitted on a trimmed window
                    continue
                if not all(_jsonable_equal(inputs.get(k), v) for k, v in wanted.items()):
                    continue
                forecast = Forecast.from_dict(json.loads(result_json))
            except (ValueError, KeyError, TypeError):  # a damaged row is skipped, not served
                continue
            if len(forecast.mean) != horizon or forecast.levels != levels:
                continue
            return ForecastRun(
                forecast=forecast, commodity=code, model=name, origin=origin_ts,
                horizon=horizon, levels=levels, data_version=version, cached=True,
                fit_seconds=0.0, record_id=int(record_id),
                model_run_id=inputs.get("model_run_id"),
                actuals=_after(series, origin_ts, horizon),
                data_end=pd.Timestamp(series.dropna().index[-1]), stored_at=str(created_at))
        return None

    def reproduce(self, record_id: int) -> Forecast:
        """Recompute a stored forecast from its recorded inputs.

        The training data is loaded from the store up to the recorded origin, starting at the
        recorded training start; the result equals the stored one as long as those prices have
        not changed since (compare ``data_version``) and the recorded ``versions`` match the
        installed ones (a new energy_nb version may compute intervals differently).

        Args:
            record_id: id in the ``forecasts`` table.

        Returns:
            The recomputed forecast.
        """
        from energy_nb.models import make_model

        inputs = self.recorded(record_id)["inputs"]
        train = self.store.load(inputs["commodity"], start=inputs["train_start"],
                                end=inputs["train_end"])
        model = make_model(inputs["model"], **self.model_params.get(inputs["model"], {}))
        return model.fit(train).predict(horizon=int(inputs["horizon"]),
                                        levels=tuple(inputs["levels"]))


# ----------------------------------------------------------------------------------------------
# validation and helpers


def check_horizon(horizon: Any) -> int:
    """Validate a horizon of 1..30 trading days (:func:`energy_nb.service.requests.check_horizon`).

    Args:
        horizon: the value.

    Returns:
        It as ``int``.

    Raises:
        ForecastRequestError: naming the bad value.
    """
    try:
        return rules.check_horizon(horizon)
    except rules.RequestError as exc:
        raise ForecastRequestError(exc.message) from None


def check_max_history(max_history: Any) -> int | None:
    """Validate a training window: ``None`` (the full history) or a whole number of observations
    of at least 2.

    Args:
        max_history: the value.

    Returns:
        It as ``int``, or ``None``.

    Raises:
        ForecastRequestError: naming the bad value.
    """
    if max_history is None:
        return None
    if isinstance(max_history, bool) or not isinstance(max_history, (int, np.integer)) \
            or max_history < 2:
        raise ForecastRequestError(
            f"max_history must be a whole number of observations >= 2 or None, "
            f"got {max_history!r}")
    return int(max_history)


def check_levels(levels: Any) -> tuple[int, ...]:
    """Validate interval levels, ints strictly between 0 and 100, none allowed
    (:func:`energy_nb.service.requests.check_levels`).

    Args:
        levels: a sequence of levels.

    Returns:
        Sorted unique levels.

    Raises:
        ForecastRequestError: naming the bad value.
    """
    try:
        return rules.check_levels(levels, required=False)
    except rules.RequestError as exc:
        raise ForecastRequestError(exc.message) from None


def forecast_steps(frame: pd.DataFrame, actuals: pd.Series) -> pd.DataFrame:
    """The forecast per step, with the actual price of that step once observed.

    Step ``k`` is the ``k``-th trading day after the origin: its ``date`` is the ``k``-th trading
    day of the commodity's exchange calendar, and its actual is the ``k``-th price observed after
    the origin in the data (the same position-based matching as walk-forward evaluation).
    ``actual_date`` is the day that price was observed on: the same as ``date`` except where the
    data and the calendar disagree (a gap in the data, a day the source did not publish).

    Args:
        frame: ``Forecast.to_frame()`` (``date, mean, lower_<L>, upper_<L>``).
        actuals: prices after the origin (position ``i`` is step ``i + 1``); may be empty.

    Returns:
        Columns ``step, date, mean, lower_<L>, upper_<L>`` and, if any actual is known,
        ``actual``, ``error`` (actual − mean; NaN where not yet observed) and ``actual_date``
        (NaT where not yet observed). The Forecast page's CSV and the CLI's ``--csv`` are this.

    Usage::

        >>> forecast_steps(run.forecast.to_frame(), run.actuals)
    """
    table = frame.copy().reset_index(drop=True)
    table.insert(0, "step", np.arange(1, len(table) + 1))
    if len(table):
        table["date"] = pd.to_datetime(table["date"])
    if len(actuals):
        n = min(len(actuals), len(table))
        values = np.full(len(table), np.nan)
        values[:n] = actuals.to_numpy(dtype=float)[:n]
        observed = pd.DatetimeIndex(list(actuals.index[:n]) + [pd.NaT] * (len(table) - n))
        table["actual"] = values
        table["error"] = table["actual"] - table["mean"]
        table["actual_date"] = observed
    return table


def calendar_notes(forecast: Forecast, actuals: pd.Series,
                   data_end: pd.Timestamp | None) -> list[str]:
    """What people should know about a forecast's step dates.

    Args:
        forecast: the forecast (``info["calendar"]`` names its market).
        actuals: prices after the origin.
        data_end: the last stored price's date (``None``: unknown).

    Returns:
        A sentence when steps lie after the data (their dates are calendar projections that an
        unannounced closure could move), and one when observed actuals fall on other days than
        the calendar's step dates (matched by step, both dates shown).
    """
    notes: list[str] = []
    calendar = forecast.info.get("calendar") if isinstance(forecast.info, dict) else None
    market = (calendar or {}).get("market", "exchange")
    dates = pd.DatetimeIndex(forecast.dates)
    if data_end is not None and len(dates) and dates[-1] > data_end:
        first = dates[dates > data_end][0]
        notes.append(
            f"Steps from {first.date()} on are dated by the {market} holiday calendar as known "
            f"today; a closure not yet announced cannot be known and would shift them by a day."
        )
    n = min(len(actuals), len(dates))
    shifted = [k + 1 for k in range(n) if pd.Timestamp(actuals.index[k]) != dates[k]]
    if shifted:
        notes.append(
            f"{len(shifted)} of {n} observed steps have their price on another day than the "
            f"{market} calendar's (a gap or a day the source did not publish): actuals are "
            f"matched by step, and both dates are shown."
        )
    return notes


def compare_with_actuals(forecast: Forecast, actuals: pd.Series) -> pd.DataFrame:
    """Forecast and actual price per step, with errors and whether each band held.

    Steps are matched by position (step ``h`` is the ``h``-th trading day after the origin in the
    data), never by date: see :func:`forecast_steps`.

    Args:
        forecast: the forecast.
        actuals: prices after the origin (from :meth:`ForecastService.actuals_after`).

    Returns:
        DataFrame with ``step, date`` (the step's calendar day), ``actual_date`` (the day the
        price was observed), ``actual, mean, error, abs_error`` and ``inside_<L>`` per level
        (only the steps that have an actual).
    """
    n = min(len(actuals), forecast.horizon)
    frame = pd.DataFrame({
        "step": np.arange(1, n + 1),
        "date": pd.DatetimeIndex(forecast.dates[:n]),
        "actual_date": actuals.index[:n],
        "actual": actuals.to_numpy(dtype=float)[:n],
        "mean": np.asarray(forecast.mean, dtype=float)[:n],
    })
    frame["error"] = frame["actual"] - frame["mean"]
    frame["abs_error"] = frame["error"].abs()
    for level in forecast.levels:
        lo = np.asarray(forecast.lower[level], dtype=float)[:n]
        hi = np.asarray(forecast.upper[level], dtype=float)[:n]
        inside = (frame["actual"] >= lo) & (frame["actual"] <= hi)
        frame[f"inside_{level}"] = inside.where(frame["actual"].notna())
    return frame


def _rounded(values: Any, decimals: int = 4) -> list[float | None]:
    """Prices rounded for output (``None`` for missing)."""
    out: list[float | None] = []
    for v in values:
        out.append(None if v is None or not np.isfinite(float(v)) else round(float(v), decimals))
    return out


def _jsonable_equal(stored: Any, wanted: Any) -> bool:
    """Whether a value read back from JSON equals ``wanted`` once that went through JSON too
    (tuples become lists, keys strings); a missing value (``None``) never equals."""
    import json

    if stored is None:
        return False
    return stored == json.loads(json.dumps(_jsonable(wanted), sort_keys=True))


def _after(series: pd.Series, origin: pd.Timestamp, horizon: int) -> pd.Series:
    pos = int(series.index.searchsorted(origin, "right"))
    return series.iloc[pos: pos + horizon]


def _commodity(name: Any) -> str:
    try:
        return rules.commodity_code(name)
    except rules.RequestError as exc:
        raise ForecastRequestError(exc.message) from None


def _model_name(name: Any) -> str:
    try:
        return rules.model_name(name)
    except rules.RequestError as exc:
        raise ForecastRequestError(exc.message) from None


def _date(value: Any, what: str) -> pd.Timestamp:
    try:
        ts = rules.date(value, what)
    except rules.RequestError as exc:
        raise ForecastRequestError(exc.message) from None
    if ts is None:
        raise ForecastRequestError(f"{what} is not a valid date: {value!r} (use YYYY-MM-DD)")
    return ts


def _params(model: Any) -> dict[str, Any]:
    get = getattr(model, "get_params", None)
    return dict(get()) if callable(get) else {}


def _replace(run: ForecastRun, **changes: Any) -> ForecastRun:
    from dataclasses import replace

    return replace(run, **changes)
