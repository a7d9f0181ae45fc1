"""Pure tests of :mod:`energy_nb.service.diagnostics` (hand-computed values, payload formats,
plans)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_nb.service.diagnostics import (
    DiagnosticsError,
    forecast_error_summary,
    forecast_frame_from_payload,
    metric_over_time,
    quick_evaluation_plan,
    residual_diagnostics,
)
from energy_nb.models import make_model
from energy_nb.service.registry import ModelRun


def test_error_summary_hand_computed():
    errors = pd.DataFrame({
        "actual": [10.0, 12.0, np.nan], "mean": [11.0, 11.0, 11.0],
        "inside_80": [True, False, np.nan],
    })
    s = forecast_error_summary(errors, (80,))
    assert s["n"] == 2
    assert s["mae"] == pytest.approx(1.0)
    assert s["rmse"] == pytest.approx(1.0)
    assert s["mape"] == pytest.approx((0.1 + 1 / 12) / 2 * 100)
    assert s["bias"] == pytest.approx(0.0)
    assert s["coverage"] == {80: pytest.approx(0.5)}
    empty = forecast_error_summary(errors.iloc[:0], (80, 95))
    assert empty["n"] == 0 and np.isnan(empty["mae"]) and set(empty["coverage"]) == {80, 95}


def _series(n: int = 400) -> pd.Series:
    rng = np.random.default_rng(3)
    values = 60 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    return pd.Series(values, index=pd.bdate_range("2022-01-03", periods=n, name="date"), name="WTI")


def test_payload_formats_give_the_same_frame():
    fc = make_model("drift").fit(_series()).predict(horizon=4, levels=(95, 80))
    from_obj, meta = forecast_frame_from_payload(fc)
    from_dict, meta2 = forecast_frame_from_payload(fc.to_dict())
    points = [{"date": f"{r.date:%Y-%m-%d}", "mean": r.mean, "lower_80": r.lower_80,
               "upper_80": r.upper_80, "lower_95": r.lower_95, "upper_95": r.upper_95}
              for r in fc.to_frame().itertuples()]
    from_msg, meta3 = forecast_frame_from_payload(
        {"type": "forecast_update", "commodity": "WTI", "model": "drift", "as_of": "2023-07-14",
         "points": points})
    for frame in (from_dict, from_msg):
        pd.testing.assert_frame_equal(frame, from_obj, check_dtype=False, check_freq=False,
                                      check_names=False)
    assert meta["levels"] == meta2["levels"] == meta3["levels"] == (80, 95)
    assert meta3["origin"] == pd.Timestamp("2023-07-14") and meta3["commodity"] == "WTI"


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ([1, 2], "must be a Forecast or a dict"),
        ({"points": []}, "no points"),
        ({"points": [{"mean": 1.0}]}, "need 'date' and 'mean'"),
        ({"model": "x"}, "needs 'points' or 'dates'"),
    ],
)
def test_bad_payloads_are_named(payload, text):
    with pytest.raises(DiagnosticsError, match=text):
        forecast_frame_from_payload(payload)


def test_quick_plan_ends_with_observed_steps():
    index = pd.bdate_range("2020-01-01", periods=1000)
    plan = quick_evaluation_plan(index, n_origins=5, horizon=30, step=10)
    assert plan.n_origins == 5
    last_origin = index.get_loc(plan.start) + 4 * 10
    assert last_origin + 30 == len(index) - 1
    with pytest.raises(DiagnosticsError, match="too few"):
        quick_evaluation_plan(index[:220], horizon=30)


def test_residual_diagnostics_of_a_random_walk_are_its_scaled_returns():
    y = _series(600)
    model = make_model("random_walk", calibration_window=300).fit(y)
    diag = residual_diagnostics(model, max_lag=10, bins=20)
    logs = np.log(y.to_numpy())
    # one-step interval scale: capped volatility plus the (capped) recent drift, by hand
    sigma = np.minimum(model.sigma_, 3 * model.sigma_long_)
    drift = np.minimum(np.abs(model.recent_drift_), 0.5 * model.sigma_long_)
    scale = np.sqrt(sigma**2 + drift**2)
    expected = (logs[-300:] - logs[-301:-1]) / scale[-301:-1]
    np.testing.assert_allclose(diag.residuals.to_numpy(), expected)
    assert diag.residuals.index[-1] == y.index[-1]
    assert len(diag.acf) == 10 and diag.histogram["count"].sum() == 300
    with pytest.raises(DiagnosticsError, match="not fitted"):
        residual_diagnostics(make_model("drift"))


def _run(name: str, origins: list[str], **by_origin: list) -> ModelRun:
    metrics = {"kind": "walk_forward", "origins": origins, "by_origin": by_origin}
    return ModelRun(1, name, "WTI", {}, "2020-01-02", origins[-1], "WTI@1", "now", {}, metrics)


def test_metric_over_time_by_hand():
    origins = ["2025-01-02", "2025-01-09", "2025-01-16", "2025-01-23"]
    runs = {
        "random_walk": _run("random_walk", origins, mae=[1.0, 2.0, 3.0, 4.0],
                            coverage_95=[1.0, 0.5, None, 0.0]),
        "drift": _run("drift", origins, mae=[2.0, 1.0, 3.0, 2.0],
                      coverage_95=[1.0, 1.0, 0.5, 0.5]),
        "old": ModelRun(3, "old", "WTI", {}, None, None, None, "then", {},
                        {"kind": "walk_forward", "steps": {"1": {"mae": 1.0}}}),
    }
    rmae = metric_over_time(runs, "rmae", window=2)
    assert list(rmae.columns) == ["random_walk", "drift"]  # the old run has no per-origin data
    assert list(rmae.index) == list(pd.to_datetime(origins))
    np.testing.assert_allclose(rmae["drift"], [2.0 / 1.0, 3.0 / 3.0, 4.0 / 5.0, 5.0 / 7.0])
    np.testing.assert_allclose(rmae["random_walk"], 1.0)
    cover = metric_over_time(runs, "coverage_95", window=3)
    # trailing mean over the known values (None = no actual known at that origin)
    np.testing.assert_allclose(cover["random_walk"], [1.0, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(cover["drift"], [1.0, 1.0, 2.5 / 3, 2.0 / 3])
    assert metric_over_time({"drift": runs["drift"]}, "rmae").empty  # no random walk to divide by
    assert metric_over_time({"old": runs["old"]}, "coverage_95").empty
    with pytest.raises(DiagnosticsError, match="window"):
        metric_over_time(runs, "rmae", window=0)
    with pytest.raises(DiagnosticsError, match="'rmae' or 'coverage_<level>'"):
        metric_over_time(runs, "mase")


def test_track_record_means_over_the_forecast_steps_by_hand():
    from energy_nb.service.diagnostics import track_record

    steps = {str(h): {"rmae": 1.0 + h / 100, "coverage_80": 0.8 - h / 100,
                      "coverage_95": 0.95} for h in range(1, 6)}
    run = ModelRun(7, "auto", "WTI", {}, "2000-01-03", "2025-03-31", "WTI@1", "now", {},
                   {"kind": "walk_forward", "n_origins": 12,
                    "origins": ["2025-01-02", "2025-03-31"], "steps": steps})
    record = track_record(run, horizon=3, levels=(80, 95, 50))
    assert record["steps"] == 3 and record["run_id"] == 7 and record["n_origins"] == 12
    assert record["first_origin"] == "2025-01-02" and record["last_origin"] == "2025-03-31"
    assert record["rmae"] == pytest.approx((1.01 + 1.02 + 1.03) / 3)
    assert record["coverage"][80] == pytest.approx((0.79 + 0.78 + 0.77) / 3)
    assert record["coverage"][95] == pytest.approx(0.95)
    assert record["coverage"][50] is None  # not evaluated at that level
    assert track_record(run, horizon=30, levels=(80,))["steps"] == 5  # only evaluated steps
    fit = ModelRun(8, "auto", "WTI", {}, None, None, None, "now", {}, {"kind": "fit"})
    assert track_record(fit, horizon=3, levels=(80,)) is None
