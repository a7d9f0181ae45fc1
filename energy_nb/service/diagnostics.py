"""Model diagnostics for the dashboards.

Forecast errors, run comparisons, residuals, quick evaluation.

The Forecast and Models pages only display what these functions compute (no widgets here):

* :func:`forecast_error_summary` — MAE, RMSE, MAPE, bias and band coverage of a forecast against
  the prices observed after its origin;
* :func:`forecast_frame_from_payload` — a forecast table from a :class:`~energy_nb.models.Forecast`,
  its ``to_dict()`` or a live ``forecast_update`` message;
* :func:`runs_table`, :func:`comparison_table`, :func:`metric_by_step` — the model registry's
  runs as tables;
* :func:`residual_diagnostics` — one-step rolling-origin residuals of a fitted model, their
  autocorrelation, Ljung-Box test and histogram; :func:`fit_run_model` refits a recorded run;
* :func:`quick_evaluation` — a small walk-forward evaluation recorded in the registry.

Usage::

    from energy_nb.service.diagnostics import comparison_table, residual_diagnostics, fit_run_model
    table = comparison_table(registry.latest_evaluations("WTI"))
    diag = residual_diagnostics(fit_run_model(store, registry.get(3)))
    diag.acf, diag.ljung_box_pvalue
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_nb.evaluation import metrics as M

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore
    from energy_nb.service.registry import ModelRun

#: Steps shown in the comparison table.
COMPARISON_STEPS: tuple[int, ...] = (1, 5, 10, 20, 30)

#: Models the quick evaluation of the Models page runs by default (fast ones; ``auto`` and the
#: ensemble are included because they are what the Forecast page offers by default).
QUICK_MODELS: tuple[str, ...] = ("random_walk", "drift", "ets", "theta", "auto")


class DiagnosticsError(ValueError):
    """A diagnostic cannot be computed (bad payload, run without data, too few residuals)."""


# ----------------------------------------------------------------------------------------------
# forecast vs actuals


def forecast_error_summary(errors: pd.DataFrame, levels: Sequence[int]) -> dict[str, Any]:
    """Accuracy of one forecast over the steps whose price is already known.

    Args:
        errors: frame from :func:`energy_nb.service.forecasting.compare_with_actuals` (``actual``,
            ``mean`` and ``inside_<L>`` columns).
        levels: the interval levels shown.

    Returns:
        ``{"n": steps with an actual, "mae", "rmse", "mape", "bias" (mean of actual - forecast),
        "coverage": {level: share of actuals inside the band}}``; metrics are NaN when ``n`` is 0.
    """
    known = errors.dropna(subset=["actual"]) if len(errors) else errors
    n = len(known)
    if n == 0:
        nan = float("nan")
        return {"n": 0, "mae": nan, "rmse": nan, "mape": nan, "bias": nan,
                "coverage": {int(level): nan for level in levels}}
    actual = known["actual"].to_numpy(dtype=float)
    mean = known["mean"].to_numpy(dtype=float)
    coverage = {}
    for level in levels:
        column = f"inside_{level}"
        coverage[int(level)] = (float(known[column].astype(float).mean())
                                if column in known else float("nan"))
    return {
        "n": n,
        "mae": M.mae(actual, mean),
        "rmse": M.rmse(actual, mean),
        "mape": M.mape(actual, mean),
        "bias": float(np.mean(actual - mean)),
        "coverage": coverage,
    }


def forecast_frame_from_payload(payload: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A forecast table (``date, mean, lower_<L>, upper_<L>``) from any forecast representation.

    Args:
        payload: a :class:`~energy_nb.models.Forecast`, the dict of ``Forecast.to_dict()``, or a
            live ``forecast_update``/``resync`` message (``points`` with ``date``, ``mean``,
            ``lower_<L>``, ``upper_<L>``; optional ``forecast`` holding either of the former).

    Returns:
        ``(frame, meta)``; ``meta`` has ``commodity``, ``model``, ``origin`` (Timestamp or
        ``None``), ``levels`` and ``info`` when the payload carries them.

    Raises:
        DiagnosticsError: naming what is missing or malformed.
    """
    if hasattr(payload, "to_frame") and hasattr(payload, "levels"):
        frame = payload.to_frame()
        return frame, {"commodity": payload.commodity, "model": payload.model,
                       "origin": pd.Timestamp(payload.origin), "levels": tuple(payload.levels),
                       "info": dict(payload.info)}
    if not isinstance(payload, Mapping):
        raise DiagnosticsError("a forecast must be a Forecast or a dict, "
                               f"got {type(payload).__name__}")
    if "points" not in payload and isinstance(payload.get("forecast"), Mapping):
        return forecast_frame_from_payload(payload["forecast"])
    meta: dict[str, Any] = {
        "commodity": payload.get("commodity"),
        "model": payload.get("model"),
        "info": dict(payload.get("info") or {}),
    }
    origin = payload.get("origin", payload.get("as_of"))
    meta["origin"] = pd.Timestamp(origin) if origin else None
    if "points" in payload:
        points = payload["points"]
        if not isinstance(points, Sequence) or not points:
            raise DiagnosticsError("forecast message has no points")
        frame = pd.DataFrame(list(points))
        if "date" not in frame or "mean" not in frame:
            raise DiagnosticsError("forecast points need 'date' and 'mean'")
    elif "dates" in payload and "mean" in payload:
        levels = [int(v) for v in payload.get("levels", [])]
        data: dict[str, Any] = {"date": payload["dates"], "mean": payload["mean"]}
        for level in levels:
            data[f"lower_{level}"] = payload["lower"][str(level)]
            data[f"upper_{level}"] = payload["upper"][str(level)]
        try:
            frame = pd.DataFrame(data)
        except ValueError as exc:
            raise DiagnosticsError(f"forecast arrays have different lengths: {exc}") from None
    else:
        raise DiagnosticsError("forecast needs 'points' or 'dates' and 'mean'")
    frame["date"] = pd.to_datetime(frame["date"])
    for column in frame.columns:
        if column != "date":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    levels = sorted({int(c.split("_", 1)[1]) for c in frame.columns
                     if c.startswith("lower_") and f"upper_{c.split('_', 1)[1]}" in frame})
    meta["levels"] = tuple(levels)
    ordered = ["date", "mean"] + [f"{side}_{lv}" for lv in levels for side in ("lower", "upper")]
    return frame[ordered].reset_index(drop=True), meta


# ----------------------------------------------------------------------------------------------
# registry tables


def runs_table(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """The registry's runs as one row each (metadata and a headline metric).

    Args:
        runs: runs from :meth:`ModelRegistry.list`.

    Returns:
        Columns ``id, model, commodity, kind, train_start, train_end, data_version, created_at,
        origins, mean_rmae``.
    """
    rows = []
    for run in runs:
        overall = run.metrics.get("mean_over_steps") or {}
        rows.append({
            "id": run.id, "model": run.name, "commodity": run.commodity, "kind": run.kind,
            "train_start": run.train_start, "train_end": run.train_end,
            "data_version": run.data_version, "created_at": run.created_at,
            "origins": run.metrics.get("n_origins"),
            "mean_rmae": overall.get("rmae"),
        })
    columns = ["id", "model", "commodity", "kind", "train_start", "train_end", "data_version",
               "created_at", "origins", "mean_rmae"]
    return pd.DataFrame(rows, columns=columns)


def metric_by_step(runs: Mapping[str, ModelRun], metric: str) -> pd.DataFrame:
    """One metric of several walk-forward runs, steps in rows and models in columns.

    Args:
        runs: ``{model: run}`` (e.g. :meth:`ModelRegistry.latest_evaluations`).
        metric: a metric name, e.g. ``"rmae"`` or ``"coverage_80"``.

    Returns:
        DataFrame indexed by ``step``; models without that metric are left out.
    """
    columns = {}
    for name, run in runs.items():
        steps = run.step_metrics()
        if metric in steps.columns:
            columns[name] = steps[metric]
    frame = pd.DataFrame(columns)
    frame.index.name = "step"
    return frame.sort_index()


def metric_over_time(
    runs: Mapping[str, ModelRun], metric: str, window: int = 10
) -> pd.DataFrame:
    """A metric of several walk-forward runs by forecast origin, over a trailing window.

    Args:
        runs: ``{model: walk-forward run}`` (e.g. :meth:`ModelRegistry.latest_evaluations`).
        metric: ``"coverage_<L>"`` (share of path steps inside the band, averaged over the last
            ``window`` origins) or ``"rmae"`` (the model's summed MAE over the last ``window``
            origins divided by the random walk's over the same origins).
        window: number of origins in the trailing window (>= 1); fewer at the start.

    Returns:
        DataFrame indexed by ``origin`` (dates), one column per model that has per-origin
        metrics; empty when none has (runs recorded before energy_nb 0.2) or, for ``rmae``,
        when the random walk is not among the runs.

    Raises:
        DiagnosticsError: on a window below 1 or an unknown metric.

    Usage::

        >>> metric_over_time(registry.latest_evaluations("WTI"), "coverage_95", window=10)
    """
    if int(window) < 1:
        raise DiagnosticsError(f"window must be at least 1 origin, got {window}")
    if metric != "rmae" and not metric.startswith("coverage_"):
        raise DiagnosticsError(f"metric must be 'rmae' or 'coverage_<level>', got {metric!r}")
    frames = {name: run.origin_metrics() for name, run in runs.items()}
    frames = {name: f for name, f in frames.items() if not f.empty}
    columns: dict[str, pd.Series] = {}
    if metric == "rmae":
        base = frames.get("random_walk")
        if base is None:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="origin"))
        base_sum = base["mae"].rolling(window, min_periods=1).sum()
        for name, frame in frames.items():
            model_sum = frame["mae"].rolling(window, min_periods=1).sum()
            columns[name] = model_sum / base_sum.reindex(frame.index)
    else:
        for name, frame in frames.items():
            if metric in frame.columns:
                columns[name] = frame[metric].rolling(window, min_periods=1).mean()
    out = pd.DataFrame(columns)
    out.index.name = "origin"
    return out.sort_index()


def track_record(run: ModelRun, horizon: int, levels: Sequence[int]) -> dict[str, Any] | None:
    """How a model did in its walk-forward evaluation over the first ``horizon`` steps.

    What the Forecast page shows beside a forecast, so that its bands come with evidence.

    Args:
        run: a walk-forward run (e.g. ``registry.latest_evaluations("WTI")["auto"]``).
        horizon: the forecast's number of steps; steps beyond the evaluated ones are ignored.
        levels: the forecast's interval levels.

    Returns:
        ``None`` for a run without per-step metrics, else ``{"run_id", "n_origins",
        "first_origin", "last_origin", "steps", "rmae", "coverage": {level: share or None}}``:
        means over steps ``1..min(horizon, evaluated)``; ``None`` for a level that was not
        evaluated.

    Usage::

        >>> track_record(run, horizon=7, levels=(80, 95))["coverage"][95]
    """
    steps = run.step_metrics()
    if steps.empty:
        return None
    used = steps[steps.index <= int(horizon)]
    if used.empty:
        return None
    origins = run.metrics.get("origins") or []
    coverage: dict[int, float | None] = {}
    for level in levels:
        column = f"coverage_{int(level)}"
        coverage[int(level)] = (float(used[column].mean()) if column in used.columns
                                and used[column].notna().any() else None)
    return {
        "run_id": run.id,
        "n_origins": run.metrics.get("n_origins", len(origins)),
        "first_origin": origins[0] if origins else None,
        "last_origin": origins[-1] if origins else run.train_end,
        "steps": int(used.index.max()),
        "rmae": float(used["rmae"].mean()) if "rmae" in used.columns else None,
        "coverage": coverage,
    }


def evaluation_levels(runs: Mapping[str, ModelRun]) -> list[int]:
    """The interval levels that every given walk-forward run reports coverage for."""
    found: set[int] | None = None
    for run in runs.values():
        levels = {int(c.split("_", 1)[1]) for c in run.step_metrics().columns
                  if c.startswith("coverage_")}
        found = levels if found is None else found & levels
    return sorted(found or ())


def comparison_table(
    runs: Mapping[str, ModelRun], steps: Sequence[int] = COMPARISON_STEPS
) -> pd.DataFrame:
    """Models side by side: rMAE at some steps, MAE at step 1, mean coverage and width per level.

    Args:
        runs: ``{model: walk-forward run}``.
        steps: steps whose rMAE is shown (those beyond the evaluated horizon are skipped).

    Returns:
        DataFrame indexed by model, sorted by mean rMAE: ``rmae_<s>`` columns, ``mean_rmae``,
        ``mae_1``, ``coverage_<L>`` and ``width_<L>`` (averages over steps), ``origins``,
        ``run_id``.
    """
    levels = evaluation_levels(runs)
    rows = {}
    for name, run in runs.items():
        frame = run.step_metrics()
        if frame.empty:
            continue
        row: dict[str, Any] = {}
        for s in steps:
            if s in frame.index:
                row[f"rmae_{s}"] = frame.at[s, "rmae"]
        row["mean_rmae"] = float(frame["rmae"].mean())
        row["mae_1"] = frame["mae"].iloc[0]
        for level in levels:
            row[f"coverage_{level}"] = float(frame[f"coverage_{level}"].mean())
            row[f"width_{level}"] = float(frame[f"width_{level}"].mean())
        row["origins"] = run.metrics.get("n_origins")
        row["run_id"] = run.id
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table = table.sort_values("mean_rmae", kind="stable")
    table.index.name = "model"
    return table


def step_metrics_long(runs: Mapping[str, ModelRun]) -> pd.DataFrame:
    """Every per-step metric of several walk-forward runs, one row per (model, step).

    Args:
        runs: ``{model: walk-forward run}`` (e.g. :meth:`ModelRegistry.latest_evaluations`).

    Returns:
        DataFrame with columns ``commodity``, ``model``, ``run_id``, ``step`` and the metrics
        under their registry names (``mae``, ``rmae``, ``coverage_80``, ...), sorted by model
        and step; empty when no run has per-step metrics.

    Usage::

        >>> step_metrics_long(registry.latest_evaluations("WTI")).to_csv("wti_metrics.csv")
    """
    parts = []
    for name in sorted(runs):
        run = runs[name]
        frame = run.step_metrics()
        if frame.empty:
            continue
        frame = frame.reset_index()
        frame.insert(0, "run_id", run.id)
        frame.insert(0, "model", name)
        frame.insert(0, "commodity", run.commodity)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["commodity", "model", "run_id", "step"])
    return pd.concat(parts, ignore_index=True, sort=False)


# ----------------------------------------------------------------------------------------------
# residuals


@dataclass(frozen=True)
class ResidualDiagnostics:
    """One-step-ahead residual diagnostics of a fitted model.

    The residuals are the model's rolling-origin one-step errors of log prices over its
    calibration window (the ones its intervals are calibrated on), divided by the one-step
    interval scale at each origin (the causal EWMA volatility, capped, plus the small drift term;
    see :mod:`energy_nb.models.intervals`): well-specified models give residuals near N(0, 1)
    without autocorrelation.

    Attributes:
        model: model name.
        residuals: scaled residuals indexed by the date of the predicted price.
        acf: autocorrelations at lags ``1..max_lag``.
        acf_band: the ±1.96/sqrt(n) band of white noise.
        ljung_box_pvalue: p-value of the Ljung-Box test at ``max_lag`` (small = autocorrelated).
        mean, std, skew, kurtosis: moments of the residuals (kurtosis in excess of normal).
        histogram: frame ``left, right, center, count``.
    """

    model: str
    residuals: pd.Series
    acf: pd.Series
    acf_band: float
    ljung_box_pvalue: float
    mean: float
    std: float
    skew: float
    kurtosis: float
    histogram: pd.DataFrame


def residual_diagnostics(model: Any, max_lag: int = 20, bins: int = 40) -> ResidualDiagnostics:
    """Residual diagnostics of a fitted :class:`~energy_nb.models.ForecastModel`.

    Args:
        model: a fitted model (it has ``series_`` and ``calibration_residuals``).
        max_lag: largest autocorrelation lag.
        bins: histogram bins.

    Returns:
        The :class:`ResidualDiagnostics`.

    Raises:
        DiagnosticsError: the model is not fitted or has fewer than ``max_lag + 2`` residuals.
    """
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.tsa.stattools import acf

    if not hasattr(model, "series_"):
        raise DiagnosticsError("the model is not fitted")
    z = np.asarray(model.calibration_residuals(1), dtype=float)[:, 0]
    dates = pd.DatetimeIndex(model.series_.index)[len(model.series_) - len(z):]
    residuals = pd.Series(z, index=dates, name="residual").dropna()
    residuals = residuals[np.isfinite(residuals.to_numpy())]
    if len(residuals) < max_lag + 2:
        raise DiagnosticsError(
            f"only {len(residuals)} residuals; need at least {max_lag + 2} for lag {max_lag}"
        )
    values = residuals.to_numpy()
    correlations = acf(values, nlags=max_lag, fft=True)[1:]
    lb = acorr_ljungbox(values, lags=[max_lag])
    counts, edges = np.histogram(values, bins=bins)
    histogram = pd.DataFrame({"left": edges[:-1], "right": edges[1:],
                              "center": (edges[:-1] + edges[1:]) / 2, "count": counts})
    series = pd.Series(values)
    return ResidualDiagnostics(
        model=str(getattr(model, "name", type(model).__name__)),
        residuals=residuals,
        acf=pd.Series(correlations, index=pd.RangeIndex(1, max_lag + 1, name="lag"), name="acf"),
        acf_band=float(1.96 / np.sqrt(len(values))),
        ljung_box_pvalue=float(lb["lb_pvalue"].iloc[0]),
        mean=float(values.mean()),
        std=float(values.std(ddof=1)),
        skew=float(series.skew()),
        kurtosis=float(series.kurt()),
        histogram=histogram,
    )


def fit_run_model(store: PriceStore, run: ModelRun) -> Any:
    """Refit a recorded run: its model and parameters on its stored training window.

    Args:
        store: the price store.
        run: a registry run (``name``, ``params``, ``train_start``, ``train_end``).

    Returns:
        The fitted model.

    Raises:
        DiagnosticsError: no stored prices in the window, or the parameters are rejected.
    """
    from energy_nb.models import ModelError, make_model

    train = store.load(run.commodity, start=run.train_start, end=run.train_end)
    if train.dropna().empty:
        raise DiagnosticsError(
            f"no stored {run.commodity} prices between {run.train_start} and {run.train_end}"
        )
    params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run.params.items()}
    try:
        return make_model(run.name, **params).fit(train)
    except (ModelError, TypeError, ValueError) as exc:
        raise DiagnosticsError(f"cannot refit run {run.id} ({run.name}): {exc}") from exc


# ----------------------------------------------------------------------------------------------
# quick evaluation


@dataclass(frozen=True)
class QuickEvaluationPlan:
    """Settings of a small walk-forward evaluation.

    Attributes:
        start: first origin date.
        horizon: steps.
        step: trading days between origins.
        refit_every: full refit every N origins.
        n_origins: how many origins that gives.
    """

    start: pd.Timestamp
    horizon: int
    step: int
    refit_every: int
    n_origins: int


def quick_evaluation_plan(
    index: pd.DatetimeIndex, n_origins: int = 8, horizon: int = 30, step: int = 10,
    refit_every: int = 4,
) -> QuickEvaluationPlan:
    """Origins for a quick evaluation ending at the latest data.

    Args:
        index: the series' trading dates.
        n_origins: wanted origins.
        horizon: steps 1..H.
        step: trading days between origins.
        refit_every: refit every N origins (update in between).

    Returns:
        The plan (fewer origins when the series is short).

    Raises:
        DiagnosticsError: the series is too short for even one origin with training data.
    """
    last_origin = len(index) - 1 - horizon
    first = max(last_origin - (n_origins - 1) * step, 200)
    if first > last_origin:
        raise DiagnosticsError(f"{len(index)} prices are too few for a {horizon}-step evaluation")
    count = (last_origin - first) // step + 1
    return QuickEvaluationPlan(pd.Timestamp(index[first]), horizon, step, refit_every, count)


def quick_evaluation(
    store: PriceStore,
    commodity: str,
    models: Sequence[str] = QUICK_MODELS,
    *,
    n_origins: int = 8,
    horizon: int = 30,
    step: int = 10,
    refit_every: int = 4,
    levels: Sequence[int] = (80, 95),
    progress: Callable[[int, int, str], None] | bool = False,
) -> dict[str, int]:
    """Evaluate a few models walk-forward on the latest data and record them in the registry.

    Args:
        store: the price store.
        commodity: code.
        models: model names.
        n_origins, horizon, step, refit_every: see :func:`quick_evaluation_plan`.
        levels: interval levels.
        progress: ``walk_forward``'s progress (callback ``(done, total, model)``).

    Returns:
        ``{model: run id}``.

    Raises:
        DiagnosticsError: no prices stored or too few.
    """
    from energy_nb.commodities import get_commodity
    from energy_nb.evaluation import walk_forward
    from energy_nb.service.registry import ModelRegistry

    code = get_commodity(commodity).code
    series = store.load(code)
    if series.dropna().empty:
        raise DiagnosticsError(f"no {code} prices stored; import them first")
    plan = quick_evaluation_plan(series.index, n_origins, horizon, step, refit_every)
    result = walk_forward(series, list(models), start=plan.start, horizon=plan.horizon,
                          step=plan.step, refit_every=plan.refit_every, levels=levels,
                          progress=progress)
    return ModelRegistry(store).record_evaluation(result, series, store.data_version(code))
