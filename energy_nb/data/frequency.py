"""Resampling daily prices to weekly or monthly averages (EIA's convention).

Weekly averages are dated the Friday ending the week and monthly averages the month's end, the
way EIA publishes them; missing prices are left out of the averages.

Usage::

    >>> weekly = resample_prices(store.load("WTI"), "weekly")   # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

FREQUENCIES: dict[str, str | None] = {"daily": None, "weekly": "W-FRI", "monthly": "ME"}


def check_frequency(freq: str) -> str:
    """Validate a frequency name.

    Args:
        freq: ``daily``, ``weekly`` or ``monthly`` (case-insensitive).

    Returns:
        The lower-case name.

    Raises:
        ValueError: naming the bad value and the choices.
    """
    key = str(freq).strip().lower()
    if key not in FREQUENCIES:
        raise ValueError(f"unknown frequency {freq!r}; expected one of {', '.join(FREQUENCIES)}")
    return key


def resample_prices(data: pd.Series | pd.DataFrame, freq: str) -> pd.Series | pd.DataFrame:
    """Average daily prices per week or month.

    Args:
        data: daily prices (Series or DataFrame with a DatetimeIndex).
        freq: ``daily`` (returned as is), ``weekly`` or ``monthly``.

    Returns:
        The averages; periods with no price at all are dropped.
    """
    rule = FREQUENCIES[check_frequency(freq)]
    if rule is None:
        return data
    out = data.resample(rule).mean()
    out = out.dropna(how="all") if isinstance(out, pd.DataFrame) else out.dropna()
    out.index.name = "date"
    return out
