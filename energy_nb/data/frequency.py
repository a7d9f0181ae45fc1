"""Daily prices at a lower frequency: the last price of each week (ending Friday) or month.

One definition for every face: the History page's chart and CSV, ``energy-nb data export
--freq`` and the reports all resample through :func:`resample_prices`, so a weekly CSV from the
CLI equals the weekly CSV the page downloads.

Usage::

    >>> weekly = resample_prices(store.load("WTI"), "weekly")   # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

#: Frequencies offered everywhere, mapped to pandas resample rules (None = as stored).
FREQUENCIES: dict[str, str | None] = {"daily": None, "weekly": "W-FRI", "monthly": "ME"}


class FrequencyError(ValueError):
    """An unknown frequency name."""


def check_frequency(freq: str) -> str:
    """Validate a frequency name.

    Args:
        freq: ``daily``, ``weekly`` or ``monthly`` (case-insensitive).

    Returns:
        The lower-case name.

    Raises:
        FrequencyError: naming the bad value and the choices.
    """
    key = str(freq).strip().lower()
    if key not in FREQUENCIES:
        raise FrequencyError(f"unknown frequency {freq!r}; "
                             f"expected one of {', '.join(FREQUENCIES)}")
    return key


def resample_prices(
    series: pd.Series, freq: str, cap: pd.Timestamp | str | None = None
) -> pd.Series:
    """Resample prices to a frequency (last available price of each period).

    Args:
        series: daily price series (NaN = missing price).
        freq: ``"daily"``, ``"weekly"`` (weeks ending Friday) or ``"monthly"``.
        cap: latest label allowed (default: the series' last date); the last, unfinished period
            is labelled ``cap`` instead of a period end in the future.

    Returns:
        For ``daily`` a copy of the series; otherwise one value per period labelled by the period
        end (Friday / last day of the month), periods without any price dropped. Name and index
        name kept.
    """
    rule = FREQUENCIES[check_frequency(freq)]
    if rule is None:
        return series.copy()
    out = series.resample(rule).last().dropna()
    limit = pd.Timestamp(cap) if cap is not None else (series.index[-1] if len(series) else None)
    if limit is not None and len(out) and out.index[-1] > limit:
        out.index = out.index.where(out.index <= limit, limit)
    out.index.name = series.index.name or "date"
    out.name = series.name
    return out
