"""Combinations: ``ensemble`` (average of members) and ``auto`` (validated choice per step).

Usage::

    >>> Ensemble(members=("random_walk", "arima", "theta"), combine="median").fit(y).predict(7)
    >>> fc = Auto().fit(y).predict(30)
    >>> fc.info["chosen"], fc.info["reason"]
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from energy_nb.models.base import ForecastModel, check_int, check_number
from energy_nb.models.errors import InsufficientDataError, InvalidParameterError
from energy_nb.models.intervals import DEFAULT_HALFLIFE, DEFAULT_WINDOW
from energy_nb.models.transforms import PreparedSeries

_COMPOSITES = ("ensemble", "auto")
#: Fewest prices ``auto`` fits its candidates on before the validation window.
MIN_VALIDATION_TRAIN = 30
#: Fewest validation origins for ``auto`` to validate at all (otherwise: random walk).
MIN_VALIDATION_ORIGINS = 5


def _check_members(label: str, names: object, allow_empty: bool = False) -> tuple[str, ...]:
    from energy_nb.models import MODEL_NAMES

    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidParameterError(f"{label} must be a sequence of model names, got {names!r}")
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise InvalidParameterError(f"{label} must hold model names, got {raw!r}")
        key = raw.strip().lower()
        if key not in MODEL_NAMES or key in _COMPOSITES:
            allowed = [n for n in MODEL_NAMES if n not in _COMPOSITES]
            raise InvalidParameterError(
                f"{label}: unknown or composite model {raw!r}; allowed: {', '.join(allowed)}"
            )
        if key not in out:
            out.append(key)
    if not out and not allow_empty:
        raise InvalidParameterError(f"{label} must name at least one model")
    return tuple(out)


def _refresh(model: ForecastModel, series: PreparedSeries) -> ForecastModel:
    """Move a fitted member to ``series`` keeping its parameters (refit if it has none)."""
    if model._supports_refilter:
        model._set_series(series)
        model._refilter(series)
        return model
    return model._fit_prepared(series)


def _make(name: str, calibration_window: int, vol_halflife: float) -> ForecastModel:
    from energy_nb.models import make_model

    return make_model(name, calibration_window=calibration_window, vol_halflife=vol_halflife)


class Ensemble(ForecastModel):
    """Mean or median of the members' forecast paths (in log prices).

    Args:
        members: names of the member models (not ``ensemble``/``auto``).
        combine: ``"mean"`` or ``"median"``.
        calibration_window: origins used to calibrate the intervals (of the combination).
        vol_halflife: half-life of the EWMA volatility scale.

    Fitted attributes: ``members_`` (fitted models, those that could be fitted), ``n_reused_``
    (members copied from :meth:`reuse_members` instead of refitted).
    """

    name = "ensemble"
    _supports_refilter = True

    def __init__(
        self,
        members: Sequence[str] = ("random_walk", "arima", "ets", "theta", "gbm"),
        combine: str = "mean",
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.members = members
        self.combine = combine
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_members("members", self.members)
        if self.combine not in ("mean", "median"):
            raise InvalidParameterError(f"combine must be 'mean' or 'median', got {self.combine!r}")

    def reuse_members(self, fitted: Iterable[ForecastModel]) -> Ensemble:
        """Offer already-fitted models to the next :meth:`fit` instead of refitting them.

        At the next fit, a member is copied from ``fitted`` when a model there has the same name
        and parameters as the member would get and was fitted (not merely updated) on exactly the
        same prices; other members are fitted as usual. The result is identical to a plain fit, only
        faster (``walk_forward`` fits the standalone models first at each origin). The offer is
        used by one fit only.

        Args:
            fitted: fitted models (others are ignored).

        Returns:
            ``self``.

        Usage::

            >>> arima = make_model("arima").fit(y)
            >>> Ensemble().reuse_members([arima]).fit(y).n_reused_
            1
        """
        self._offered = [m for m in fitted if isinstance(m, ForecastModel)
                         and hasattr(m, "series_")]
        return self

    def _reusable(self, member: ForecastModel, series: PreparedSeries) -> ForecastModel | None:
        """A copy of an offered model equivalent to ``member`` fitted on ``series``, or None."""
        wanted = member.get_params(deep=False)
        for model in getattr(self, "_offered", ()):
            if model.name != member.name or model.get_params(deep=False) != wanted:
                continue
            mine = model.series_
            if getattr(model, "fit_series_", None) is not mine:
                continue  # updated since its fit: its parameters are not a fit on these prices
            if (len(mine) == len(series) and mine.index.equals(series.index)
                    and np.array_equal(mine.log_values, series.log_values, equal_nan=True)):
                # a shallow copy: updates rebind the copy's state, never the original's
                return copy.copy(model)
        return None

    def _fit(self, series: PreparedSeries) -> None:
        fitted: list[ForecastModel] = []
        reused = 0
        for name in _check_members("members", self.members):
            model = _make(name, self.calibration_window, self.vol_halflife)
            copied = self._reusable(model, series)
            if copied is not None:
                fitted.append(copied)
                reused += 1
                continue
            try:
                fitted.append(model._fit_prepared(series))
            except InsufficientDataError:
                continue
        self._offered = []
        self.n_reused_ = reused
        if not fitted:
            fitted.append(_make("random_walk", self.calibration_window, self.vol_halflife)
                          ._fit_prepared(series))
        self.members_ = fitted

    def _refilter(self, series: PreparedSeries) -> None:
        for model in self.members_:
            _refresh(model, series)

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        stacked = np.stack([m._paths(origins, horizon) for m in self.members_])
        if self.combine == "median":
            return np.median(stacked, axis=0)
        return stacked.mean(axis=0)

    def _info(self) -> dict[str, Any]:
        return {"members": [m.name for m in self.members_], "combine": self.combine}


class Auto(ForecastModel):
    """Per forecast step, the candidate with the best validation score before the origin.

    Validation (inside the training data only): each candidate is fitted on the data up to
    ``validation_window`` trading days before the origin, then — with those parameters frozen —
    forecasts from every origin of the last ``validation_window`` days, steps
    ``1..validation_steps``. Its score per step is its MAE in prices divided by the random walk's
    MAE on the same origins (validation rMAE, smoothed over neighbouring steps). For each step the
    best candidate is used if its score is below ``1 - margin``; otherwise ``random_walk``. The
    candidate ``ensemble`` (mean of random walk and all candidates) is included when
    ``include_ensemble``. Steps beyond ``validation_steps`` use the last step's choice.

    Args:
        candidates: model names to choose from besides ``random_walk``.
        include_ensemble: also consider the mean of all candidates and the random walk.
        validation_window: number of validation origins (trading days) before the origin.
        validation_steps: number of validated steps.
        margin: how much better than the random walk (relative MAE) a candidate must be.
        smooth: half-width (steps) of the moving average applied to the scores.
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale.

    Fitted attributes: ``members_`` (name -> fitted model), ``choice_`` (name per step),
    ``scores_`` (name -> validation rMAE per step), ``n_validation_``.
    """

    name = "auto"
    _supports_refilter = True

    def __init__(
        self,
        candidates: Sequence[str] = ("drift", "arima", "ets", "theta", "gbm"),
        include_ensemble: bool = True,
        validation_window: int = 250,
        validation_steps: int = 30,
        margin: float = 0.2,
        smooth: int = 2,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.candidates = candidates
        self.include_ensemble = include_ensemble
        self.validation_window = validation_window
        self.validation_steps = validation_steps
        self.margin = margin
        self.smooth = smooth
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_members("candidates", self.candidates, allow_empty=True)
        if not isinstance(self.include_ensemble, bool):
            raise InvalidParameterError(
                f"include_ensemble must be True or False, got {self.include_ensemble!r}"
            )
        check_int("validation_window", self.validation_window, 10, 10_000)
        check_int("validation_steps", self.validation_steps, 1, 250)
        check_number("margin", self.margin, 0.0, 1.0)
        check_int("smooth", self.smooth, 0, 50)

    def _fit(self, series: PreparedSeries) -> None:
        n = len(series)
        window = int(min(self.validation_window, n - 1 - MIN_VALIDATION_TRAIN))
        members: dict[str, ForecastModel] = {}
        if window < MIN_VALIDATION_ORIGINS:
            # too little data to validate anything: the random walk, fitted on everything
            rw = _make("random_walk", self.calibration_window, self.vol_halflife)
            self.members_ = {"random_walk": rw._fit_prepared(series)}
            self.choice_ = ["random_walk"] * int(self.validation_steps)
            self.scores_ = {"random_walk": np.ones(int(self.validation_steps))}
            self.n_validation_ = 0
            return
        cut = n - 1 - window
        train = series.head(cut + 1)
        for name in ("random_walk", *_check_members("candidates", self.candidates, True)):
            model = _make(name, self.calibration_window, self.vol_halflife)
            try:
                model._fit_prepared(train)
            except InsufficientDataError:
                continue
            members[name] = _refresh(model, series)
        steps = int(self.validation_steps)
        origins = np.arange(cut, n - 1)
        paths = {name: m._paths(origins, steps) for name, m in members.items()}
        if self.include_ensemble and len(members) > 1:
            paths["ensemble"] = np.mean(np.stack(list(paths.values())), axis=0)
        y = series.log_values
        step_idx = np.arange(1, steps + 1)
        target = origins[:, None] + step_idx[None, :]
        inside = target < n
        actual = np.where(inside, np.exp(y[np.minimum(target, n - 1)]), np.nan)
        base = np.exp(y[origins])[:, None]
        counts = inside.sum(axis=0)

        def mae(pred: np.ndarray) -> np.ndarray:
            err = np.where(inside, np.abs(actual - pred), 0.0)
            return err.sum(axis=0) / np.maximum(counts, 1)

        rw_mae = mae(np.broadcast_to(base, actual.shape))
        usable = (counts > 0) & (rw_mae > 0)
        scores: dict[str, np.ndarray] = {}
        for name, path in paths.items():
            rel = np.ones(steps)
            rel[usable] = mae(base * np.exp(path))[usable] / rw_mae[usable]
            rel = np.where(np.isfinite(rel), rel, np.inf)
            scores[name] = self._smoothed(rel)
        choice: list[str] = []
        for h in range(steps):
            best = min(scores, key=lambda k: scores[k][h])
            ok = best != "random_walk" and scores[best][h] < 1.0 - self.margin
            choice.append(best if ok else "random_walk")
        self.members_ = members
        self.choice_ = choice
        self.scores_ = scores
        self.n_validation_ = len(origins)

    def _smoothed(self, rel: np.ndarray) -> np.ndarray:
        k = int(self.smooth)
        if k == 0 or len(rel) < 2:
            return rel
        finite = np.where(np.isfinite(rel), rel, 10.0)
        out = np.empty_like(finite)
        for h in range(len(finite)):
            out[h] = finite[max(0, h - k): h + k + 1].mean()
        return out

    def _refilter(self, series: PreparedSeries) -> None:
        for model in self.members_.values():
            _refresh(model, series)

    def _member_paths(self, name: str, origins: np.ndarray, horizon: int) -> np.ndarray:
        if name == "ensemble":
            return np.mean(
                np.stack([m._paths(origins, horizon) for m in self.members_.values()]), axis=0
            )
        return self.members_[name]._paths(origins, horizon)

    def choice_for(self, horizon: int) -> list[str]:
        """The model used at each step ``1..horizon``."""
        last = self.choice_[-1]
        return [self.choice_[h] if h < len(self.choice_) else last for h in range(horizon)]

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        choice = self.choice_for(horizon)
        out = np.zeros((len(origins), horizon))
        for name in dict.fromkeys(choice):
            cols = [h for h, c in enumerate(choice) if c == name]
            out[:, cols] = self._member_paths(name, origins, horizon)[:, cols]
        return out

    def _info(self) -> dict[str, Any]:
        return {"chosen_by_step": self.choice_, "n_validation_origins": self.n_validation_}

    def predict(self, horizon: int = 7, levels: Sequence[int] = (80, 95)):  # type: ignore[override]
        """As :meth:`ForecastModel.predict`; ``info`` explains the choice for this horizon.

        ``info["chosen"]`` is the model used for most of the steps ``1..horizon``,
        ``info["chosen_by_step"]`` the model per step and ``info["reason"]`` a sentence with the
        validation scores (rMAE against the random walk, lower is better).
        """
        forecast = super().predict(horizon, levels)
        choice = self.choice_for(forecast.horizon)
        counts = {name: choice.count(name) for name in dict.fromkeys(choice)}
        chosen = max(counts, key=lambda k: counts[k])
        last = min(forecast.horizon, len(self.choice_)) - 1
        ranked = sorted(self.scores_, key=lambda k: self.scores_[k][last])
        score_text = ", ".join(f"{k} {self.scores_[k][last]:.3f}" for k in ranked)
        if self.n_validation_ == 0:
            reason = (
                f"too little data to validate candidates ({len(self.series_)} prices); "
                "using the random walk"
            )
        elif set(choice) == {"random_walk"}:
            reason = (
                f"no candidate beat the random walk by {self.margin:.0%} on the last "
                f"{self.n_validation_} trading days (validation rMAE at step {last + 1}: "
                f"{score_text})"
            )
        else:
            reason = (
                f"best validation rMAE over the last {self.n_validation_} trading days "
                f"(step {last + 1}: {score_text}); steps per model: "
                + ", ".join(f"{k} {v}" for k, v in counts.items())
            )
        info = dict(forecast.info)
        info.update(
            {
                "chosen": chosen,
                "chosen_by_step": choice,
                "reason": reason,
                "scores": {k: [round(float(x), 4) for x in v] for k, v in self.scores_.items()},
            }
        )
        return type(forecast)(
            commodity=forecast.commodity, model=forecast.model, origin=forecast.origin,
            dates=forecast.dates, mean=forecast.mean, lower=forecast.lower, upper=forecast.upper,
            levels=forecast.levels, info=info,
        )
