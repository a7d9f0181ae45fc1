"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from energy_nb.evaluation.metrics import (
    MetricError,
    coverage,
    directional_accuracy,
    mae,
    mape,
    mase,
    mean_width,
    naive_scale,
    pinball_loss,
    relative_mae,
    rmse,
    smape,
    winkler_score,
)

Y = [10.0, 12.0, 8.0, 10.0]
F = [11.0, 12.0, 10.0, 7.0]
# errors y - f: -1, 0, -2, 3 ; |e| = 1, 0, 2, 3


def test_mae_rmse_by_hand() -> None:
    assert mae(Y, F) == pytest.approx(6 / 4)
    assert rmse(Y, F) == pytest.approx(math.sqrt((1 + 0 + 4 + 9) / 4))


def test_mape_smape_by_hand() -> None:
    assert mape(Y, F) == pytest.approx(100 * (1 / 10 + 0 / 12 + 2 / 8 + 3 / 10) / 4)
    expected = 100 * (2 * 1 / 21 + 0 + 2 * 2 / 18 + 2 * 3 / 17) / 4
    assert smape(Y, F) == pytest.approx(expected)


def test_mape_skips_zero_actual_and_negative_prices_are_absolute() -> None:
    # y=0 is skipped; y=-2 (negative price) uses |y|
    assert mape([0.0, -2.0], [1.0, -1.0]) == pytest.approx(100 * (1 / 2))


def test_naive_scale_and_mase_by_hand() -> None:
    train = [5.0, 7.0, 6.0, 9.0]  # |diffs| = 2, 1, 3 -> 2
    assert naive_scale(train) == pytest.approx(2.0)
    assert mase(Y, F, naive_scale(train)) == pytest.approx((6 / 4) / 2)
    # one scale per point: |e|/s = 1/1, 0/2, 2/4, 3/3
    assert mase(Y, F, [1.0, 2.0, 4.0, 3.0]) == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert math.isnan(naive_scale([1.0]))
    assert naive_scale([1.0, np.nan, 4.0]) == pytest.approx(3.0)


def test_relative_mae_uses_common_points_only() -> None:
    base = [10.0, 10.0, 10.0, np.nan]
    # common points 0..2: model |e| = 1,0,2 -> 1 ; baseline |e| = 0,2,2 -> 4/3
    assert relative_mae(Y, F, base) == pytest.approx(1.0 / (4 / 3))
    assert math.isnan(relative_mae([1.0], [2.0], [1.0]))  # perfect baseline


def test_directional_accuracy_by_hand() -> None:
    last = [9.0, 11.0, 9.0, 8.0]
    # actual change signs: +, +, -, + ; forecast change signs: +, +, +, -
    assert directional_accuracy(Y, F, last) == pytest.approx(2 / 4)
    # no-change forecast makes no call: 0.5 each
    assert directional_accuracy(Y, last, last) == pytest.approx(0.5)


def test_coverage_and_width_by_hand() -> None:
    lo = [9.0, 12.5, 7.0, 10.0]
    hi = [11.0, 13.0, 9.0, 12.0]
    # inside: 10 in [9,11] yes; 12 in [12.5,13] no; 8 in [7,9] yes; 10 in [10,12] yes (closed)
    assert coverage(Y, lo, hi) == pytest.approx(3 / 4)
    assert mean_width(lo, hi) == pytest.approx((2 + 0.5 + 2 + 2) / 4)
    assert mean_width(lo, hi, actual=[1.0, np.nan, 1.0, 1.0]) == pytest.approx(2.0)


def test_pinball_by_hand() -> None:
    # level 80 -> alpha 0.2 -> quantiles 0.1 and 0.9
    # y=10, lo=9, hi=12: lower loss 0.1*1=0.1, upper loss (0.9-1)*(10-12)=0.2 -> mean 0.15
    # y=14, lo=9, hi=12: lower 0.1*5=0.5, upper 0.9*2=1.8 -> 1.15
    got = pinball_loss([10.0, 14.0], [9.0, 9.0], [12.0, 12.0], level=80)
    assert got == pytest.approx((0.15 + 1.15) / 2)


def test_winkler_by_hand() -> None:
    # level 95 -> alpha 0.05 -> penalty 2/0.05 = 40
    # inside: width 3 ; above by 2: 3 + 40*2 = 83 ; below by 0.5: 3 + 20 = 23
    got = winkler_score([10.0, 14.0, 8.5], [9.0] * 3, [12.0] * 3, level=95)
    assert got == pytest.approx((3 + 83 + 23) / 3)


def test_nan_actuals_are_ignored() -> None:
    assert mae([1.0, np.nan, 3.0], [2.0, 100.0, 3.0]) == pytest.approx(0.5)
    assert coverage([np.nan, 1.0], [0.0, 0.0], [2.0, 2.0]) == 1.0
    assert math.isnan(mae([np.nan], [1.0]))


def test_bad_inputs_raise() -> None:
    with pytest.raises(MetricError, match="length"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(MetricError, match="level"):
        winkler_score([1.0], [0.0], [2.0], level=100)
