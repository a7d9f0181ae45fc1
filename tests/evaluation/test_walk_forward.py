"""Walk-forward evaluation on small synthetic series: origins, refits, metrics, no look-ahead."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from energy_nb.evaluation import EvaluationError, select_origins, walk_forward
from energy_nb.evaluation.metrics import mae


def synthetic(n: int = 160, seed: int = 0, name: str = "WTI") -> pd.Series:
    rng = np.random.default_rng(seed)
    prices = 60.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))
    index = pd.bdate_range("2024-01-01", periods=n, name="date")
    return pd.Series(prices, index=index, name=name, dtype=float)


class SpyModel:
    """A real (trivial) model: forecasts the mean of the last 5 prices; logs what it was given."""

    name = "spy"

    def __init__(self, log: list[tuple[str, pd.Timestamp, int]], fail_on: set | None = None):
        self.log = log
        self.fail_on = fail_on or set()

    def fit(self, y: pd.Series) -> SpyModel:
        self.log.append(("fit", y.index[-1], len(y)))
        self.y_ = y
        return self

    def update(self, y: pd.Series) -> SpyModel:
        self.log.append(("update", y.index[-1], len(y)))
        self.y_ = y
        return self

    def predict(self, horizon: int = 7, levels: Any = (80, 95)) -> SimpleNamespace:
        if self.y_.index[-1] in self.fail_on:
            raise RuntimeError("planned failure")
        level_mean = float(self.y_.iloc[-5:].mean())
        mean = np.full(horizon, level_mean)
        width = {lv: lv / 10.0 * np.sqrt(np.arange(1, horizon + 1)) for lv in levels}
        return SimpleNamespace(
            mean=mean,
            lower={lv: mean - width[lv] for lv in levels},
            upper={lv: mean + width[lv] for lv in levels},
        )


def test_select_origins_every_step_with_full_horizon() -> None:
    index = pd.bdate_range("2025-01-01", periods=40)
    origins = select_origins(index, "2025-01-04", horizon=10, step=5)  # a Saturday
    assert origins[0] == pd.Timestamp("2025-01-06")
    positions = [index.get_loc(o) for o in origins]
    assert positions == list(range(3, 30, 5))
    assert positions[-1] + 10 <= len(index) - 1
    # end bounds the actuals: last origin + H <= position of end
    ended = select_origins(index, "2025-01-01", end=index[25], horizon=10, step=5)
    assert index.get_loc(ended[-1]) + 10 <= 25


def test_random_walk_scores_by_hand() -> None:
    y = synthetic()
    result = walk_forward(y, ["random_walk"], start=y.index[60], horizon=3, step=10,
                          progress=False)
    pos = np.array([y.index.get_loc(o) for o in result.origins])
    values = y.to_numpy()
    for h in (1, 3):
        expected = mae(values[pos + h], values[pos])
        assert result.metrics.loc[("random_walk", h), "mae"] == pytest.approx(expected)
        assert result.metrics.loc[("random_walk", h), "rmae"] == pytest.approx(1.0)
        assert result.metrics.loc[("random_walk", h), "directional_accuracy"] == 0.5
    rows = result.forecasts[(result.forecasts.step == 2)]
    np.testing.assert_allclose(rows["actual"], values[pos + 2])
    np.testing.assert_allclose(rows["mean"], values[pos])
    assert list(rows["date"]) == list(y.index[pos + 2])


def test_spy_sees_only_data_up_to_origin_and_refit_schedule() -> None:
    y = synthetic()
    log: list[tuple[str, pd.Timestamp, int]] = []
    result = walk_forward(y, {"spy": lambda: SpyModel(log)}, start=y.index[50], horizon=5, step=7,
                          refit_every=3, progress=False)
    assert len(result.origins) == len(log)
    for (kind, last_seen, n), origin in zip(log, result.origins):
        assert last_seen == origin
        assert n == y.index.get_loc(origin) + 1
    kinds = [k for k, *_ in log]
    assert kinds == ["fit" if i % 3 == 0 else "update" for i in range(len(log))]
    assert result.fits["spy"] == kinds.count("fit")
    assert set(result.models) == {"random_walk", "spy"}


def test_changing_prices_after_an_origin_leaves_its_forecasts_identical() -> None:
    y = synthetic(seed=3)
    kwargs = {"start": y.index[60], "horizon": 10, "step": 5, "refit_every": 2,
              "progress": False}
    models = ["random_walk", "drift", "spy"]
    specs = {m: (SpyModel([]) if m == "spy" else m) for m in models}
    before = walk_forward(y, specs, **kwargs)
    cut = before.origins[3]
    changed = y.copy()
    changed[changed.index > cut] *= 1.7
    after = walk_forward(changed, specs, **kwargs)
    cols = ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    early_b = before.forecasts[before.forecasts.origin <= cut]
    early_a = after.forecasts[after.forecasts.origin <= cut]
    assert len(early_b) == 3 * 4 * 10
    pd.testing.assert_frame_equal(early_b[["model", "origin", "step", *cols]],
                                  early_a[["model", "origin", "step", *cols]])
    # ... while later forecasts and the actuals did change (the test can fail)
    assert not np.allclose(before.forecasts["actual"], after.forecasts["actual"])


def test_interval_metrics_and_failures_are_reported() -> None:
    y = synthetic(seed=5)
    origins = select_origins(y.index, y.index[40], horizon=4, step=10)
    fail = {origins[1]}
    result = walk_forward(y, {"spy": SpyModel([], fail_on=fail)}, start=y.index[40],
                          horizon=4, step=10, levels=(50, 90), progress=False)
    assert result.failures["spy"] and "planned failure" in result.failures["spy"][0]
    assert result.failures["random_walk"] == []
    row = result.metrics.loc[("spy", 1)]
    for col in ("coverage_50", "width_50", "pinball_50", "winkler_50", "coverage_90"):
        assert np.isfinite(row[col])
    # width of the spy's 90% band at step 1 is 2 * 9.0
    assert row["width_90"] == pytest.approx(18.0)
    assert row["coverage_90"] >= row["coverage_50"]
    spy = result.forecasts[result.forecasts.model == "spy"]
    assert spy[spy.origin == origins[1]]["mean"].isna().all()
    assert spy[spy.origin == origins[0]]["mean"].notna().all()


def test_by_origin_by_hand_with_a_failed_origin() -> None:
    """Per-origin MAE and coverage from the prices and the spy's known bands."""
    y = synthetic(seed=7)
    values = y.to_numpy()
    horizon = 4
    origins = select_origins(y.index, y.index[40], horizon=horizon, step=10)
    result = walk_forward(y, {"spy": SpyModel([], fail_on={origins[2]})}, start=y.index[40],
                          horizon=horizon, step=10, levels=(50, 90), progress=False)
    table = result.by_origin("spy")
    assert list(table.index) == list(result.origins)
    assert list(table.columns) == ["mae", "coverage_50", "coverage_90", "n"]
    steps = np.arange(1, horizon + 1)
    for origin in result.origins:
        row = table.loc[origin]
        if origin == origins[2]:  # the model raised there: nothing to score
            assert row["n"] == 0 and np.isnan(row["mae"]) and np.isnan(row["coverage_90"])
            continue
        p = y.index.get_loc(origin)
        centre = values[p - 4: p + 1].mean()
        errors = np.abs(values[p + steps] - centre)
        assert row["n"] == horizon
        assert row["mae"] == pytest.approx(errors.mean())
        assert row["coverage_50"] == pytest.approx(np.mean(errors <= 5.0 * np.sqrt(steps)))
        assert row["coverage_90"] == pytest.approx(np.mean(errors <= 9.0 * np.sqrt(steps)))
    # the random walk's per-origin MAE averages to its per-step MAE (every path complete)
    walk = result.by_origin("random_walk")
    assert walk["mae"].mean() == pytest.approx(result.metrics.loc["random_walk", "mae"].mean())
    with pytest.raises(EvaluationError, match="was not evaluated"):
        result.by_origin("arima")


def test_to_dict_shape() -> None:
    y = synthetic()
    result = walk_forward(y, ["drift"], start=y.index[80], horizon=3, step=20, progress=False)
    data = result.to_dict()
    assert data["commodity"] == "WTI" and data["horizon"] == 3 and data["levels"] == [80, 95]
    assert data["origins"] == [d.strftime("%Y-%m-%d") for d in result.origins]
    step1 = data["models"]["drift"]["steps"]["1"]
    for key in ("mae", "rmse", "mape", "smape", "mase", "rmae", "directional_accuracy",
                "coverage_80", "coverage_95", "width_80", "width_95", "pinball_80",
                "pinball_95", "winkler_80", "winkler_95"):
        assert key in step1
    assert set(data["models"]["drift"]["steps"]) == {"1", "2", "3"}
    by_origin = data["models"]["drift"]["by_origin"]
    assert set(by_origin) == {"mae", "coverage_80", "coverage_95"}
    assert all(len(v) == len(data["origins"]) for v in by_origin.values())
    np.testing.assert_allclose(by_origin["mae"], result.by_origin("drift")["mae"])


def test_terminal_progress_bar_keeps_its_place(capsys) -> None:
    y = synthetic()
    walk_forward(y, ["drift"], start=y.index[100], horizon=2, step=15, progress=True)
    frames = [f for f in capsys.readouterr().err.split("\r") if "fit" in f and ":" in f]
    labels = {frame.split(":")[0] for frame in frames}
    # every label padded to the longest ("random_walk"), so the bar does not jump sideways
    assert labels and {label.strip() for label in labels} <= {"drift", "random_walk"}
    assert {len(label) for label in labels} == {len("random_walk")}

def test_progress_callback_counts_every_forecast() -> None:
    y = synthetic()
    calls: list[tuple[int, int, str]] = []
    result = walk_forward(y, ["drift"], start=y.index[100], horizon=2, step=15,
                          progress=lambda d, t, m: calls.append((d, t, m)))
    total = 2 * len(result.origins)
    assert [c[0] for c in calls] == list(range(1, total + 1))
    assert all(c[1] == total for c in calls)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon"),
        ({"step": -1}, "step"),
        ({"refit_every": 0}, "refit_every"),
        ({"levels": (80, 100)}, "levels"),
        # dates in messages as dates, not timestamps with a time of day
        ({"start": pd.Timestamp("2030-01-01")},
         r"no forecast origin between 2030-01-01 and \d{4}-\d\d-\d\d "),
        ({"start": pd.Timestamp("1900-01-01")}, "start 1900-01-01 leaves no training data"),
        ({"start": "not a date"}, "start"),
        ({"models": ["nonsense"]}, "unknown model"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    y = synthetic()
    args: dict[str, Any] = {"models": ["drift"], "start": y.index[60], "horizon": 5,
                            "progress": False}
    args.update(kwargs)
    with pytest.raises(EvaluationError, match=message):
        walk_forward(y, **args)


def _real(eia_dir, file: str, code: str) -> pd.Series:
    from energy_nb.data.validation import read_price_csv

    parsed = read_price_csv(eia_dir / file, commodity=code)
    values = np.array([np.nan if p is None else p for p in parsed.prices], dtype=float)
    return pd.Series(values, index=pd.DatetimeIndex(pd.to_datetime(parsed.dates), name="date"),
                     name=code)


def test_real_quirks_missing_ng_price_and_negative_wti(eia_dir) -> None:
    ng = _real(eia_dir, "henryhub-daily.csv", "NG").loc["2016-01-01":"2018-02-28"]
    result = walk_forward(ng, ["drift"], start="2017-12-27", end="2018-01-31", horizon=5,
                          step=2, progress=False)
    assert result.failures == {"random_walk": [], "drift": []}
    rows = result.forecasts[result.forecasts.date == pd.Timestamp("2018-01-05")]
    assert len(rows) > 0 and rows["actual"].isna().all() and rows["mean"].notna().all()
    assert np.isfinite(result.metrics[["mae", "rmae", "coverage_95"]].to_numpy()).all()

    wti = _real(eia_dir, "wti-daily.csv", "WTI").loc["2018-01-01":"2020-06-30"]
    result = walk_forward(wti, ["drift"], start="2020-04-13", end="2020-05-15", horizon=5,
                          step=1, progress=False)
    assert result.failures == {"random_walk": [], "drift": []}
    hit = result.forecasts[result.forecasts.date == pd.Timestamp("2020-04-20")]
    assert (hit["actual"] == -36.98).all() and len(hit) > 0
    assert np.isfinite(result.metrics[["mae", "mape", "smape", "winkler_95"]].to_numpy()).all()


def test_ensemble_reuses_the_members_fitted_at_the_same_origin(eia_dir) -> None:
    """Same forecasts as an ensemble evaluated alone, refit at every origin or every 2."""
    frame = pd.read_csv(eia_dir / "wti-daily.csv", parse_dates=["Date"])
    wti = frame.set_index("Date")["Price"].rename_axis("date").astype(float)
    wti = wti[~wti.index.duplicated()].loc["2012":]
    for refit_every in (1, 2):
        together = walk_forward(wti, ["arima", "theta", "gbm", "ensemble"], start="2026-01-02",
                                horizon=5, step=15, refit_every=refit_every, progress=False)
        alone = walk_forward(wti, ["ensemble"], start="2026-01-02", horizon=5, step=15,
                             refit_every=refit_every, progress=False)
        pick = lambda r: r.forecasts[r.forecasts["model"] == "ensemble"].reset_index(drop=True)
        pd.testing.assert_frame_equal(pick(together), pick(alone))
        assert together.fits["ensemble"] == alone.fits["ensemble"]
