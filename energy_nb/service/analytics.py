"""Widget-free computations behind the History dashboard (and reports).

Everything here takes price series shaped like :meth:`PriceStore.load` returns them (float
``pd.Series`` on a sorted ``DatetimeIndex`` named ``date``; ``NaN`` = a missing price kept from
the source) and returns plain pandas / numpy / dataclass values.

Policies (documented once, applied everywhere):

* **Frequency.** ``daily`` keeps every observation; ``weekly`` and ``monthly`` keep the last
  available price of each week (weeks end on Friday, label = the Friday) and of each calendar
  month (label = its last day), so several commodities share the same dates. The last,
  unfinished period is labelled with the last date of the data instead of a future date.
  Periods with no price at all are dropped.
* **Rebase.** ``rebase_to_100`` divides by the first valid value of the shown window and
  multiplies by 100. A window whose first valid value is not positive cannot be rebased
  (:class:`AnalyticsError`).
* **Log scale.** A logarithmic axis cannot show prices <= 0 (WTI closed at -36.98 USD/bbl on
  2020-04-20). :func:`for_log_scale` blanks such values (they are not plotted and are blank in
  the CSV of what is shown) and reports which dates were hidden so the page can say so.
* **Returns.** Log returns ``ln(p_t / p_{t-1})`` between consecutive valid observations;
  a return that involves a non-positive price is undefined and excluded (two returns around
  2020-04-20 for WTI). Missing prices (``NaN``) are skipped, so the return spans the gap.
* **Volatility.** Standard deviation of log returns times ``sqrt(periods per year)``
  (252 daily, 52 weekly, 12 monthly). The rolling volatility uses a window of 30 returns.
* **Max drawdown.** ``min(p / running_max(p) - 1)`` on prices, capped at -100 %: a price that
  falls to zero or below (WTI -36.98 on 2020-04-20) has lost all of its value from the peak,
  which is -100 %; a fall "below -100 %" would mean nothing. Such a drawdown is reported as
  -100 % with the day the price was not positive (:attr:`Drawdown.nonpositive_date`), so the
  page can say "through a price <= 0" instead of showing -158 %.

Usage::

    >>> from energy_nb.service.analytics import resample_prices, price_stats
    >>> weekly = resample_prices(series, "weekly")
    >>> price_stats(series).ann_volatility
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

# Resampling lives in the data layer (one definition for the page, the CLI export and reports);
# it is re-exported here as part of the History computations.
from energy_nb.data.frequency import (
    FREQUENCIES,  # noqa: F401 - re-exported for the page
    FrequencyError,
    resample_prices,
)
from energy_nb.data.frequency import check_frequency as _check_frequency

#: Observations per year used to annualise volatility at each frequency.
PERIODS_PER_YEAR: dict[str, int] = {"daily": 252, "weekly": 52, "monthly": 12}

#: Window (number of daily returns) of the rolling volatility.
ROLLING_VOL_WINDOW = 30


class AnalyticsError(ValueError):
    """Raised when a computation cannot be done on the given data (message says why)."""


def check_frequency(freq: str) -> str:
    """Validate a frequency name (see :func:`energy_nb.data.frequency.check_frequency`).

    Args:
        freq: ``"daily"``, ``"weekly"`` or ``"monthly"`` (case-insensitive).

    Returns:
        The lower-case frequency name.

    Raises:
        AnalyticsError: for any other value.
    """
    try:
        return _check_frequency(freq)
    except FrequencyError as exc:
        raise AnalyticsError(str(exc)) from None


def clip_dates(
    series: pd.Series, start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None
) -> pd.Series:
    """Restrict a series to ``start <= date <= end`` (both inclusive, ``None`` = open).

    Args:
        series: a price series on a sorted DatetimeIndex.
        start: first date kept.
        end: last date kept.

    Returns:
        The clipped series (a view-safe copy).

    Raises:
        AnalyticsError: if ``start`` is after ``end``.
    """
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    if lo is not None and hi is not None and lo > hi:
        raise AnalyticsError(f"start {lo.date()} is after end {hi.date()}")
    return series.loc[lo:hi].copy()


def rebase_to_100(series: pd.Series) -> pd.Series:
    """Express a series relative to its first valid value (= 100).

    Args:
        series: prices of the shown window.

    Returns:
        ``100 * series / first_valid_value``.

    Raises:
        AnalyticsError: if the series has no valid value, or its first one is not positive.
    """
    valid = series.dropna()
    if valid.empty:
        raise AnalyticsError(f"{series.name}: no price to rebase")
    base = float(valid.iloc[0])
    if base <= 0:
        raise AnalyticsError(
            f"{series.name}: cannot rebase to 100 from a non-positive first price "
            f"({base:g} on {valid.index[0].date()})"
        )
    return series / base * 100.0


def for_log_scale(series: pd.Series) -> tuple[pd.Series, list[pd.Timestamp]]:
    """Blank the values a logarithmic axis cannot show.

    Args:
        series: values to plot.

    Returns:
        ``(series_with_non_positive_as_nan, dates_hidden)``.
    """
    bad = series <= 0
    hidden = list(series.index[bad.fillna(False).to_numpy(dtype=bool)])
    return series.where(~bad), hidden


def log_returns(series: pd.Series) -> pd.Series:
    """Log returns between consecutive valid observations (see module policy).

    Args:
        series: prices.

    Returns:
        Series of returns indexed by the later date; returns involving a price <= 0 dropped.
    """
    valid = series.dropna()
    prev = valid.shift(1)
    ok = (valid > 0) & (prev > 0)
    ratio = valid[ok] / prev[ok]
    out = np.log(ratio.astype(float))
    out.name = series.name
    return out


def rolling_volatility(
    series: pd.Series, window: int = ROLLING_VOL_WINDOW, freq: str = "daily"
) -> pd.Series:
    """Annualised rolling volatility of log returns.

    Args:
        series: prices at ``freq``.
        window: number of returns per window.
        freq: frequency of ``series`` (sets the annualisation factor).

    Returns:
        Series (first ``window - 1`` returns have no value and are dropped).
    """
    rets = log_returns(series)
    vol = rets.rolling(window).std() * math.sqrt(PERIODS_PER_YEAR[check_frequency(freq)])
    return vol.dropna()


def returns_histogram(series: pd.Series, bins: int = 40,
                      clip: float | None = None) -> pd.DataFrame:
    """Histogram of log returns (in percent).

    Args:
        series: prices.
        bins: number of equal-width bins.
        clip: if given (e.g. ``0.005``), the bins span the ``clip`` .. ``1 - clip`` quantiles
            of the returns and the rarer, larger returns are counted in the two end bins: a few
            extreme days (WTI's negative price in April 2020) no longer squeeze the whole
            distribution into one bar. ``frame.attrs["clipped"]`` says how many were gathered.

    Returns:
        DataFrame with columns ``left``, ``right``, ``center`` (percent) and ``count``;
        empty if there are no returns.
    """
    rets = log_returns(series).to_numpy(dtype=float) * 100.0
    rets = rets[np.isfinite(rets)]
    if rets.size == 0:
        return pd.DataFrame({"left": [], "right": [], "center": [], "count": []})
    clipped = 0
    if clip is not None and rets.size > 2:
        lo, hi = np.quantile(rets, [clip, 1.0 - clip])
        if hi > lo:
            clipped = int(((rets < lo) | (rets > hi)).sum())
            rets = np.clip(rets, lo, hi)
    counts, edges = np.histogram(rets, bins=bins)
    frame = pd.DataFrame(
        {
            "left": edges[:-1],
            "right": edges[1:],
            "center": (edges[:-1] + edges[1:]) / 2.0,
            "count": counts.astype(int),
        }
    )
    frame.attrs["clipped"] = clipped
    return frame


@dataclass(frozen=True)
class Drawdown:
    """The worst peak-to-trough fall.

    Attributes:
        value: the fall as a fraction (``-0.5`` = -50 %); 0 if prices never fell.
        peak_date: date of the running maximum before the trough.
        trough_date: date of the trough.
        nonpositive_date: the first day of that fall with a price <= 0 (the drawdown is then
            -100 %, see the module's policy), else ``None``.
    """

    value: float
    peak_date: pd.Timestamp | None
    trough_date: pd.Timestamp | None
    nonpositive_date: pd.Timestamp | None = None


def max_drawdown(series: pd.Series) -> Drawdown:
    """Maximum drawdown of a price series (see module policy for negative prices).

    Args:
        series: prices.

    Returns:
        :class:`Drawdown`.
    """
    valid = series.dropna()
    if valid.empty:
        return Drawdown(float("nan"), None, None)
    running_max = valid.cummax()
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = valid / running_max - 1.0
    dd = dd[running_max > 0].clip(lower=-1.0)  # a price <= 0 has lost 100 %, not more
    if dd.empty or float(dd.min()) >= 0:
        return Drawdown(0.0, None, None)
    trough = dd.idxmin()  # the first day of the deepest fall
    peak = valid.loc[:trough].idxmax()
    nonpositive = pd.Timestamp(trough) if float(valid.loc[trough]) <= 0 else None
    return Drawdown(float(dd.min()), pd.Timestamp(peak), pd.Timestamp(trough), nonpositive)


@dataclass(frozen=True)
class Change:
    """Change of the last price against an earlier one.

    Attributes:
        ref_date: date of the reference price (last observation on or before the target date).
        ref_price: the reference price.
        abs: ``last - ref_price``.
        pct: relative change in percent (NaN when the reference is not positive).
    """

    ref_date: pd.Timestamp | None
    ref_price: float
    abs: float
    pct: float


def _change(valid: pd.Series, target: pd.Timestamp | None) -> Change:
    nan = float("nan")
    if target is None:  # previous observation
        if len(valid) < 2:
            return Change(None, nan, nan, nan)
        ref_date, ref = valid.index[-2], float(valid.iloc[-2])
    else:
        before = valid.loc[:target]
        if before.empty:
            return Change(None, nan, nan, nan)
        ref_date, ref = before.index[-1], float(before.iloc[-1])
    last = float(valid.iloc[-1])
    pct = (last / ref - 1.0) * 100.0 if ref > 0 else nan
    return Change(pd.Timestamp(ref_date), ref, last - ref, pct)


@dataclass(frozen=True)
class PriceStats:
    """Statistics panel of one commodity over the shown window.

    Attributes:
        code: commodity code.
        first_date / last_date: window covered by valid prices.
        observations: number of valid prices.
        last: last price.
        change_1d / change_1m / change_1y: vs the previous observation, and vs the last price on
            or before one month / one year before ``last_date``.
        mean, std: of prices.
        min, min_date, max, max_date: extremes with their dates.
        ann_volatility: annualised volatility of log returns (fraction, 0.3 = 30 %).
        drawdown: :class:`Drawdown`.
        non_positive: number of prices <= 0 in the window.
        missing: number of NaN (missing) prices in the window.
    """

    code: str
    first_date: pd.Timestamp
    last_date: pd.Timestamp
    observations: int
    last: float
    change_1d: Change
    change_1m: Change
    change_1y: Change
    mean: float
    std: float
    min: float
    min_date: pd.Timestamp
    max: float
    max_date: pd.Timestamp
    ann_volatility: float
    drawdown: Drawdown
    non_positive: int
    missing: int

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a nested dict (dates as ``pd.Timestamp``)."""
        return asdict(self)


def price_stats(series: pd.Series, freq: str = "daily") -> PriceStats:
    """Compute the statistics panel for one commodity.

    Args:
        series: prices of the shown window at ``freq`` (NaN = missing).
        freq: frequency of ``series`` (annualisation of the volatility).

    Returns:
        :class:`PriceStats`.

    Raises:
        AnalyticsError: if the series has no valid price.
    """
    valid = series.dropna()
    if valid.empty:
        raise AnalyticsError(f"{series.name}: no prices in the selected window")
    last_date = pd.Timestamp(valid.index[-1])
    rets = log_returns(valid)
    periods = PERIODS_PER_YEAR[check_frequency(freq)]
    vol = float(rets.std() * math.sqrt(periods)) if len(rets) > 1 else float("nan")
    return PriceStats(
        code=str(series.name),
        first_date=pd.Timestamp(valid.index[0]),
        last_date=last_date,
        observations=int(valid.size),
        last=float(valid.iloc[-1]),
        change_1d=_change(valid, None),
        change_1m=_change(valid, last_date - pd.DateOffset(months=1)),
        change_1y=_change(valid, last_date - pd.DateOffset(years=1)),
        mean=float(valid.mean()),
        std=float(valid.std()) if valid.size > 1 else float("nan"),
        min=float(valid.min()),
        min_date=pd.Timestamp(valid.idxmin()),
        max=float(valid.max()),
        max_date=pd.Timestamp(valid.idxmax()),
        ann_volatility=vol,
        drawdown=max_drawdown(valid),
        non_positive=int((valid <= 0).sum()),
        missing=int(series.isna().sum()),
    )


@dataclass(frozen=True)
class HistoryView:
    """What the History page shows for one set of choices.

    Attributes:
        frame: wide DataFrame (index ``date``, one column per commodity) of exactly the plotted
            values; blank where a commodity has no value at a date.
        hidden_on_log: per commodity, dates whose value was not plotted because of log scale.
        stats: per commodity :class:`PriceStats` of the daily prices in the window (whatever the
            display frequency, so "1 day" means one day), not rebased.
        daily: per commodity the daily prices in the window (for histogram / rolling vol).
        freq, rebased, log_scale: the choices.
    """

    frame: pd.DataFrame
    daily: dict[str, pd.Series]
    hidden_on_log: dict[str, list[pd.Timestamp]]
    stats: dict[str, PriceStats]
    freq: str
    rebased: bool
    log_scale: bool

    def to_csv(self) -> str:
        """Return the CSV of exactly what is plotted (``date`` then one column per commodity)."""
        out = self.frame.copy()
        out.index = out.index.strftime("%Y-%m-%d")
        out.index.name = "date"
        return out.to_csv(float_format="%.6g", lineterminator="\n")


def build_history_view(
    series_by_code: dict[str, pd.Series],
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    freq: str = "daily",
    rebase: bool = False,
    log_scale: bool = False,
) -> HistoryView:
    """Compute everything the History page shows for one set of choices.

    Args:
        series_by_code: full stored series per commodity code (order = display order).
        start, end: inclusive window (``None`` = open).
        freq: ``daily`` / ``weekly`` / ``monthly``.
        rebase: rebase every commodity to 100 at its first value in the window.
        log_scale: blank non-positive values (log axis).

    Returns:
        :class:`HistoryView`.

    Raises:
        AnalyticsError: no commodity, ``start`` after ``end``, unknown frequency, or a commodity
            without any price in the window (the message names it and the window).
    """
    if not series_by_code:
        raise AnalyticsError("choose at least one commodity")
    freq = check_frequency(freq)
    columns: dict[str, pd.Series] = {}
    stats: dict[str, PriceStats] = {}
    hidden: dict[str, list[pd.Timestamp]] = {}
    daily: dict[str, pd.Series] = {}
    windows = {code: clip_dates(full, start, end) for code, full in series_by_code.items()}
    lasts = [w.index[-1] for w in windows.values() if len(w)]
    cap = max(lasts) if lasts else None
    for code, window in windows.items():
        shown = resample_prices(window, freq, cap=cap)
        if shown.dropna().empty:
            lo = pd.Timestamp(start).date() if start is not None else "the beginning"
            hi = pd.Timestamp(end).date() if end is not None else "the end"
            raise AnalyticsError(f"no {code} prices between {lo} and {hi}")
        daily[code] = window.rename(code)
        stats[code] = price_stats(daily[code], "daily")
        values = rebase_to_100(shown) if rebase else shown
        if log_scale:
            values, hidden[code] = for_log_scale(values)
        else:
            hidden[code] = []
        columns[code] = values.rename(code)
    frame = pd.concat(columns.values(), axis=1, sort=True)  # union of dates, in order
    frame.index.name = "date"
    frame = frame.sort_index()
    return HistoryView(frame, daily, hidden, stats, freq, bool(rebase), bool(log_scale))
