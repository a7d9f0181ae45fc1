"""Unit tests of the widget-free History computations (energy_nb.service.analytics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from energy_nb.service.analytics import (
    AnalyticsError,
    build_history_view,
    check_frequency,
    clip_dates,
    for_log_scale,
    log_returns,
    max_drawdown,
    price_stats,
    rebase_to_100,
    resample_prices,
    returns_histogram,
    rolling_volatility,
)
from energy_nb.data.frequency import FrequencyError


def make_series(values, start="2024-01-01", name="WTI", freq="B") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq=freq, name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


def test_clip_dates_is_inclusive_and_rejects_reversed_range():
    s = make_series(range(10))  # 2024-01-01 .. 2024-01-12 business days
    out = clip_dates(s, "2024-01-02", "2024-01-04")
    assert list(out) == [1.0, 2.0, 3.0]
    assert len(clip_dates(s, None, None)) == 10
    with pytest.raises(AnalyticsError, match="after end"):
        clip_dates(s, "2024-01-05", "2024-01-02")


def test_weekly_and_monthly_take_last_price_of_period_and_drop_empty_periods():
    s = make_series(range(1, 31))  # 30 business days from Mon 2024-01-01
    s.iloc[4] = np.nan  # Friday 2024-01-05 missing: the week's last valid price is Thursday's
    weekly = resample_prices(s, "weekly")
    assert weekly.index[0] == pd.Timestamp("2024-01-05")  # week ending Friday
    assert weekly.iloc[0] == 4.0  # Thursday's price, Friday's missing
    assert weekly.iloc[1] == 10.0  # Friday 2024-01-12
    monthly = resample_prices(s, "Monthly")
    # the unfinished last month is labelled with the last data date, not 2024-02-29
    assert list(monthly.index) == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-09")]
    capped = resample_prices(s, "monthly", cap="2024-02-20")
    assert capped.index[-1] == pd.Timestamp("2024-02-20")
    assert monthly.iloc[0] == 23.0  # 23 business days in January 2024
    assert monthly.iloc[1] == 30.0
    assert monthly.index.name == "date" and monthly.name == "WTI"
    # a month without any price is dropped, not kept as NaN
    gap = pd.concat([make_series([1, 2], "2024-01-01"), make_series([3], "2024-03-01")])
    assert list(resample_prices(gap, "monthly")) == [2.0, 3.0]
    with pytest.raises(FrequencyError, match="unknown frequency 'hourly'"):
        resample_prices(s, "hourly")
    with pytest.raises(AnalyticsError, match="unknown frequency 'hourly'"):
        check_frequency("hourly")


def test_daily_keeps_missing_values():
    s = make_series([1, np.nan, 3])
    assert resample_prices(s, "daily").isna().sum() == 1


def test_rebase_to_100_uses_first_valid_value():
    s = make_series([np.nan, 50, 75, 25])
    out = rebase_to_100(s)
    assert np.isnan(out.iloc[0])
    assert list(out.iloc[1:]) == [100.0, 150.0, 50.0]
    with pytest.raises(AnalyticsError, match="non-positive first price"):
        rebase_to_100(make_series([-1, 2]))
    with pytest.raises(AnalyticsError, match="no price"):
        rebase_to_100(make_series([np.nan]))


def test_log_scale_blanks_non_positive_and_reports_dates():
    s = make_series([10, -36.98, 0, 12])
    out, hidden = for_log_scale(s)
    assert list(out.isna()) == [False, True, True, False]
    assert hidden == [s.index[1], s.index[2]]


def test_log_returns_skip_missing_and_non_positive():
    s = make_series([100, np.nan, 110, -5, 10, 20])
    r = log_returns(s)
    # 100 -> 110 spans the missing value; 110 -> -5 and -5 -> 10 are undefined; 10 -> 20 kept
    assert list(r.index) == [s.index[2], s.index[5]]
    assert r.iloc[0] == pytest.approx(math.log(1.1))
    assert r.iloc[1] == pytest.approx(math.log(2))


def test_max_drawdown_with_dates_and_negative_price():
    s = make_series([100, 120, 60, 90, 130, 52])
    dd = max_drawdown(s)
    assert dd.value == pytest.approx(-0.6)
    assert dd.peak_date == s.index[4] and dd.trough_date == s.index[5]
    neg = max_drawdown(make_series([40, 20, -40, 10]))
    # a price <= 0 has lost everything: capped at -100 %, with the day it happened
    assert neg.value == pytest.approx(-1.0)
    assert neg.trough_date == neg.nonpositive_date == make_series([40, 20, -40, 10]).index[2]
    assert s.index[5] and dd.nonpositive_date is None
    assert max_drawdown(make_series([1, 2, 3])).value == 0.0


def test_price_stats_changes_extremes_and_volatility():
    idx = pd.bdate_range("2023-01-02", "2024-06-28", name="date")
    values = 50 + np.arange(len(idx), dtype=float) * 0.1
    s = pd.Series(values, index=idx, name="BRENT")
    st = price_stats(s)
    assert st.last == values[-1] and st.last_date == idx[-1]
    assert st.change_1d.abs == pytest.approx(0.1)
    assert st.change_1d.ref_date == idx[-2]
    # one month before 2024-06-28 is 2024-05-28 (a Tuesday, a business day)
    assert st.change_1m.ref_date == pd.Timestamp("2024-05-28")
    assert st.change_1y.ref_date == pd.Timestamp("2023-06-28")
    assert st.change_1y.pct == pytest.approx((values[-1] / s.loc["2023-06-28"] - 1) * 100)
    assert st.min == 50 and st.min_date == idx[0]
    assert st.max_date == idx[-1]
    expected_vol = np.log(values[1:] / values[:-1]).std(ddof=1) * math.sqrt(252)
    assert st.ann_volatility == pytest.approx(expected_vol)
    assert st.drawdown.value == 0.0
    assert st.observations == len(idx) and st.missing == 0


def test_price_stats_short_history_has_no_1y_change():
    st = price_stats(make_series([10, 11, 12]))
    assert st.change_1y.ref_date is None and math.isnan(st.change_1y.pct)
    with pytest.raises(AnalyticsError, match="no prices"):
        price_stats(make_series([np.nan, np.nan]))


def test_rolling_volatility_and_histogram():
    rng = np.random.default_rng(0)
    s = make_series(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 200))))
    vol = rolling_volatility(s)
    assert len(vol) == 199 - 29
    rets = log_returns(s)
    assert vol.iloc[0] == pytest.approx(rets.iloc[:30].std() * math.sqrt(252))
    assert vol.index[0] == s.index[30]
    hist = returns_histogram(s, bins=20)
    assert len(hist) == 20 and hist["count"].sum() == 199
    assert hist["left"].iloc[0] == pytest.approx(rets.min() * 100)
    assert returns_histogram(make_series([5])).empty


def test_build_history_view_frame_is_what_is_plotted():
    wti = make_series([10, 20, -5, 40], "2024-01-01", "WTI")
    ng = make_series([2, 4], "2024-01-02", "NG")
    view = build_history_view({"WTI": wti, "NG": ng}, rebase=True, log_scale=True)
    assert list(view.frame.columns) == ["WTI", "NG"]
    assert view.frame.loc["2024-01-04", "WTI"] == 400.0
    assert np.isnan(view.frame.loc["2024-01-03", "WTI"])  # -50 hidden on log scale
    assert view.hidden_on_log["WTI"] == [pd.Timestamp("2024-01-03")]
    assert np.isnan(view.frame.loc["2024-01-01", "NG"])  # NG has no price that day
    assert view.stats["WTI"].last == 40.0  # stats are on prices, not rebased values
    csv = view.to_csv().splitlines()
    assert csv[0] == "date,WTI,NG"
    assert csv[1] == "2024-01-01,100,"
    assert csv[3] == "2024-01-03,,200"


def test_build_history_view_errors_name_the_problem():
    wti = make_series([10, 20])
    with pytest.raises(AnalyticsError, match="at least one commodity"):
        build_history_view({})
    with pytest.raises(AnalyticsError, match="after end"):
        build_history_view({"WTI": wti}, start="2024-02-01", end="2024-01-01")
    with pytest.raises(AnalyticsError, match="no WTI prices between 2025-01-01 and 2025-02-01"):
        build_history_view({"WTI": wti}, start="2025-01-01", end="2025-02-01")


def test_real_wti_negative_price_is_handled(eia_dir):
    raw = pd.read_csv(eia_dir / "wti-daily.csv", parse_dates=["Date"], index_col="Date")
    wti = raw["Price"].astype(float).rename("WTI")
    wti.index.name = "date"
    view = build_history_view({"WTI": wti}, start="2020-01-01", end="2020-12-31", log_scale=True)
    assert view.hidden_on_log["WTI"] == [pd.Timestamp("2020-04-20")]
    st = view.stats["WTI"]
    assert st.min == pytest.approx(-36.98) and st.min_date == pd.Timestamp("2020-04-20")
    assert st.non_positive == 1
    assert math.isfinite(st.ann_volatility)
