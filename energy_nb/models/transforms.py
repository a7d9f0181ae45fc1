"""Input policy for price series: missing values, non-positive prices and the log transform.

Every model in :mod:`energy_nb.models` works on **log prices** and forecasts the log-price change
from the origin; forecasts and interval bounds are mapped back with ``exp``, so they are always
strictly positive and finite. Before the log is taken, :func:`prepare_series` applies ONE policy,
shared by all models:

* **Leading missing values** (NaN before the first valid price) are dropped.
* **Interior or trailing missing values** (NaN, e.g. the blank NG price of 2018-01-05) are
  filled with the last valid price (carry forward). The date stays in the index, so the origin
  is always the last date of the input series.
* **Non-positive prices** (WTI settled at -36.98 USD/bbl on 2020-04-20, a one-day contract-expiry
  dislocation) cannot be represented on a log scale. They are treated exactly like missing
  values: replaced by the last positive price. A series whose *last* prices are non-positive is
  therefore forecast from the last positive price. The number of replaced values is reported in
  ``Forecast.info["replaced_nonpositive"]`` / ``["filled_missing"]`` so the user can see it.

Rationale: a log-price model with a floor (e.g. 0.01) would turn the -36.98 print into two daily
log returns of about -7.5 and +7, which would dominate volatility estimates, features and interval
widths for months; carrying the last positive price keeps the transformation well defined while
the neighbouring (genuinely low, positive) prices of April 2020 are used as they are.

Usage::

    >>> prepared = prepare_series(y)
    >>> prepared.log_values[-1], prepared.origin
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_nb.models.errors import InsufficientDataError, ModelInputError

#: Fewest valid (positive, non-missing) prices any model accepts.
MIN_OBSERVATIONS = 30


@dataclass(frozen=True)
class PreparedSeries:
    """A price series after the input policy, ready for modelling.

    Attributes:
        index: trading dates (``DatetimeIndex``), leading missing values removed.
        prices: prices after filling (strictly positive), shape ``(n,)``.
        log_values: ``log(prices)``, shape ``(n,)``.
        name: commodity name taken from the input series (``""`` when unnamed).
        filled_missing: number of NaN prices that were carried forward.
        replaced_nonpositive: number of non-positive prices that were carried forward.
    """

    index: pd.DatetimeIndex
    prices: np.ndarray
    log_values: np.ndarray
    name: str
    filled_missing: int
    replaced_nonpositive: int

    @property
    def origin(self) -> pd.Timestamp:
        """The last date of the series (the forecast origin)."""
        return pd.Timestamp(self.index[-1])

    @property
    def log_returns(self) -> np.ndarray:
        """Daily log returns, shape ``(n - 1,)``."""
        return np.diff(self.log_values)

    def __len__(self) -> int:
        return len(self.log_values)

    def head(self, n: int) -> PreparedSeries:
        """The first ``n`` positions (an earlier origin), counts recomputed as unknown (0)."""
        return PreparedSeries(
            index=self.index[:n],
            prices=self.prices[:n],
            log_values=self.log_values[:n],
            name=self.name,
            filled_missing=0,
            replaced_nonpositive=0,
        )


def validate_series(y: object) -> pd.Series:
    """Check that ``y`` is a price series a model can use.

    Args:
        y: candidate ``pd.Series`` of floats on a ``DatetimeIndex``.

    Returns:
        The series as float64 (a copy is not guaranteed).

    Raises:
        ModelInputError: naming what is wrong (type, index, order, duplicates, values).
    """
    if not isinstance(y, pd.Series):
        raise ModelInputError(f"y must be a pandas Series of prices, got {type(y).__name__}")
    if not isinstance(y.index, pd.DatetimeIndex):
        raise ModelInputError(
            f"y must have a DatetimeIndex, got {type(y.index).__name__}"
        )
    if y.index.hasnans:
        raise ModelInputError("y's index contains missing dates (NaT)")
    if not y.index.is_monotonic_increasing:
        raise ModelInputError("y's index must be sorted by date (increasing)")
    if y.index.has_duplicates:
        dup = y.index[y.index.duplicated()][0]
        raise ModelInputError(f"y's index has duplicate dates, e.g. {dup.date()}")
    try:
        values = y.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ModelInputError(f"y must hold numeric prices: {exc}") from None
    if np.isinf(values.to_numpy()).any():
        raise ModelInputError("y contains infinite prices")
    return values


def prepare_series(y: object, min_observations: int = MIN_OBSERVATIONS) -> PreparedSeries:
    """Apply the module's missing / non-positive policy and take logs.

    Args:
        y: price series (see :func:`validate_series`); its last date is the origin.
        min_observations: fewest valid prices required.

    Returns:
        The :class:`PreparedSeries`.

    Raises:
        ModelInputError: malformed input.
        InsufficientDataError: fewer than ``min_observations`` valid prices.

    Usage::

        >>> prepare_series(store.load("WTI")).log_values
    """
    values = validate_series(y)
    raw = values.to_numpy(dtype="float64", copy=True)
    missing = np.isnan(raw)
    nonpositive = ~missing & (raw <= 0)
    valid = ~missing & ~nonpositive
    n_valid = int(valid.sum())
    if n_valid < min_observations:
        raise InsufficientDataError(
            f"need at least {min_observations} valid (positive, non-missing) prices, "
            f"got {n_valid}"
        )
    first = int(np.argmax(valid))
    raw = raw[first:]
    missing, nonpositive, valid = missing[first:], nonpositive[first:], valid[first:]
    cleaned = pd.Series(np.where(valid, raw, np.nan)).ffill().to_numpy()
    index = values.index[first:]
    name = "" if values.name is None else str(values.name)
    return PreparedSeries(
        index=pd.DatetimeIndex(index, name="date"),
        prices=cleaned,
        log_values=np.log(cleaned),
        name=name,
        filled_missing=int(missing.sum()),
        replaced_nonpositive=int(nonpositive.sum()),
    )
