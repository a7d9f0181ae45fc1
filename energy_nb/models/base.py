"""The one model interface: :class:`ForecastModel` and its result, :class:`Forecast`.

Every model follows the scikit-learn estimator convention: the constructor only stores
parameters (``get_params`` / ``set_params``), ``fit(y)`` learns from a price series ending at the
forecast origin and sets attributes ending in ``_``, ``update(y_longer)`` refreshes with newer
observations (default: refit), and ``predict(horizon, levels)`` returns a :class:`Forecast` for the
``horizon`` trading days after the origin (dated on the commodity's exchange calendar, see
:mod:`energy_nb.calendars`; step ``k`` is always the ``k``-th observation after the origin).

All models work on log prices (see :mod:`energy_nb.models.transforms` for the missing-value and
non-positive price policy) and share the calibrated intervals of
:mod:`energy_nb.models.intervals`. A concrete model implements two methods:

* ``_fit(self, series: PreparedSeries) -> None`` — estimate parameters;
* ``_paths(self, origins: np.ndarray, horizon: int) -> np.ndarray`` — forecast log-price changes
  ``log y[t+h] - log y[t]`` for ``h = 1..horizon`` from each origin position ``t``, using the
  fitted parameters and data up to ``t`` only. It is used for the forecast itself (``t`` = last
  position) and for the rolling-origin residuals that calibrate the intervals.

Usage::

    >>> from energy_nb.models import make_model
    >>> fc = make_model("drift").fit(y).predict(horizon=7, levels=(80, 95))
    >>> fc.to_frame()
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from energy_nb.models.errors import (
    InsufficientDataError,
    InvalidParameterError,
    ModelError,
    ModelInputError,
    NotFittedError,
)
from energy_nb.models.intervals import (
    CALIBRATION_WEIGHT_HALFLIFE,
    DEFAULT_HALFLIFE,
    DEFAULT_WINDOW,
    LONG_HALFLIFE,
    conformal_offsets,
    ewma_drift,
    ewma_volatility,
    horizon_scale,
    scaled_residuals,
)
from energy_nb.calendars import describe as describe_calendar
from energy_nb.models.transforms import PreparedSeries, prepare_series

__all__ = [
    "DEFAULT_LEVELS",
    "MAX_HORIZON",
    "Forecast",
    "ForecastModel",
    "InsufficientDataError",
    "InvalidParameterError",
    "ModelError",
    "ModelInputError",
    "NotFittedError",
    "validate_horizon",
    "validate_levels",
]

#: Largest horizon (trading days) a model accepts; the UI and CLI restrict to 1..30.
MAX_HORIZON = 250
#: Interval levels used when none are given.
DEFAULT_LEVELS: tuple[int, ...] = (80, 95)


def validate_horizon(horizon: object, max_horizon: int = MAX_HORIZON) -> int:
    """Check a forecast horizon.

    Args:
        horizon: number of trading days ahead (int in ``1..max_horizon``).
        max_horizon: upper bound.

    Returns:
        The horizon as ``int``.

    Raises:
        InvalidParameterError: if it is not an integer in range.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise InvalidParameterError(
            f"horizon must be an integer number of trading days, got {horizon!r}"
        )
    if not 1 <= int(horizon) <= max_horizon:
        raise InvalidParameterError(f"horizon must be in 1..{max_horizon}, got {horizon}")
    return int(horizon)


def validate_levels(levels: object) -> tuple[int, ...]:
    """Check interval levels.

    Args:
        levels: iterable of integers strictly between 0 and 100 (percent), e.g. ``(80, 95)``.

    Returns:
        Sorted tuple of unique levels (may be empty).

    Raises:
        InvalidParameterError: naming the bad level.
    """
    if isinstance(levels, (str, bytes)) or not isinstance(levels, (Sequence, set, frozenset)):
        raise InvalidParameterError(
            f"levels must be a sequence of integers in (0, 100), got {levels!r}"
        )
    out: set[int] = set()
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise InvalidParameterError(f"interval level must be an integer, got {level!r}")
        if not 0 < int(level) < 100:
            raise InvalidParameterError(
                f"interval level must be strictly between 0 and 100, got {level}"
            )
        out.add(int(level))
    return tuple(sorted(out))


def _json_safe(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


@dataclass(frozen=True)
class Forecast:
    """A point forecast with prediction intervals for the trading days after ``origin``.

    Attributes:
        commodity: commodity code (the input series' name, ``""`` if unnamed).
        model: name of the model that produced it (``auto`` reports its choice in ``info``).
        origin: last date of the data used.
        dates: the ``h`` trading days after the origin on the commodity's market (NYMEX for WTI
            and NG, ICE for Brent; weekdays for other series). ``info["calendar"]`` names the
            calendar and says what it cannot know (closures not yet announced).
        mean: point forecasts, shape ``(h,)``.
        lower: ``{level: array (h,)}`` lower bounds.
        upper: ``{level: array (h,)}`` upper bounds.
        levels: the levels, ascending.
        info: JSON-safe details (parameters chosen, data policy counts, auto's choice, calendar).

    Usage::

        >>> fc.lower[80], fc.to_frame(), fc.to_dict()
    """

    commodity: str
    model: str
    origin: pd.Timestamp
    dates: pd.DatetimeIndex
    mean: np.ndarray
    lower: Mapping[int, np.ndarray]
    upper: Mapping[int, np.ndarray]
    levels: tuple[int, ...] = DEFAULT_LEVELS
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        """Number of steps."""
        return len(self.mean)

    def to_frame(self) -> pd.DataFrame:
        """Table with columns ``date, mean, lower_<L>, upper_<L>`` for each level ``L``.

        Returns:
            A ``pd.DataFrame`` with one row per step.
        """
        data: dict[str, Any] = {"date": self.dates, "mean": self.mean}
        for level in self.levels:
            data[f"lower_{level}"] = self.lower[level]
            data[f"upper_{level}"] = self.upper[level]
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (dates as ISO strings, level keys as strings).

        Returns:
            A dict that :meth:`from_dict` turns back into an equal forecast.
        """
        return {
            "commodity": self.commodity,
            "model": self.model,
            "origin": self.origin.date().isoformat(),
            "dates": [d.date().isoformat() for d in self.dates],
            "mean": _json_safe(self.mean),
            "levels": list(self.levels),
            "lower": {str(k): _json_safe(self.lower[k]) for k in self.levels},
            "upper": {str(k): _json_safe(self.upper[k]) for k in self.levels},
            "info": _json_safe(dict(self.info)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Forecast:
        """Rebuild a forecast from :meth:`to_dict` output.

        Args:
            data: the dict.

        Returns:
            The :class:`Forecast`.
        """
        levels = tuple(int(v) for v in data["levels"])
        return cls(
            commodity=str(data["commodity"]),
            model=str(data["model"]),
            origin=pd.Timestamp(data["origin"]),
            dates=pd.DatetimeIndex(pd.to_datetime(data["dates"]), name="date"),
            mean=np.asarray(data["mean"], dtype="float64"),
            lower={k: np.asarray(data["lower"][str(k)], dtype="float64") for k in levels},
            upper={k: np.asarray(data["upper"][str(k)], dtype="float64") for k in levels},
            levels=levels,
            info=dict(data.get("info", {})),
        )


def forecast_dates(origin: pd.Timestamp, horizon: int, commodity: str = "") -> pd.DatetimeIndex:
    """The ``horizon`` trading days after ``origin`` on the commodity's market.

    Args:
        origin: the forecast origin.
        horizon: number of steps.
        commodity: commodity code; an unknown name (or ``""``) means weekdays Mon–Fri.

    Returns:
        The step dates (see :mod:`energy_nb.calendars`: NYMEX for WTI and NG, ICE for Brent).

    Raises:
        InvalidParameterError: a step beyond the calendar's known holiday rules.
    """
    from energy_nb.calendars import trading_days_after

    try:
        return trading_days_after(commodity, origin, horizon)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


class ForecastModel(ABC):
    """Abstract base of every forecasting model (scikit-learn estimator convention).

    Subclasses declare their parameters as keyword arguments of ``__init__`` and store each one
    unchanged under the same attribute name; validation happens in :meth:`_validate_params`,
    called by ``fit``. Common parameters of all models (through :meth:`_interval_params`):
    ``calibration_window`` (origins used to calibrate intervals) and ``vol_halflife``
    (half-life of the volatility scale) — see :mod:`energy_nb.models.intervals`.

    Fitted attributes: ``series_`` (:class:`PreparedSeries`), ``sigma_`` and ``sigma_long_``
    (short- and long-run volatility), ``recent_drift_`` (recent drift), plus the model's own,
    all ending in ``_``.
    """

    #: Registry name of the model (``make_model`` key).
    name: ClassVar[str] = ""
    #: Fewest data positions an origin needs before ``_paths`` can forecast from it.
    min_history: ClassVar[int] = 2
    #: Fewest valid prices ``fit`` accepts.
    min_observations: ClassVar[int] = 30

    # ---- sklearn-style parameter handling -------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their current values.

        Args:
            deep: accepted for scikit-learn compatibility (no nested estimators are exposed).

        Returns:
            ``{name: value}``.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ForecastModel:
        """Set constructor parameters (unknown names raise :class:`InvalidParameterError`).

        Returns:
            ``self``.
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InvalidParameterError(
                    f"{self.name or type(self).__name__} has no parameter {key!r}; "
                    f"valid: {', '.join(sorted(valid)) or '(none)'}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _validate_params(self) -> None:
        """Check parameter values; raise :class:`InvalidParameterError`. Override and extend."""
        window = getattr(self, "calibration_window", DEFAULT_WINDOW)
        halflife = getattr(self, "vol_halflife", DEFAULT_HALFLIFE)
        _check_int(self, "calibration_window", window, 0, 100_000)
        _check_number(self, "vol_halflife", halflife, 1.0, 10_000.0)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, y: pd.Series) -> ForecastModel:
        """Fit on a price series that ends at the forecast origin.

        Args:
            y: ``pd.Series`` of prices on a sorted, unique ``DatetimeIndex``. Missing and
                non-positive prices follow :mod:`energy_nb.models.transforms`.

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: bad constructor parameters.
            ModelInputError: malformed ``y``; InsufficientDataError: too short.
        """
        self._validate_params()
        return self._fit_prepared(prepare_series(y, min_observations=self.min_observations))

    def _fit_prepared(self, series: PreparedSeries) -> ForecastModel:
        """Fit on an already prepared series (used by composite models)."""
        if len(series) < self.min_observations:
            raise InsufficientDataError(
                f"{self.name} needs at least {self.min_observations} prices, got {len(series)}"
            )
        self._set_series(series)
        self._fit(series)
        # the series the parameters were estimated on (``series_`` moves on with ``update``)
        self.fit_series_ = series
        return self

    def update(self, y: pd.Series) -> ForecastModel:
        """Refresh the fitted model with a longer series.

        If ``y`` extends the training series (same start, same earlier prices) and the model
        supports it, the estimated parameters are kept and only the state (filtered levels,
        residuals, features) is recomputed on ``y`` — much cheaper than :meth:`fit`. Otherwise
        (revised history, shorter series, or a model without cheap update) this refits.

        Args:
            y: the price series, typically the previous training series plus newer prices.

        Returns:
            ``self``.
        """
        self._check_fitted()
        self._validate_params()
        return self._update_prepared(prepare_series(y, min_observations=self.min_observations))

    def _update_prepared(self, series: PreparedSeries) -> ForecastModel:
        """:meth:`update` on an already prepared series (used by composite models)."""
        self._check_fitted()
        if self._supports_refilter and self._extends(series):
            self._set_series(series)
            self._refilter(series)
            return self
        return self._fit_prepared(series)

    #: Whether :meth:`_refilter` keeps parameters and only recomputes state.
    _supports_refilter: ClassVar[bool] = False

    def _refilter(self, series: PreparedSeries) -> None:
        """Recompute the state for ``series`` with the fitted parameters (override)."""
        self._fit(series)

    def _extends(self, series: PreparedSeries) -> bool:
        old = self.series_
        n_old = len(old)
        if len(series) < n_old or series.index[0] != old.index[0]:
            return False
        if not series.index[:n_old].equals(old.index):
            return False
        return bool(np.allclose(series.log_values[:n_old], old.log_values, rtol=0, atol=1e-12))

    def _set_series(self, series: PreparedSeries) -> None:
        self.series_ = series
        halflife = float(getattr(self, "vol_halflife", DEFAULT_HALFLIFE))
        self.sigma_ = ewma_volatility(series.log_values, halflife)
        self.sigma_long_ = ewma_volatility(series.log_values, max(LONG_HALFLIFE, halflife))
        self.recent_drift_ = ewma_drift(series.log_values)
        self._residual_cache_: dict[int, np.ndarray] = {}

    @abstractmethod
    def _fit(self, series: PreparedSeries) -> None:
        """Estimate the model's parameters from ``series`` (set attributes ending in ``_``)."""

    @abstractmethod
    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        """Forecast log-price changes for steps ``1..horizon`` from each origin position.

        Args:
            origins: integer positions into ``self.series_`` (each ``>= min_history - 1``).
            horizon: number of steps.

        Returns:
            Array of shape ``(len(origins), horizon)``; row ``i`` may only depend on data at
            positions ``<= origins[i]`` (and on fitted parameters).
        """

    # ---- prediction -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "series_"):
            raise NotFittedError(
                f"this {self.name or type(self).__name__} model is not fitted yet; "
                "call fit(y) before predict() or update()"
            )

    def _calibration_origins(self) -> np.ndarray:
        n = len(self.series_)
        window = int(getattr(self, "calibration_window", DEFAULT_WINDOW))
        start = max(self.min_history - 1, n - 1 - window)
        return np.arange(start, n - 1)

    def _scale(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        """Interval scale ``s(t, h)`` at ``origins``, steps ``1..horizon``.

        See :mod:`.intervals`.
        """
        return horizon_scale(self.sigma_, self.sigma_long_, origins, horizon,
                             drift=self.recent_drift_)

    def calibration_residuals(self, horizon: int) -> np.ndarray:
        """Scaled rolling-origin residuals of this fitted model (see :mod:`.intervals`).

        Args:
            horizon: number of steps.

        Returns:
            Array ``(n_origins, horizon)``; NaN where the target lies after the origin.
        """
        self._check_fitted()
        for cached_h, z in self._residual_cache_.items():
            if cached_h >= horizon:
                return z[:, :horizon]
        horizon_c = max(horizon, 30)
        origins = self._calibration_origins()
        if len(origins) == 0:
            z = np.full((0, horizon_c), np.nan)
        else:
            paths = self._paths(origins, horizon_c)
            scale = self._scale(origins, horizon_c)
            z = scaled_residuals(self.series_.log_values, origins, paths, scale)
        self._residual_cache_ = {horizon_c: z}
        return z[:, :horizon]

    def predict_paths(self, horizon: int) -> np.ndarray:
        """Forecast log-price changes from the origin, shape ``(horizon,)``."""
        self._check_fitted()
        last = np.array([len(self.series_) - 1])
        return np.asarray(self._paths(last, horizon), dtype="float64")[0]

    def _info(self) -> dict[str, Any]:
        """Model-specific details for ``Forecast.info``; override to add."""
        return {}

    def predict(self, horizon: int = 7, levels: Sequence[int] = DEFAULT_LEVELS) -> Forecast:
        """Forecast the ``horizon`` trading days after the origin.

        Args:
            horizon: steps ahead, integer in ``1..MAX_HORIZON``.
            levels: interval levels in percent, integers in ``(0, 100)``.

        Returns:
            The :class:`Forecast` (strictly positive, finite values; nested, ordered bands).

        Raises:
            NotFittedError: before ``fit``. InvalidParameterError: bad horizon or levels.
        """
        self._check_fitted()
        horizon = validate_horizon(horizon)
        levels = validate_levels(levels)
        series = self.series_
        path = self.predict_paths(horizon)
        path = np.where(np.isfinite(path), path, 0.0)
        last_log = series.log_values[-1]
        scale = self._scale(np.array([len(series) - 1]), horizon)[0]
        mean = np.exp(last_log + path)
        lower: dict[int, np.ndarray] = {}
        upper: dict[int, np.ndarray] = {}
        if levels:
            offsets = conformal_offsets(
                self.calibration_residuals(horizon), levels,
                weight_halflife=CALIBRATION_WEIGHT_HALFLIFE,
            )
            for level in levels:
                lo, hi = offsets[level]
                lower[level] = np.exp(last_log + path + lo * scale)
                upper[level] = np.exp(last_log + path + hi * scale)
        info = {
            "params": _json_safe(self.get_params()),
            "n_obs": len(series),
            "train_start": series.index[0].date().isoformat(),
            "filled_missing": series.filled_missing,
            "replaced_nonpositive": series.replaced_nonpositive,
            "calendar": describe_calendar(series.name),
        }
        info.update(self._info())
        return Forecast(
            commodity=series.name,
            model=self.name,
            origin=series.origin,
            dates=forecast_dates(series.origin, horizon, series.name),
            mean=mean,
            lower=lower,
            upper=upper,
            levels=levels,
            info=info,
        )


def _check_int(model: object, name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise InvalidParameterError(f"{name} must be in {low}..{high}, got {value}")


def _check_number(model: object, name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(float(value)) and low <= float(value) <= high):
        raise InvalidParameterError(f"{name} must be in [{low}, {high}], got {value}")


def check_int(name: str, value: object, low: int, high: int) -> None:
    """Raise :class:`InvalidParameterError` unless ``value`` is an int in ``low..high``."""
    _check_int(None, name, value, low, high)


def check_number(name: str, value: object, low: float, high: float) -> None:
    """Raise :class:`InvalidParameterError` unless ``value`` is a finite number in range."""
    _check_number(None, name, value, low, high)
