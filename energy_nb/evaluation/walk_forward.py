"""Rolling-origin (walk-forward) evaluation of forecast models.

For every origin the model sees the series up to and including the origin only; it is refitted
from scratch every ``refit_every`` origins and otherwise refreshed with ``update`` (the cheap path a
model may offer). Its forecasts for steps 1..H (trading days, i.e. the next H observations of the
series) are compared with the actual prices. ``random_walk`` is always evaluated too: it is the
baseline of ``rmae``.

Usage::

    from energy_nb.evaluation import walk_forward
    result = walk_forward(series, ["random_walk", "drift", "arima"], start="2025-01-01",
                          horizon=30, step=5, refit_every=4)
    result.metrics.loc["arima"]               # one row per step, one column per metric
    result.table("rmae", steps=(1, 5, 10))    # models x steps
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from energy_nb.evaluation import metrics as M

BASELINE = "random_walk"

#: What ``walk_forward`` accepts as a model: a registered name, an unfitted model instance (deep
#: copied before every refit), or a zero-argument factory returning a fresh unfitted model.
ModelSpec = str | Any | Callable[[], Any]

#: Progress callback: ``(done, total, model_name)``.
ProgressCallback = Callable[[int, int, str], None]


class EvaluationError(ValueError):
    """Raised for invalid walk-forward inputs (bad series, window, horizon, step, levels)."""


@dataclass
class WalkForwardResult:
    """Everything a walk-forward evaluation produced.

    Attributes:
        metrics: DataFrame indexed by (``model``, ``step``) with one column per metric (see
            :func:`metric_columns`).
        origins: the forecast origins used (dates of the last observation each fit saw).
        forecasts: long DataFrame, one row per (model, origin, step): ``date`` (actual trading
            date of that step), ``actual``, ``last`` (last observed price at the origin), ``mean``
            and ``lower_<L>``/``upper_<L>`` per level.
        horizon: the number of steps.
        levels: the interval levels in percent.
        commodity: the series name.
        settings: start, end, step and refit_every as used.
        params: per model, its constructor parameters (JSON-safe).
        seconds: per model, wall time spent fitting, updating and predicting.
        failures: per model, ``"<origin>: <error>"`` messages for origins where it raised (its
            forecasts there are NaN and do not count in the metrics).
        fits: per model, the number of full fits performed.
    """

    metrics: pd.DataFrame
    origins: pd.DatetimeIndex
    forecasts: pd.DataFrame
    horizon: int
    levels: tuple[int, ...]
    commodity: str
    settings: dict[str, Any]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    fits: dict[str, int] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """The evaluated model names, in evaluation order."""
        return list(dict.fromkeys(self.metrics.index.get_level_values("model")))

    def table(self, metric: str = "rmae", steps: Iterable[int] | None = None) -> pd.DataFrame:
        """One metric as a models x steps table.

        Args:
            metric: a column of :attr:`metrics`, e.g. ``"rmae"`` or ``"coverage_95"``.
            steps: the steps to show (default all).

        Returns:
            DataFrame indexed by model with one column per step.
        """
        if metric not in self.metrics.columns:
            raise EvaluationError(f"unknown metric {metric!r}; have {list(self.metrics.columns)}")
        out = self.metrics[metric].unstack("step").reindex(self.models)
        if steps is not None:
            out = out[[s for s in steps if s in out.columns]]
        return out

    def by_origin(self, model: str) -> pd.DataFrame:
        """One model's accuracy per forecast origin, over the steps whose actual is known.

        Shows *when* a model did well or badly (e.g. bands too narrow in a price shock), which
        the per-step metrics average away.

        Args:
            model: an evaluated model name.

        Returns:
            DataFrame indexed by ``origin`` (all :attr:`origins`, in order) with ``mae`` (mean
            absolute error over the steps of that origin's path), ``coverage_<L>`` (share of
            those steps inside the ``L`` % band) and ``n`` (steps with a known actual and a
            finite forecast); NaN where ``n`` is 0.

        Raises:
            EvaluationError: for a model that was not evaluated.

        Usage::

            >>> result.by_origin("auto")["coverage_95"].rolling(10).mean()
        """
        if model not in self.models:
            raise EvaluationError(f"model {model!r} was not evaluated; have {self.models}")
        rows = self.forecasts[self.forecasts["model"] == model]
        known = np.isfinite(rows["actual"].to_numpy()) & np.isfinite(rows["mean"].to_numpy())
        frame = pd.DataFrame({"origin": rows["origin"].to_numpy(), "n": known.astype(float)})
        frame["abs_error"] = np.where(known, np.abs(rows["actual"] - rows["mean"]), 0.0)
        for level in self.levels:
            inside = ((rows[f"lower_{level}"] <= rows["actual"])
                      & (rows["actual"] <= rows[f"upper_{level}"])).to_numpy()
            frame[f"hits_{level}"] = (inside & known).astype(float)
        sums = frame.groupby("origin", sort=False).sum().reindex(self.origins)
        n = sums["n"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = pd.DataFrame({"mae": sums["abs_error"].to_numpy() / n}, index=self.origins)
            for level in self.levels:
                out[f"coverage_{level}"] = sums[f"hits_{level}"].to_numpy() / n
        out["n"] = n.astype(int)
        out.loc[out["n"] == 0, [c for c in out.columns if c != "n"]] = np.nan
        out.index.name = "origin"
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: settings, origins and per model and step the metrics.

        Returns:
            ``{"commodity", "horizon", "levels", "start", "end", "step", "refit_every",
            "origins": [...], "models": {name: {"params", "seconds", "fits", "failures",
            "steps": {"1": {"mae": ..., ...}, ...}, "by_origin": {"mae": [...],
            "coverage_80": [...], ...}}}}`` -- ``by_origin`` lists are aligned with
            ``origins`` (:meth:`by_origin`; ``null`` where no actual was known).
        """
        models: dict[str, Any] = {}
        for name in self.models:
            frame = self.metrics.loc[name]
            steps = {
                str(int(step)): {k: _finite(v) for k, v in row.items()}
                for step, row in frame.iterrows()
            }
            per_origin = self.by_origin(name).drop(columns="n")
            models[name] = {
                "params": self.params.get(name, {}),
                "seconds": round(self.seconds.get(name, 0.0), 4),
                "fits": self.fits.get(name, 0),
                "failures": list(self.failures.get(name, [])),
                "steps": steps,
                "by_origin": {col: [_finite(v) for v in per_origin[col]]
                              for col in per_origin.columns},
            }
        return {
            "commodity": self.commodity,
            "horizon": self.horizon,
            "levels": list(self.levels),
            **{k: _jsonable_setting(v) for k, v in self.settings.items()},
            "n_origins": len(self.origins),
            "origins": [d.strftime("%Y-%m-%d") for d in self.origins],
            "models": models,
        }


def metric_columns(levels: Sequence[int]) -> list[str]:
    """The metric column names for the given interval levels.

    Args:
        levels: interval levels in percent.

    Returns:
        ``["mae", ..., "directional_accuracy", "coverage_80", "width_80", "pinball_80",
        "winkler_80", ...]``.
    """
    cols = list(M.POINT_METRICS)
    for level in levels:
        cols += [f"{name}_{level}" for name in M.INTERVAL_METRICS]
    return cols


def select_origins(
    index: pd.DatetimeIndex,
    start: Any,
    end: Any = None,
    horizon: int = 30,
    step: int = 5,
) -> pd.DatetimeIndex:
    """Every ``step``-th trading day from ``start`` whose H steps are observed.

    Args:
        index: the series' sorted trading dates.
        start: first origin is the first trading day on or after this date.
        end: last date of the evaluation window (default: the last date); the H actuals of every
            origin lie on or before it.
        horizon: steps ahead H.
        step: trading days between consecutive origins.

    Returns:
        The origin dates (possibly empty).
    """
    start_ts = _timestamp(start, "start")
    last = (len(index) - 1 if end is None
            else int(index.searchsorted(_timestamp(end, "end"), "right")) - 1)
    first = int(index.searchsorted(start_ts, "left"))
    positions = range(first, last - horizon + 1, step)
    return index[list(positions)]


def walk_forward(
    series: pd.Series,
    models: Sequence[ModelSpec] | Mapping[str, ModelSpec],
    start: Any,
    end: Any = None,
    horizon: int = 30,
    step: int = 5,
    refit_every: int = 1,
    levels: Sequence[int] = (80, 95),
    progress: bool | ProgressCallback = True,
) -> WalkForwardResult:
    """Evaluate models by rolling-origin forecasting.

    Args:
        series: prices with a sorted, unique DatetimeIndex of trading days (NaN = missing price).
        models: model names (``"arima"``), unfitted instances, factories, or a mapping from the
            label to report to any of these. ``random_walk`` is added if missing (rMAE baseline).
        start: first origin is the first trading day on or after ``start``.
        end: last date whose price may be used as an actual (default: the series' last date).
        horizon: steps 1..H to forecast and score (trading days).
        step: trading days between origins.
        refit_every: fit from scratch every N origins; in between call ``update`` with the longer
            series (models without a cheap update simply refit).
        levels: interval levels in percent, ints in (0, 100).
        progress: show a tqdm progress bar (terminal or notebook), or a callback
            ``(done, total, model)``; ``False`` for silence.

    Returns:
        A :class:`WalkForwardResult`.

    Raises:
        EvaluationError: on invalid inputs or when no origin fits in the window.
    """
    series = _check_series(series)
    horizon = _positive_int(horizon, "horizon")
    step = _positive_int(step, "step")
    refit_every = _positive_int(refit_every, "refit_every")
    levels = _check_levels(levels)
    specs = _named_specs(models)

    index = pd.DatetimeIndex(series.index)
    origins = select_origins(index, start, end, horizon, step)
    first_day = _timestamp(start, "start").date()
    if len(origins) == 0:
        last_day = (_timestamp(end, "end") if end is not None else index[-1]).date()
        raise EvaluationError(
            f"no forecast origin between {first_day} and {last_day} leaves {horizon} "
            f"observed steps (data {index[0].date()}..{index[-1].date()})"
        )
    if index.get_loc(origins[0]) < 1:
        raise EvaluationError(f"start {first_day} leaves no training data before the first origin")

    values = series.to_numpy(dtype=float)
    positions = np.asarray([index.get_loc(o) for o in origins])
    steps_idx = positions[:, None] + np.arange(1, horizon + 1)[None, :]
    actual = values[steps_idx]
    step_dates = index[steps_idx.ravel()].to_numpy().reshape(steps_idx.shape)
    last_valid = series.ffill().to_numpy(dtype=float)
    last = last_valid[positions]
    scales = np.asarray([M.naive_scale(values[: p + 1]) for p in positions])

    total = len(specs) * len(origins)
    # descriptions padded to the longest label: the bar keeps its place as the labels change
    label_width = max(map(len, specs))
    bar, callback = _progress(progress, total, next(iter(specs)).rjust(label_width))
    done = 0
    preds: dict[str, dict[str, np.ndarray]] = {}
    for label in specs:
        arrays = {"mean": np.full((len(origins), horizon), np.nan)}
        for level in levels:
            arrays[f"lower_{level}"] = np.full((len(origins), horizon), np.nan)
            arrays[f"upper_{level}"] = np.full((len(origins), horizon), np.nan)
        preds[label] = arrays
    result_params = {label: _params_of(spec) for label, spec in specs.items()}
    seconds = dict.fromkeys(specs, 0.0)
    failures: dict[str, list[str]] = {label: [] for label in specs}
    fits = dict.fromkeys(specs, 0)
    current: dict[str, Any] = dict.fromkeys(specs)
    # One BLAS/OpenMP thread: the fits here are small, and idle BLAS threads spin for a while
    # after each call, taking the CPU from the next model (gbm, ets and theta ran 1.5-3x slower
    # interleaved on 2 cores). threadpoolctl is scikit-learn's own tool for this.
    limits = threadpool_limits(limits=1)
    try:
        # origin by origin, every model in turn: a combination fitted at an origin can reuse the
        # members fitted there just before it (Ensemble.reuse_members) instead of refitting them
        for k, pos in enumerate(positions):
            train = series.iloc[: pos + 1].copy()
            fitted_here: list[Any] = []  # fitted from scratch on ``train`` (not updated)
            for label, spec in specs.items():
                if bar is not None:
                    bar.set_description(label.rjust(label_width), refresh=False)
                began = time.perf_counter()
                model = current[label]
                try:
                    if model is None or k % refit_every == 0:
                        current[label] = None
                        fresh = _fresh(spec)
                        if hasattr(fresh, "reuse_members"):
                            fresh.reuse_members(fitted_here)
                        model = fresh.fit(train)
                        fits[label] += 1
                        fitted_here.append(model)
                    else:
                        model = model.update(train)
                    current[label] = model
                    fc = model.predict(horizon=horizon, levels=levels)
                    _store_forecast(preds[label], k, fc, horizon, levels)
                except Exception as exc:  # noqa: BLE001 - one bad origin must not end the run
                    current[label] = None
                    failures[label].append(
                        f"{origins[k].date()}: {type(exc).__name__}: {exc}"
                    )
                seconds[label] += time.perf_counter() - began
                done += 1
                if bar is not None:
                    bar.update(1)
                if callback is not None:
                    callback(done, total, label)
    finally:
        limits.restore_original_limits()
        if bar is not None:
            bar.close()

    metrics = _score(preds, actual, last, scales, levels, horizon)
    forecasts = _long_frame(preds, origins, step_dates, actual, last, levels, horizon)
    return WalkForwardResult(
        metrics=metrics,
        origins=pd.DatetimeIndex(origins, name="origin"),
        forecasts=forecasts,
        horizon=horizon,
        levels=levels,
        commodity=str(series.name) if series.name is not None else "",
        settings={
            "start": _timestamp(start, "start"),
            "end": _timestamp(end, "end") if end is not None else index[-1],
            "step": step,
            "refit_every": refit_every,
        },
        params=result_params,
        seconds=seconds,
        failures=failures,
        fits=fits,
    )


# ----------------------------------------------------------------------------------------------
# helpers


def _score(
    preds: dict[str, dict[str, np.ndarray]],
    actual: np.ndarray,
    last: np.ndarray,
    scales: np.ndarray,
    levels: tuple[int, ...],
    horizon: int,
) -> pd.DataFrame:
    baseline = preds[BASELINE]["mean"]
    rows: list[dict[str, Any]] = []
    for label, arrays in preds.items():
        mean = arrays["mean"]
        for h in range(horizon):
            y, f = actual[:, h], mean[:, h]
            row: dict[str, Any] = {
                "model": label,
                "step": h + 1,
                "mae": M.mae(y, f),
                "rmse": M.rmse(y, f),
                "mape": M.mape(y, f),
                "smape": M.smape(y, f),
                "mase": M.mase(y, f, scales),
                "rmae": M.relative_mae(y, f, baseline[:, h]),
                "directional_accuracy": M.directional_accuracy(y, f, last),
            }
            for level in levels:
                lo, hi = arrays[f"lower_{level}"][:, h], arrays[f"upper_{level}"][:, h]
                row[f"coverage_{level}"] = M.coverage(y, lo, hi)
                row[f"width_{level}"] = M.mean_width(lo, hi, actual=y)
                row[f"pinball_{level}"] = M.pinball_loss(y, lo, hi, level)
                row[f"winkler_{level}"] = M.winkler_score(y, lo, hi, level)
            rows.append(row)
    frame = pd.DataFrame(rows).set_index(["model", "step"])
    return frame[metric_columns(levels)]


def _long_frame(
    preds: dict[str, dict[str, np.ndarray]],
    origins: pd.DatetimeIndex,
    step_dates: np.ndarray,
    actual: np.ndarray,
    last: np.ndarray,
    levels: tuple[int, ...],
    horizon: int,
) -> pd.DataFrame:
    n = len(origins)
    frames = []
    for label, arrays in preds.items():
        data: dict[str, Any] = {
            "model": label,
            "origin": np.repeat(origins.to_numpy(), horizon),
            "step": np.tile(np.arange(1, horizon + 1), n),
            "date": step_dates.ravel(),
            "actual": actual.ravel(),
            "last": np.repeat(last, horizon),
            "mean": arrays["mean"].ravel(),
        }
        for level in levels:
            data[f"lower_{level}"] = arrays[f"lower_{level}"].ravel()
            data[f"upper_{level}"] = arrays[f"upper_{level}"].ravel()
        frames.append(pd.DataFrame(data))
    return pd.concat(frames, ignore_index=True)


def _store_forecast(
    arrays: dict[str, np.ndarray], k: int, fc: Any, horizon: int, levels: tuple[int, ...]
) -> None:
    mean = np.asarray(fc.mean, dtype=float)
    if mean.shape != (horizon,):
        raise EvaluationError(f"forecast has shape {mean.shape}, expected ({horizon},)")
    arrays["mean"][k] = mean
    for level in levels:
        arrays[f"lower_{level}"][k] = np.asarray(fc.lower[level], dtype=float)
        arrays[f"upper_{level}"][k] = np.asarray(fc.upper[level], dtype=float)


def _named_specs(models: Sequence[ModelSpec] | Mapping[str, ModelSpec]) -> dict[str, ModelSpec]:
    if isinstance(models, str):
        models = [models]
    if isinstance(models, Mapping):
        specs = {str(k): v for k, v in models.items()}
    else:
        specs = {}
        for spec in models:
            label = _label_of(spec)
            if label in specs:
                raise EvaluationError(f"model {label!r} given twice")
            specs[label] = spec
    if not specs:
        raise EvaluationError("no models to evaluate")
    if BASELINE not in specs:
        specs = {BASELINE: BASELINE, **specs}
    for label, spec in specs.items():
        if isinstance(spec, str):
            _check_model_name(spec)
    return specs


def _label_of(spec: ModelSpec) -> str:
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(spec, "__name__", type(spec).__name__)


def _check_model_name(name: str) -> None:
    from energy_nb.models import MODEL_NAMES

    if name not in MODEL_NAMES:
        raise EvaluationError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")


def _fresh(spec: ModelSpec) -> Any:
    if isinstance(spec, str):
        from energy_nb.models import make_model

        return make_model(spec)
    if hasattr(spec, "fit") and hasattr(spec, "predict"):
        return copy.deepcopy(spec)
    if callable(spec):
        return spec()
    raise EvaluationError(f"not a model, model name or factory: {spec!r}")


def _params_of(spec: ModelSpec) -> dict[str, Any]:
    try:
        model = _fresh(spec)
        get = getattr(model, "get_params", None)
        params = get() if callable(get) else {}
    except Exception:  # noqa: BLE001 - parameters are informative only
        return {}
    return {str(k): _jsonable_setting(v) for k, v in dict(params).items()}


def _check_series(series: pd.Series) -> pd.Series:
    if not isinstance(series, pd.Series):
        raise EvaluationError(f"series must be a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise EvaluationError("series must have a DatetimeIndex")
    if not series.index.is_monotonic_increasing or not series.index.is_unique:
        raise EvaluationError("series dates must be sorted and unique")
    if len(series) < 3:
        raise EvaluationError(f"series too short: {len(series)} observations")
    return series.astype(float)


def _check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    from energy_nb.models import InvalidParameterError, validate_levels

    try:
        return validate_levels(levels)  # the models' own rule
    except InvalidParameterError as exc:
        raise EvaluationError(f"levels: {exc}") from None


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise EvaluationError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"{name} is not a date: {value!r}") from exc
    if ts is pd.NaT:
        raise EvaluationError(f"{name} is not a date: {value!r}")
    return ts.tz_localize(None) if ts.tz is not None else ts


def _progress(
    progress: bool | ProgressCallback, total: int, desc: str
) -> tuple[Any, ProgressCallback | None]:
    if callable(progress) and not isinstance(progress, bool):
        return None, progress
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, leave=False), None


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _jsonable_setting(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable_setting(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable_setting(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
