"""Pluggable trading strategies that turn a price series into daily target positions.

A strategy's :meth:`Strategy.positions` returns, for each day ``t``, the target fraction of equity
in ``[-1, 1]`` decided with prices up to and including ``t`` only; the engine executes it at day
``t + 1`` (see :mod:`energy_nb.backtest.engine`). Parameters are validated when the strategy is
created and every error names the parameter.

Strategies (``make_strategy(name, **params)``):

* ``buy-and-hold``: always long (the benchmark).
* ``sma-cross``: long when the ``fast``-day average is above the ``slow``-day average, short
  below (flat instead of short when ``short=False``); flat until both averages exist.
* ``mean-reversion``: z-score ``z = (p - mean) / std`` over ``window`` days; long when
  ``z < -entry_z`` until ``z >= -exit_z``; short when ``z > entry_z`` until ``z <= exit_z``.
* ``forecast``: any model of :mod:`energy_nb.models`, walk-forward: at each rebalance date the
  model sees only prices up to that date (refit every ``refit_every`` trading days, ``update`` in
  between); long when the forecast return over ``horizon`` days exceeds ``threshold``, short when
  it is below ``-threshold`` (flat when ``short=False``), flat otherwise. ``train_window``
  limits each refit to the last N prices (the window start then stays fixed until the next
  refit, so the cheap ``update`` applies).
* ``forecast-band``: like ``forecast`` but long only when the lower bound of the ``level`` %
  interval at the horizon is above today's price, short only when the upper bound is below it.

Missing prices are carried forward for the indicators; a forecast strategy is flat on a day
whose last valid price is not positive (no return can be computed).

Usage::

    strategy = make_strategy("sma-cross", fast=10, slow=40)
    targets = strategy.positions(prices)        # pd.Series in [-1, 1]
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

__all__ = [
    "STRATEGIES",
    "STRATEGY_NAMES",
    "BuyAndHold",
    "ForecastBandStrategy",
    "ForecastStrategy",
    "MeanReversion",
    "ParamSpec",
    "ProgressCallback",
    "SmaCross",
    "Strategy",
    "StrategyError",
    "make_strategy",
    "strategy_key",
]

#: ``progress(done, total)`` called by walk-forward strategies after each rebalance date.
ProgressCallback = Callable[[int, int], None]


class StrategyError(ValueError):
    """Unknown strategy or invalid parameter; the message names it and the valid choices."""


@dataclass(frozen=True)
class ParamSpec:
    """Description of one strategy parameter (used for validation, the CLI and the dashboard).

    Attributes:
        name: parameter name.
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"dict"``.
        default: default value.
        help: one-line description.
        low: smallest allowed value (numbers), if any.
        high: largest allowed value (numbers), if any.
        choices: allowed values (strings), if restricted.
        optional: whether ``None`` is allowed.
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False

    def check(self, strategy: str, value: Any) -> Any:
        """Validate and normalise one value.

        Args:
            strategy: strategy name, for the message.
            value: the value given.

        Returns:
            The value converted to the parameter's type.

        Raises:
            StrategyError: naming the parameter and the rule.
        """
        where = f"{strategy}: parameter {self.name!r}"
        if value is None:
            if self.optional:
                return None
            raise StrategyError(f"{where} is required")
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise StrategyError(f"{where} must be true or false, got {value!r}")
        if self.kind == "str":
            if not isinstance(value, str):
                raise StrategyError(f"{where} must be a string, got {value!r}")
            if self.choices is not None:
                key = value.strip().lower().replace("-", "_")  # the choices' spelling
                if key not in self.choices:
                    raise StrategyError(
                        f"{where} must be one of {', '.join(self.choices)}, got {value!r}"
                    )
                return key
            return value
        if self.kind == "dict":
            if not isinstance(value, Mapping):
                raise StrategyError(f"{where} must be a mapping, got {value!r}")
            return dict(value)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise StrategyError(f"{where} must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise StrategyError(f"{where} must be finite, got {value!r}")
        if self.kind == "int":
            if number != int(number):
                raise StrategyError(f"{where} must be a whole number, got {value!r}")
            number = int(number)
        if self.low is not None and number < self.low:
            raise StrategyError(f"{where} must be >= {_fmt(self.low)}, got {value!r}")
        if self.high is not None and number > self.high:
            raise StrategyError(f"{where} must be <= {_fmt(self.high)}, got {value!r}")
        return number

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "help": self.help,
            "low": self.low,
            "high": self.high,
            "choices": list(self.choices) if self.choices else None,
            "optional": self.optional,
        }


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class Strategy(ABC):
    """Base class: validated parameters and ``positions(prices)``.

    Subclasses set ``name``, ``description``, ``param_specs`` and implement :meth:`_positions`;
    :meth:`_check` may add checks across parameters.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    #: True for strategies that fit models date by date (slow; they report progress).
    walk_forward: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        specs = {spec.name: spec for spec in self.param_specs}
        unknown = sorted(set(params) - set(specs))
        if unknown:
            raise StrategyError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"valid: {', '.join(specs) or '(none)'}"
            )
        values = {name: spec.default for name, spec in specs.items()}
        values.update(params)
        self.params: dict[str, Any] = {
            name: specs[name].check(self.name, value) for name, value in values.items()
        }
        self._check()
        #: details of the last :meth:`positions` call (e.g. forecasts skipped)
        self.info: dict[str, Any] = {}

    def _check(self) -> None:
        """Cross-parameter checks; raise :class:`StrategyError`."""

    @property
    def allows_short(self) -> bool:
        """Whether the strategy may go short."""
        return bool(self.params.get("short", False))

    def positions(
        self,
        prices: pd.Series,
        start: pd.Timestamp | str | None = None,
        progress: ProgressCallback | None = None,
    ) -> pd.Series:
        """Target position for every day of ``prices``.

        Args:
            prices: price series (DatetimeIndex, sorted); NaN and values <= 0 allowed.
            start: first date a position may be needed; walk-forward strategies are flat before
                it (and do not spend time there). Others ignore it.
            progress: ``progress(done, total)`` for walk-forward strategies.

        Returns:
            ``pd.Series`` of floats in ``[-1, 1]`` on the index of ``prices``; the value on day
            ``t`` uses prices up to ``t`` only.

        Raises:
            StrategyError: when ``prices`` is not a usable series.
        """
        if not isinstance(prices, pd.Series) or not isinstance(prices.index, pd.DatetimeIndex):
            raise StrategyError(f"{self.name}: prices must be a pandas Series with dates")
        values = pd.to_numeric(prices, errors="coerce").astype(float)
        start_ts = None if start is None else pd.Timestamp(start)
        out = self._positions(values, start_ts, progress)
        out = pd.Series(np.clip(np.nan_to_num(np.asarray(out, dtype=float)), -1.0, 1.0),
                        index=prices.index, name="target")
        return out

    @abstractmethod
    def _positions(
        self, prices: pd.Series, start: pd.Timestamp | None, progress: ProgressCallback | None
    ) -> np.ndarray:
        """Compute the targets (same length as ``prices``)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, description and parameter specs, JSON-safe (for dashboards and ``--help``)."""
        return {
            "name": cls.name,
            "description": cls.description,
            "walk_forward": cls.walk_forward,
            "params": [spec.to_dict() for spec in cls.param_specs],
        }


_SHORT = ParamSpec("short", "bool", True, "go short on a sell signal (else flat)")


class BuyAndHold(Strategy):
    """Always long: the benchmark."""

    name = "buy-and-hold"
    description = "Always long 100 % of equity."

    def _positions(self, prices: pd.Series, start: pd.Timestamp | None,
                   progress: ProgressCallback | None) -> np.ndarray:
        return np.ones(len(prices))


class SmaCross(Strategy):
    """Fast/slow simple moving average crossover, always in the market."""

    name = "sma-cross"
    description = "Long when the fast moving average is above the slow one, short below."
    param_specs = (
        ParamSpec("fast", "int", 10, "fast moving average window (trading days)", 1, 5000),
        ParamSpec("slow", "int", 40, "slow moving average window (trading days)", 2, 5000),
        _SHORT,
    )

    def _check(self) -> None:
        if self.params["fast"] >= self.params["slow"]:
            raise StrategyError(
                f"sma-cross: fast ({self.params['fast']}) must be smaller than slow "
                f"({self.params['slow']})"
            )

    def _positions(self, prices: pd.Series, start: pd.Timestamp | None,
                   progress: ProgressCallback | None) -> np.ndarray:
        filled = prices.ffill()
        fast = filled.rolling(self.params["fast"], min_periods=self.params["fast"]).mean()
        slow = filled.rolling(self.params["slow"], min_periods=self.params["slow"]).mean()
        diff = (fast - slow).to_numpy()
        low = -1.0 if self.params["short"] else 0.0
        signal = np.where(diff > 0, 1.0, np.where(diff < 0, low, np.nan))
        # on an exact tie keep the previous side; flat during the warm-up
        return pd.Series(signal).ffill().fillna(0.0).to_numpy()


class MeanReversion(Strategy):
    """Z-score mean reversion with entry and exit thresholds."""

    name = "mean-reversion"
    description = "Buy when the price is entry_z standard deviations below its mean, exit near it."
    param_specs = (
        ParamSpec("window", "int", 20, "rolling window of the mean and std (trading days)", 2,
                  5000),
        ParamSpec("entry_z", "float", 2.0, "enter when |z| exceeds this", 0.0, 100.0),
        ParamSpec("exit_z", "float", 0.5, "exit when z comes back within this", 0.0, 100.0),
        _SHORT,
    )

    def _check(self) -> None:
        if not self.params["exit_z"] < self.params["entry_z"]:
            raise StrategyError(
                f"mean-reversion: exit_z ({self.params['exit_z']}) must be smaller than "
                f"entry_z ({self.params['entry_z']})"
            )

    def _positions(self, prices: pd.Series, start: pd.Timestamp | None,
                   progress: ProgressCallback | None) -> np.ndarray:
        window = self.params["window"]
        filled = prices.ffill()
        mean = filled.rolling(window, min_periods=window).mean()
        std = filled.rolling(window, min_periods=window).std(ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = ((filled - mean) / std).to_numpy()
        entry, exit_, short = self.params["entry_z"], self.params["exit_z"], self.params["short"]
        out = np.zeros(len(z))
        state = 0.0
        for i, zi in enumerate(z.tolist()):
            if math.isfinite(zi):
                if state > 0 and zi >= -exit_ or state < 0 and zi <= exit_:
                    state = 0.0
                if state == 0.0:
                    if zi < -entry:
                        state = 1.0
                    elif zi > entry and short:
                        state = -1.0
            out[i] = state
        return out


#: forecast returns smaller than this count as "no change" (float rounding of exp(log p))
_RETURN_EPS = 1e-9


def _model_names() -> tuple[str, ...]:
    from energy_nb.models import MODEL_NAMES

    return tuple(MODEL_NAMES)


class ForecastStrategy(Strategy):
    """Trade on the forecast return of a model refitted walk-forward."""

    name = "forecast"
    description = ("Long when the model's forecast return over the horizon exceeds the "
                   "threshold, short below minus the threshold.")
    walk_forward = True
    param_specs = (
        ParamSpec("model", "str", "drift", "forecasting model (energy_nb.models)"),
        ParamSpec("horizon", "int", 5, "forecast horizon (trading days)", 1, 250),
        ParamSpec("threshold", "float", 0.0,
                  "minimum absolute forecast return to trade, as a fraction (0.01 = 1 %)", 0.0,
                  10.0),
        ParamSpec("refit_every", "int", 20, "refit the model every N trading days (update in "
                  "between)", 1, 100_000),
        ParamSpec("rebalance_every", "int", 1, "forecast and rebalance every N trading days", 1,
                  10_000),
        ParamSpec("min_history", "int", 250, "prices needed before the first forecast", 30,
                  100_000),
        ParamSpec("train_window", "int", None, "at each refit, fit on the last N prices only "
                  "(then updated with new prices until the next refit; None: all)", 30,
                  100_000, optional=True),
        ParamSpec("model_params", "dict", {}, "constructor parameters of the model"),
        _SHORT,
    )
    #: interval levels requested from the model (none for the point forecast)
    _levels: tuple[int, ...] = ()

    def _check(self) -> None:
        from energy_nb.models import ModelError, make_model, model_key

        name = model_key(self.params["model"])
        if name not in _model_names():
            raise StrategyError(
                f"{self.name}: unknown model {self.params['model']!r}; "
                f"known models: {', '.join(_model_names())}"
            )
        self.params["model"] = name
        try:
            make_model(name, **self.params["model_params"])
        except (ModelError, TypeError, ValueError) as exc:
            raise StrategyError(f"{self.name}: model parameters: {exc}") from exc

    def _signal(self, fc: Any, price: float) -> float:
        ret = float(fc.mean[-1]) / price - 1.0
        if abs(ret) < _RETURN_EPS:  # a no-change forecast, up to rounding
            return 0.0
        thr = self.params["threshold"]
        if ret > thr:
            return 1.0
        if ret < -thr:
            return -1.0 if self.params["short"] else 0.0
        return 0.0

    def _signal_kind(self, fc: Any, price: float, signal: float) -> str:
        """Why a forecast gave ``signal``: ``long``, ``short``, ``flat_forecast`` (the model
        forecast no change), ``inside_threshold`` (a change too small to trade) or
        ``short_off`` (down, but shorting is off)."""
        if signal > 0:
            return "long"
        if signal < 0:
            return "short"
        if abs(float(fc.mean[-1]) / price - 1.0) < _RETURN_EPS:
            return "flat_forecast"
        return "short_off" if self._points_down(fc, price) else "inside_threshold"

    def _points_down(self, fc: Any, price: float) -> bool:
        """Whether the forecast would go short if shorting were on."""
        return float(fc.mean[-1]) / price - 1.0 < -self.params["threshold"] \
            and not self.params["short"]

    def _positions(self, prices: pd.Series, start: pd.Timestamp | None,
                   progress: ProgressCallback | None) -> np.ndarray:
        from numpy.linalg import LinAlgError

        from energy_nb.models import ModelError, make_model

        n = len(prices)
        values = prices.to_numpy(dtype=float)
        last_valid = prices.ffill().to_numpy(dtype=float)
        valid_count = np.cumsum(np.isfinite(values) & (values > 0))
        first = int(np.searchsorted(valid_count, self.params["min_history"]))
        if start is not None:
            first = max(first, int(prices.index.searchsorted(start)))
        step = self.params["rebalance_every"]
        dates = list(range(first, n, step))
        out = np.full(n, np.nan)
        out[:first] = 0.0
        model = None
        since_fit = 0
        skipped: list[str] = []
        refits = 0
        horizon = self.params["horizon"]
        window = self.params["train_window"]
        total = len(dates)
        anchor = 0
        signals = {"long": 0, "short": 0, "flat_forecast": 0, "inside_threshold": 0,
                   "short_off": 0}
        chosen: dict[str, int] = {}
        # one BLAS thread for the many small fits (idle BLAS threads spin after each call and
        # slow the next fit; see energy_nb.evaluation.walk_forward)
        with threadpool_limits(limits=1):
            for done, t in enumerate(dates, start=1):
                refit = model is None or since_fit >= self.params["refit_every"]
                if refit:
                    # the training series starts here until the next refit, so updates stay cheap
                    anchor = 0 if window is None else max(0, t + 1 - window)
                y = prices.iloc[anchor: t + 1]  # data up to and including day t only
                signal = 0.0
                try:
                    if refit:
                        model = make_model(self.params["model"],
                                           **self.params["model_params"]).fit(y)
                        since_fit = 0
                        refits += 1
                    else:
                        model.update(y)
                    fc = model.predict(horizon=horizon, levels=self._levels)
                    price = last_valid[t]
                    if math.isfinite(price) and price > 0:
                        signal = self._signal(fc, price)
                        signals[self._signal_kind(fc, price, signal)] += 1
                    used = fc.info.get("chosen") or fc.model
                    chosen[used] = chosen.get(used, 0) + 1
                except ModelError as exc:  # e.g. too little data for this model: flat that day
                    skipped.append(f"{prices.index[t].date()}: {exc}")
                    model = None
                except (ValueError, ArithmeticError, LinAlgError) as exc:
                    raise StrategyError(
                        f"{self.name}: model {self.params['model']!r} failed on "
                        f"{prices.index[t].date()} ({type(exc).__name__}: {exc})"
                    ) from exc
                since_fit += step
                out[t] = signal
                if progress is not None:
                    progress(done, total)
        self.info = {"forecasts": total, "refits": refits, "skipped": skipped[:20],
                     "n_skipped": len(skipped), "signals": signals, "models_used": chosen}
        return pd.Series(out).ffill().fillna(0.0).to_numpy()


class ForecastBandStrategy(ForecastStrategy):
    """Trade only when the forecast interval at the horizon excludes today's price."""

    name = "forecast-band"
    description = ("Long when the whole level-% interval at the horizon is above today's price, "
                   "short when it is below; flat otherwise.")
    param_specs = tuple(s for s in ForecastStrategy.param_specs if s.name != "threshold") + (
        ParamSpec("level", "int", 80, "interval level in percent", 1, 99),
    )

    @property
    def _levels(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.params["level"],)

    def _points_down(self, fc: Any, price: float) -> bool:
        return float(fc.upper[self.params["level"]][-1]) < price and not self.params["short"]

    def _signal(self, fc: Any, price: float) -> float:
        level = self.params["level"]
        if float(fc.lower[level][-1]) > price:
            return 1.0
        if float(fc.upper[level][-1]) < price:
            return -1.0 if self.params["short"] else 0.0
        return 0.0


#: name -> strategy class
STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (BuyAndHold, SmaCross, MeanReversion, ForecastStrategy, ForecastBandStrategy)
}
#: every registered strategy name
STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)


def strategy_key(name: Any) -> str:
    """The registered name a strategy name stands for (case-insensitive, ``_`` or ``-``).

    Args:
        name: e.g. ``"SMA_Cross"``.

    Returns:
        e.g. ``"sma-cross"``.

    Raises:
        StrategyError: not a string, or no such strategy (the message lists the known names).

    Usage::

        strategy_key(" Mean_Reversion ")   # "mean-reversion"
    """
    if not isinstance(name, str):
        raise StrategyError(f"strategy name must be a string, got {name!r}")
    key = name.strip().lower().replace("_", "-")
    if key not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; known: {', '.join(STRATEGY_NAMES)}")
    return key


def make_strategy(name: str, **params: Any) -> Strategy:
    """Create a strategy by name with validated parameters.

    Args:
        name: one of :data:`STRATEGY_NAMES` (case-insensitive; ``_`` and ``-`` both work).
        **params: the strategy's parameters (see its ``param_specs``).

    Returns:
        The strategy.

    Raises:
        StrategyError: unknown name or invalid parameter.

    Usage::

        make_strategy("mean-reversion", window=20, entry_z=2, exit_z=0.5).params["window"]  # 20
    """
    return STRATEGIES[strategy_key(name)](**params)
