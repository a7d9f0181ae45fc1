"""Model registry rows in a real SQLite store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import text

from energy_nb.data.store import PriceStore
from energy_nb.evaluation import walk_forward
from energy_nb.service.registry import ModelRegistry, RegistryError, library_versions


def test_record_get_and_list_filters(store: PriceStore) -> None:
    registry = ModelRegistry(store)
    a = registry.record("drift", "wti", params={"window": 10}, train_start="2023-01-02",
                        train_end="2023-12-29", data_version="WTI@1",
                        metrics={"kind": "fit", "fit_seconds": 0.1})
    b = registry.record("random_walk", "NG", params={}, metrics={"kind": "fit"})
    c = registry.record("drift", "NG", params={}, metrics={"kind": "walk_forward", "mae": 1.5})
    run = registry.get(a)
    assert (run.name, run.commodity, run.params, run.train_start, run.train_end,
            run.data_version, run.kind) == ("drift", "WTI", {"window": 10}, "2023-01-02",
                                            "2023-12-29", "WTI@1", "fit")
    assert run.versions == library_versions()
    assert set(run.versions) == {"energy_nb", "pandas", "numpy", "statsmodels", "scikit-learn"}
    assert run.created_at.startswith("20")
    assert [r.id for r in registry.list()] == [c, b, a]
    assert [r.id for r in registry.list(commodity="ng")] == [c, b]
    assert [r.id for r in registry.list(name="drift")] == [c, a]
    assert [r.id for r in registry.list(kind="walk_forward")] == [c]
    assert [r.id for r in registry.list(limit=1)] == [c]
    with pytest.raises(RegistryError, match="no model run with id 999"):
        registry.get(999)
    with pytest.raises(RegistryError, match="kind"):
        registry.list(kind="nonsense")


def test_reuse_returns_an_identical_fit_but_not_a_different_one(store: PriceStore) -> None:
    registry = ModelRegistry(store)
    args = {"params": {"p": 1}, "train_start": "2023-01-02", "train_end": "2023-06-30",
            "data_version": "WTI@1", "metrics": {"kind": "fit"}}
    first = registry.record("drift", "WTI", reuse=True, **args)
    assert registry.record("drift", "WTI", reuse=True, **args) == first
    args["data_version"] = "WTI@2"
    assert registry.record("drift", "WTI", reuse=True, **args) != first


def test_record_evaluation_stores_per_step_metrics(store: PriceStore) -> None:
    series = store.load("WTI")
    result = walk_forward(series, ["drift"], start=series.index[200], horizon=4, step=20,
                          progress=False)
    ids = ModelRegistry(store).record_evaluation(result, series, store.data_version("WTI"))
    assert set(ids) == {"random_walk", "drift"}
    run = ModelRegistry(store).get(ids["drift"])
    assert run.kind == "walk_forward" and run.commodity == "WTI"
    assert run.train_start == "2023-01-02"
    assert run.train_end == result.origins[-1].strftime("%Y-%m-%d")
    assert run.metrics["origins"] == [d.strftime("%Y-%m-%d") for d in result.origins]
    frame = run.step_metrics()
    assert list(frame.index) == [1, 2, 3, 4]
    assert frame.loc[2, "mae"] == pytest.approx(result.metrics.loc[("drift", 2), "mae"])
    assert frame.loc[1, "rmae"] == pytest.approx(result.metrics.loc[("drift", 1), "rmae"])
    per_origin = run.origin_metrics()
    expected = result.by_origin("drift").drop(columns="n")
    assert list(per_origin.index) == list(result.origins)
    pd.testing.assert_frame_equal(per_origin, expected, check_names=False, check_freq=False)
    latest = ModelRegistry(store).latest_evaluations("WTI")
    assert latest["drift"].id == ids["drift"]
    with store.read() as conn:
        raw = conn.execute(text("SELECT metrics_json FROM model_runs WHERE id = :id"),
                           {"id": ids["random_walk"]}).scalar()
    assert json.loads(raw)["steps"]["1"]["rmae"] == pytest.approx(1.0)
