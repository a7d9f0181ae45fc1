"""Calibrated intervals: conformal offsets, nesting/ordering (property based), coverage."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_series import make_prices

from energy_nb.models import make_model
from energy_nb.models.intervals import (
    CALIBRATION_WEIGHT_HALFLIFE,
    adaptive_tail_masses,
    conformal_offsets,
    ewma_drift,
    ewma_volatility,
    horizon_scale,
    scaled_residuals,
)


def test_conformal_offsets_are_order_statistics() -> None:
    z = np.arange(1, 100, dtype=float)[:, None] - 50.0  # -49..49, n = 99
    out = conformal_offsets(z, levels=(80,))
    lo, hi = out[80]
    # beta = 0.1: k_lo = floor(100 * 0.1) = 10 -> 10th smallest (-40); k_hi = ceil(90) = 90th (40)
    assert lo[0] == -40.0 and hi[0] == 40.0


def test_conformal_falls_back_to_gaussian_with_few_residuals() -> None:
    z = np.full((10, 2), np.nan)
    lo, hi = conformal_offsets(z, levels=(95,))[95]
    np.testing.assert_allclose(hi, 1.959964, atol=1e-5)
    np.testing.assert_allclose(lo, -1.959964, atol=1e-5)


def test_ewma_volatility_is_causal_and_positive() -> None:
    y = np.log(make_prices(n=200).to_numpy())
    sigma = ewma_volatility(y, halflife=10)
    changed = y.copy()
    changed[150:] += 0.5
    np.testing.assert_array_equal(sigma[:150], ewma_volatility(changed, 10)[:150])
    assert (sigma > 0).all()


def test_scaled_residuals_mark_targets_beyond_data() -> None:
    y = np.log(np.array([10.0, 11.0, 12.0, 13.0]))
    z = scaled_residuals(y, np.array([1, 2]), np.zeros((2, 2)), np.ones((2, 2)))
    assert np.isnan(z[1, 1]) and np.isfinite(z[0, 1])
    assert z[0, 0] == pytest.approx(np.log(12.0 / 11.0))


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.floats(-8, 8, allow_nan=False), min_size=0, max_size=120),
    levels=st.lists(st.integers(1, 99), min_size=1, max_size=5),
    width=st.integers(1, 4),
    weight_halflife=st.sampled_from([None, 5.0, CALIBRATION_WEIGHT_HALFLIFE]),
    aci_gamma=st.sampled_from([0.0, 0.05]),
)
def test_offsets_nested_and_ordered_for_any_residuals(
    data: list[float], levels: list[int], width: int, weight_halflife: float | None,
    aci_gamma: float,
) -> None:
    z = np.array(data + [np.nan] * ((-len(data)) % width), dtype=float).reshape(-1, width)
    out = conformal_offsets(z, levels, weight_halflife=weight_halflife, aci_gamma=aci_gamma)
    ordered = sorted(set(levels))
    for level in ordered:
        lo, hi = out[level]
        assert (lo <= 0).all() and (hi >= 0).all()
    for small, big in pairwise(ordered):
        assert (out[big][0] <= out[small][0]).all()
        assert (out[big][1] >= out[small][1]).all()


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    levels=st.lists(st.integers(1, 99), min_size=1, max_size=4, unique=True),
    horizon=st.integers(1, 40),
    name=st.sampled_from(["random_walk", "drift", "theta", "arima"]),
)
def test_model_bands_nested_and_ordered(
    seed: int, levels: list[int], horizon: int, name: str
) -> None:
    y = make_prices(n=260, seed=seed, vol=0.03)
    fc = make_model(name).fit(y).predict(horizon=horizon, levels=levels)
    ordered = sorted(levels)
    for level in ordered:
        assert (fc.lower[level] > 0).all()
        assert (fc.lower[level] <= fc.mean * (1 + 1e-12)).all()
        assert (fc.upper[level] >= fc.mean * (1 - 1e-12)).all()
    for small, big in pairwise(ordered):
        assert (fc.lower[big] <= fc.lower[small]).all()
        assert (fc.upper[big] >= fc.upper[small]).all()


def test_out_of_sample_coverage_close_to_nominal_on_a_random_walk() -> None:
    """Coverage of the random walk's 80% band over fresh synthetic futures is near 80%."""
    rng = np.random.default_rng(0)
    hits_80, hits_95, total = 0, 0, 0
    for seed in range(40):
        y = make_prices(n=900, seed=100 + seed, vol=0.02)
        fc = make_model("random_walk").fit(y.iloc[:880]).predict(horizon=5)
        actual = y.iloc[880:885].to_numpy()
        hits_80 += int(((fc.lower[80] <= actual) & (actual <= fc.upper[80])).sum())
        hits_95 += int(((fc.lower[95] <= actual) & (actual <= fc.upper[95])).sum())
        total += len(actual)
    del rng
    assert 0.72 <= hits_80 / total <= 0.88
    assert 0.90 <= hits_95 / total <= 0.99


def test_horizon_scale_reverts_from_short_to_long_volatility() -> None:
    from energy_nb.models.intervals import horizon_scale

    sigma, long = np.array([0.04]), np.array([0.02])
    plain = horizon_scale(sigma, long, np.array([0]), 4, persistence=1.0)[0]
    np.testing.assert_allclose(plain, 0.04 * np.sqrt([1, 2, 3, 4]))
    reverting = horizon_scale(sigma, long, np.array([0]), 200, persistence=0.9)[0]
    assert reverting[0] == pytest.approx(0.04)
    assert (reverting[1:] < 0.04 * np.sqrt(np.arange(2, 201))).all()
    assert reverting[-1] / np.sqrt(200) == pytest.approx(0.02, rel=0.1)


def test_default_scale_is_square_root_of_time() -> None:
    sigma, long = np.array([0.04]), np.array([0.02])
    np.testing.assert_allclose(
        horizon_scale(sigma, long, np.array([0]), 5)[0], 0.04 * np.sqrt(np.arange(1, 6))
    )


def test_weighted_offsets_equal_order_statistics_with_flat_weights() -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_normal((400, 3))
    z[390:, 2] = np.nan
    plain = conformal_offsets(z, (80, 95))
    flat = conformal_offsets(z, (80, 95), weight_halflife=1e12)
    for level in (80, 95):
        np.testing.assert_array_equal(plain[level][0], flat[level][0])
        np.testing.assert_array_equal(plain[level][1], flat[level][1])


def test_weighted_offsets_follow_the_recent_residuals() -> None:
    """Recent residuals twice as wide -> wider weighted band than the plain one, and vice versa."""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((1500, 1))
    wide_recent = base * np.where(np.arange(1500) >= 1200, 2.0, 1.0)[:, None]
    calm_recent = base * np.where(np.arange(1500) >= 1200, 0.5, 1.0)[:, None]
    for z, wider in ((wide_recent, True), (calm_recent, False)):
        plain = conformal_offsets(z, (80,))[80]
        weighted = conformal_offsets(z, (80,), weight_halflife=CALIBRATION_WEIGHT_HALFLIFE)[80]
        width_plain = plain[1][0] - plain[0][0]
        width_weighted = weighted[1][0] - weighted[0][0]
        assert (width_weighted > 1.1 * width_plain) == wider
        assert (width_weighted < 0.9 * width_plain) == (not wider)


def test_adaptive_tail_masses_react_to_recent_miscoverage() -> None:
    """ACI: misses at the end shrink the tail mass (wider band), a calm end grows it."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((1000, 2))
    scale_end = np.where(np.arange(1000) >= 800, 3.0, 1.0)[:, None]
    wide = adaptive_tail_masses(base * scale_end, (80,), gamma=0.01)[80]
    calm = adaptive_tail_masses(base / scale_end, (80,), gamma=0.01)[80]
    assert (wide < 0.1).all() and (calm > 0.1).all()
    steady = adaptive_tail_masses(base, (80, 95), gamma=1e-9)
    np.testing.assert_allclose(steady[80], 0.1, atol=1e-6)
    np.testing.assert_allclose(steady[95], 0.025, atol=1e-6)
    lo_wide, hi_wide = conformal_offsets(base * scale_end, (80,), aci_gamma=0.01)[80]
    lo_plain, hi_plain = conformal_offsets(base * scale_end, (80,))[80]
    assert (hi_wide - lo_wide > hi_plain - lo_plain).all()


def test_adaptive_tail_masses_use_only_known_residuals() -> None:
    """Residuals whose targets lie after the origin (NaN) do not move the tail masses."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((300, 3))
    z[-2:, 1] = np.nan
    z[-3:, 2] = np.nan
    out = adaptive_tail_masses(z, (80,), gamma=0.02)[80]
    trimmed = adaptive_tail_masses(z[:-1], (80,), gamma=0.02)[80]
    np.testing.assert_array_equal(out[1:], trimmed[1:])


@pytest.mark.parametrize("name", ["random_walk", "drift"])
def test_intervals_identical_after_update_and_fresh_fit(name: str) -> None:
    y = make_prices(n=700, seed=21, vol=0.025)
    fresh = make_model(name).fit(y).predict(horizon=12)
    updated = make_model(name).fit(y.iloc[:650]).update(y).predict(horizon=12)
    for level in fresh.levels:
        np.testing.assert_allclose(updated.lower[level], fresh.lower[level], rtol=1e-12)
        np.testing.assert_allclose(updated.upper[level], fresh.upper[level], rtol=1e-12)


def test_intervals_ignore_prices_after_the_origin_on_real_data(wti: pd.Series) -> None:
    """Intervals at an origin use only prices up to it, whatever comes afterwards."""
    y = wti[wti.index <= "2024-12-31"].iloc[-2500:]
    origin = 2300
    changed = y.copy()
    changed.iloc[origin:] *= np.exp(np.linspace(0.0, 2.0, len(y) - origin))
    a = make_model("random_walk").fit(y.iloc[:origin]).predict(horizon=30)
    b = make_model("random_walk").fit(changed.iloc[:origin]).predict(horizon=30)
    for level in a.levels:
        np.testing.assert_array_equal(a.lower[level], b.lower[level])
        np.testing.assert_array_equal(a.upper[level], b.upper[level])
        assert (a.lower[level] <= a.mean).all() and (a.mean <= a.upper[level]).all()
    assert (a.lower[95] <= a.lower[80]).all() and (a.upper[95] >= a.upper[80]).all()


def test_scale_caps_short_volatility_at_three_times_long_run() -> None:
    capped = horizon_scale(np.array([0.5]), np.array([0.02]), np.array([0]), 4)[0]
    np.testing.assert_allclose(capped, 0.06 * np.sqrt(np.arange(1, 5)))
    free = horizon_scale(np.array([0.5]), np.array([0.02]), np.array([0]), 4, cap=None)[0]
    np.testing.assert_allclose(free, 0.5 * np.sqrt(np.arange(1, 5)))


def test_ewma_drift_is_causal_and_follows_the_trend() -> None:
    y = np.log(make_prices(n=300).to_numpy())
    mu = ewma_drift(y, halflife=20)
    changed = y.copy()
    changed[200:] += np.linspace(0.0, 1.0, 100)
    np.testing.assert_array_equal(mu[:200], ewma_drift(changed, 20)[:200])
    trend = np.log(50.0) - 0.004 * np.arange(300)  # a steady 0.4 % daily fall
    assert ewma_drift(trend, 20)[-1] == pytest.approx(-0.004, rel=1e-3)


def test_scale_adds_drift_uncertainty_by_hand() -> None:
    sigma, long = np.array([0.02]), np.array([0.02])
    h = np.arange(1, 6)
    plain = horizon_scale(sigma, long, np.array([0]), 5)[0]
    with_drift = horizon_scale(sigma, long, np.array([0]), 5, drift=np.array([-0.005]))[0]
    np.testing.assert_allclose(plain, 0.02 * np.sqrt(h))
    np.testing.assert_allclose(with_drift, np.sqrt(0.02**2 * h + (0.005 * h) ** 2))
    # |mu| is capped at TREND_CAP (0.5) x the long-run volatility: 0.01 here
    capped = horizon_scale(sigma, long, np.array([0]), 5, drift=np.array([0.3]))[0]
    np.testing.assert_allclose(capped, np.sqrt(0.02**2 * h + (0.01 * h) ** 2))
    off = horizon_scale(sigma, long, np.array([0]), 5, drift=np.array([0.3]), trend_weight=0.0)[0]
    np.testing.assert_allclose(off, plain)


def test_model_bands_widen_in_a_trend() -> None:
    """Same squared returns (so the same volatility), but a falling market: wider 95 % band."""
    rng = np.random.default_rng(5)
    moves = rng.normal(0.0, 0.015, 1500)
    index = pd.bdate_range("2015-01-01", periods=1500)
    flat_moves, falling_moves = moves.copy(), moves.copy()
    flat_moves[-40:] = 0.015 * np.resize([1.0, -1.0], 40)  # two months of +-1.5 % days
    falling_moves[-40:] = -0.015  # two months of -1.5 % days
    flat = pd.Series(50.0 * np.exp(np.cumsum(flat_moves)), index=index)
    falling = pd.Series(50.0 * np.exp(np.cumsum(falling_moves)), index=index)
    a = make_model("random_walk").fit(flat).predict(horizon=20)
    b = make_model("random_walk").fit(falling).predict(horizon=20)
    width_a = np.log(a.upper[95] / a.lower[95])
    width_b = np.log(b.upper[95] / b.lower[95])
    assert (width_b[5:] > width_a[5:] * 1.1).all()
