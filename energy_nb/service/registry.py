"""The model registry: every evaluated or fitted model, recorded in the store's ``model_runs``.

A run records the model name, its constructor parameters, the commodity, the training window,
the data version, when it was created, the library versions, and its metrics. ``metrics`` always
holds a ``"kind"``: ``"fit"`` for a model fitted to make a forecast (with ``fit_seconds``) or
``"walk_forward"`` for an evaluation (settings, origins and per-step metrics; see
:meth:`ModelRegistry.record_evaluation`).

Usage::

    from energy_nb.service.registry import ModelRegistry
    registry = ModelRegistry(store)
    run_id = registry.record("drift", "WTI", params={}, train_start="2020-01-02",
                             train_end="2025-06-30", data_version="WTI@3",
                             metrics={"kind": "fit"})
    registry.list(commodity="WTI")[0].name
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_nb.commodities import get_commodity
from energy_nb.data.repositories import ModelRunRepository

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore
    from energy_nb.evaluation import WalkForwardResult

#: Libraries whose versions every run records.
TRACKED_LIBRARIES: tuple[str, ...] = ("energy_nb", "pandas", "numpy", "statsmodels",
                                      "scikit-learn")


class RegistryError(LookupError):
    """Raised when a model run does not exist or a filter is invalid."""


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that shape a model's results.

    Returns:
        ``{"energy_nb": "0.2.0", "pandas": "2.3.3", ...}`` (``"not installed"`` when missing).
    """
    return dict(_library_versions())


@lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in TRACKED_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class ModelRun:
    """One row of ``model_runs``.

    Attributes:
        id: row id.
        name: model name (``make_model`` key).
        commodity: commodity code.
        params: constructor parameters.
        train_start: first training date (ISO) or ``None``.
        train_end: last training date, i.e. the origin (ISO) or ``None``.
        data_version: the store's data version of the commodity at the time.
        created_at: ISO timestamp (UTC).
        versions: library versions.
        metrics: ``{"kind": "fit" | "walk_forward", ...}``.
    """

    id: int
    name: str
    commodity: str
    params: dict[str, Any]
    train_start: str | None
    train_end: str | None
    data_version: str | None
    created_at: str
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"fit"``, ``"walk_forward"`` or ``""`` when unknown."""
        return str(self.metrics.get("kind", ""))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field plus ``kind``."""
        return {
            "id": self.id,
            "name": self.name,
            "commodity": self.commodity,
            "kind": self.kind,
            "params": self.params,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "data_version": self.data_version,
            "created_at": self.created_at,
            "versions": self.versions,
            "metrics": self.metrics,
        }

    def step_metrics(self) -> pd.DataFrame:
        """Per-step metrics of a walk-forward run as a DataFrame indexed by ``step``.

        Returns:
            One row per step, one column per metric (empty for fit runs).
        """
        steps = self.metrics.get("steps") or {}
        if not steps:
            return pd.DataFrame(index=pd.Index([], name="step"))
        frame = pd.DataFrame.from_dict(steps, orient="index").astype(float)
        frame.index = frame.index.astype(int)
        frame.index.name = "step"
        return frame.sort_index()

    def origin_metrics(self) -> pd.DataFrame:
        """Per-origin metrics of a walk-forward run as a DataFrame indexed by ``origin``.

        Returns:
            One row per origin (dates), columns ``mae`` and ``coverage_<L>`` (see
            :meth:`WalkForwardResult.by_origin`); empty for fit runs and for runs recorded
            before per-origin metrics existed (energy_nb < 0.2).
        """
        by_origin = self.metrics.get("by_origin") or {}
        origins = self.metrics.get("origins") or []
        if not by_origin or not origins:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="origin"))
        frame = pd.DataFrame({k: pd.to_numeric(pd.Series(v, dtype=object), errors="coerce")
                              for k, v in by_origin.items()})
        frame.index = pd.DatetimeIndex(pd.to_datetime(origins[: len(frame)]), name="origin")
        levels = sorted(int(c.split("_", 1)[1]) for c in frame.columns
                        if c.startswith("coverage_"))
        order = [c for c in ["mae", *(f"coverage_{lv}" for lv in levels)] if c in frame.columns]
        return frame[order + [c for c in frame.columns if c not in order]].astype(float)


class ModelRegistry:
    """Record, list and read model runs in a :class:`~energy_nb.data.store.PriceStore`.

    Args:
        store: the store whose ``model_runs`` table to use.
    """

    def __init__(self, store: PriceStore) -> None:
        self.store = store
        self._runs = ModelRunRepository(store)

    def record(
        self,
        name: str,
        commodity: str,
        params: dict[str, Any] | None = None,
        train_start: Any = None,
        train_end: Any = None,
        data_version: str | None = None,
        metrics: dict[str, Any] | None = None,
        *,
        reuse: bool = False,
    ) -> int:
        """Insert a run (or, with ``reuse``, return an identical earlier run's id).

        Args:
            name: model name.
            commodity: commodity code, case-insensitive.
            params: constructor parameters (JSON-safe after conversion).
            train_start: first training date.
            train_end: last training date (the origin).
            data_version: the store's data version the model was trained on.
            metrics: ``{"kind": ..., ...}``.
            reuse: if a run with the same name, commodity, parameters, training window, data
                version and kind exists, return its id instead of inserting (used for fits, which
                are deterministic given these inputs).

        Returns:
            The run id.
        """
        code = get_commodity(commodity).code
        params_json = _dumps(params or {})
        metrics = dict(metrics or {})
        start, end = _iso_date(train_start), _iso_date(train_end)
        return self._runs.insert(
            reuse=reuse, reuse_kind=metrics.get("kind"), name=name, commodity=code,
            params_json=params_json, train_start=start, train_end=end, data_version=data_version,
            created_at=_now(), versions_json=_dumps(library_versions()),
            metrics_json=_dumps(metrics))

    def record_evaluation(
        self, result: WalkForwardResult, series: pd.Series, data_version: str | None
    ) -> dict[str, int]:
        """Record one ``walk_forward`` run per evaluated model.

        Args:
            result: the evaluation result.
            series: the series evaluated (its first date is the training start).
            data_version: the store's data version of that series.

        Returns:
            ``{model name: run id}``.
        """
        summary = result.to_dict()
        commodity = result.commodity or str(series.name)
        ids: dict[str, int] = {}
        settings = {k: summary[k] for k in ("horizon", "levels", "start", "end", "step",
                                            "refit_every", "n_origins", "origins")}
        for name, entry in summary["models"].items():
            steps = entry["steps"]
            overall = {}
            for metric in next(iter(steps.values()), {}):
                values = [s[metric] for s in steps.values() if s[metric] is not None]
                overall[metric] = float(np.mean(values)) if values else None
            metrics = {
                "kind": "walk_forward",
                **settings,
                "seconds": entry["seconds"],
                "fits": entry["fits"],
                "failures": entry["failures"],
                "mean_over_steps": overall,
                "steps": steps,
                "by_origin": entry.get("by_origin", {}),
            }
            ids[name] = self.record(
                name, commodity, params=entry["params"], train_start=series.index[0],
                train_end=result.origins[-1], data_version=data_version, metrics=metrics,
            )
        return ids

    def list(
        self,
        commodity: str | None = None,
        name: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[ModelRun]:
        """Runs, newest first, optionally filtered.

        Args:
            commodity: only this commodity (case-insensitive).
            name: only this model name.
            kind: only ``"fit"`` or ``"walk_forward"`` runs.
            limit: at most this many.

        Returns:
            The runs.

        Raises:
            RegistryError: on an invalid ``kind`` or ``limit``.
        """
        if commodity is not None:
            commodity = get_commodity(commodity).code
        if kind is not None and kind not in ("fit", "walk_forward"):
            raise RegistryError(f"kind must be 'fit' or 'walk_forward', got {kind!r}")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise RegistryError(f"limit must be a positive integer, got {limit!r}")
        rows = self._runs.list(commodity=commodity, name=name, kind=kind, limit=limit)
        return [_row_to_run(r) for r in rows]

    def get(self, run_id: int) -> ModelRun:
        """One run by id.

        Args:
            run_id: the id.

        Returns:
            The run.

        Raises:
            RegistryError: no such run.
        """
        row = self._runs.get(int(run_id))
        if row is None:
            raise RegistryError(f"no model run with id {run_id}")
        return _row_to_run(row)

    def latest_evaluations(self, commodity: str) -> dict[str, ModelRun]:
        """The newest walk-forward run of each model for a commodity.

        Args:
            commodity: commodity code.

        Returns:
            ``{model name: run}``.
        """
        out: dict[str, ModelRun] = {}
        for run in self.list(commodity=commodity, kind="walk_forward"):
            out.setdefault(run.name, run)
        return out


def _row_to_run(row: tuple) -> ModelRun:
    return ModelRun(
        id=int(row[0]),
        name=row[1],
        commodity=row[2],
        params=json.loads(row[3] or "{}"),
        train_start=row[4],
        train_end=row[5],
        data_version=row[6],
        created_at=row[7],
        versions=json.loads(row[8] or "{}"),
        metrics=json.loads(row[9] or "{}"),
    )


def _iso_date(value: Any) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, allow_nan=False)
