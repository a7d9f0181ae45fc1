"""ForecastService on a real SQLite store: cache, records, reproduction, actuals, validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text, update

from energy_nb.data.schema import forecasts
from energy_nb.data.store import PriceStore
from energy_nb.service.forecasting import (
    ForecastRequestError,
    ForecastService,
    compare_with_actuals,
)
from energy_nb.service.registry import ModelRegistry

from .conftest import import_prices, synthetic_prices


def test_new_horizon_and_levels_reuse_the_fitted_model(store: PriceStore) -> None:
    service = ForecastService(store)
    first = service.forecast("WTI", "drift", horizon=7, levels=(80, 95))
    assert not first.cached
    assert service.cache_stats().fits == 1
    second = service.forecast("wti", "drift", horizon=30, levels=(50, 90))
    third = service.forecast("WTI", "drift", horizon=3, levels=(80,))
    stats = service.cache_stats()
    assert (stats.fits, stats.hits, stats.misses) == (1, 2, 1)
    assert second.cached and third.cached and second.fit_seconds == 0.0
    assert second.forecast.horizon == 30 and second.forecast.levels == (50, 90)
    # same fitted state: the first 3 steps agree whatever the horizon
    np.testing.assert_allclose(third.forecast.mean, first.forecast.mean[:3])
    # another origin or model is a new fit
    service.forecast("WTI", "drift", origin="2023-06-01", horizon=5)
    service.forecast("WTI", "random_walk", horizon=5)
    assert service.cache_stats().fits == 3


def test_lru_drops_the_least_recently_used(store: PriceStore) -> None:
    service = ForecastService(store, cache_size=2)
    for origin in ("2023-05-01", "2023-06-01", "2023-05-01", "2023-07-03"):
        service.forecast("WTI", "random_walk", origin=origin, horizon=2, record=False)
    assert service.cache_stats().size == 2
    assert service.cache_stats().fits == 3  # 05-01 was reused before 07-03 evicted 06-01
    service.forecast("WTI", "random_walk", origin="2023-05-01", horizon=2, record=False)
    assert service.cache_stats().fits == 3
    service.forecast("WTI", "random_walk", origin="2023-06-01", horizon=2, record=False)
    assert service.cache_stats().fits == 4


def test_changed_prices_change_the_data_version_and_refit(store: PriceStore) -> None:
    service = ForecastService(store)
    before = service.forecast("WTI", "random_walk", horizon=5)
    last = store.load("WTI").index[-1]
    more = synthetic_prices(5, seed=9, start=str((last + pd.offsets.BDay(1)).date()))
    import_prices(store, "WTI", more)
    after = service.forecast("WTI", "random_walk", horizon=5)
    assert after.data_version != before.data_version
    assert not after.cached and service.cache_stats().fits == 2
    assert after.origin == more.index[-1]
    assert after.forecast.mean[0] == pytest.approx(more.iloc[-1])


def test_forecast_is_recorded_with_inputs_and_reproducible(store: PriceStore) -> None:
    service = ForecastService(store)
    run = service.forecast("NG", "drift", origin="2023-09-15", horizon=10, levels=(80, 95))
    assert run.record_id is not None
    with store.read() as conn:
        row = conn.execute(text("SELECT commodity, model, origin, horizon, levels_json, "
                                "data_version, inputs_json FROM forecasts WHERE id = :id"),
                           {"id": run.record_id}).one()
    assert row[:4] == ("NG", "drift", "2023-09-15", 10)
    assert json.loads(row[4]) == [80, 95] and row[5] == store.data_version("NG")
    inputs = json.loads(row[6])
    assert inputs["train_end"] == "2023-09-15" and inputs["train_start"] == "2023-01-02"
    assert "pandas" in inputs["versions"] and inputs["params"] == run.forecast.info["params"]
    stored = service.recorded(run.record_id)["forecast"]
    again = ForecastService(store).reproduce(run.record_id)
    np.testing.assert_allclose(again.mean, stored.mean)
    np.testing.assert_allclose(again.upper[95], stored.upper[95])
    np.testing.assert_allclose(stored.lower[80], run.forecast.lower[80])
    # a fit is in the registry, once, however often it is served
    service.forecast("NG", "drift", origin="2023-09-15", horizon=3)
    service.clear_cache()
    service.forecast("NG", "drift", origin="2023-09-15", horizon=3)
    fits = ModelRegistry(store).list(commodity="NG", kind="fit")
    assert len(fits) == 1 and fits[0].train_end == "2023-09-15"
    assert fits[0].id == run.model_run_id


def test_past_origin_returns_actuals_and_errors(store: PriceStore) -> None:
    service = ForecastService(store)
    prices = store.load("WTI")
    run = service.forecast("WTI", "random_walk", origin="2023-03-04", horizon=4, record=False)
    assert run.origin == pd.Timestamp("2023-03-03")  # Saturday -> Friday
    expected = prices.loc["2023-03-06":].iloc[:4]
    pd.testing.assert_series_equal(run.actuals, expected)
    errors = compare_with_actuals(run.forecast, run.actuals)
    np.testing.assert_allclose(errors["error"], expected.to_numpy() - prices.loc["2023-03-03"])
    assert set(errors.columns) >= {"step", "date", "actual", "mean", "abs_error", "inside_80"}
    # near the end only what exists; at the latest origin nothing
    tail = service.actuals_after("WTI", prices.index[-3], 10)
    assert list(tail.index) == list(prices.index[-2:])
    assert service.forecast("WTI", "random_walk", horizon=4).actuals.empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"commodity": "GOLD"}, "unknown commodity"),
        ({"model": "prophet"}, "unknown model"),
        ({"horizon": 31}, "between 1 and 30"),
        ({"horizon": 0}, "between 1 and 30"),
        ({"horizon": 2.5}, "integer"),
        ({"levels": (80, 100)}, "between 0 and 100"),
        ({"levels": (80.5,)}, "integer"),
        ({"origin": "2020-01-01"}, "before the first"),
        ({"origin": "2031-01-01"}, "after the last"),
        ({"origin": "31/02/2024"}, "not a valid date"),
    ],
)
def test_invalid_requests_name_the_problem(store: PriceStore, kwargs: dict, message: str) -> None:
    args = {"commodity": "WTI", "model": "drift", "horizon": 5}
    args.update(kwargs)
    with pytest.raises(ForecastRequestError, match=message):
        ForecastService(store).forecast(**args)


def test_empty_store_is_a_clear_error(tmp_path) -> None:
    service = ForecastService(PriceStore(tmp_path / "empty.sqlite"))
    with pytest.raises(ForecastRequestError, match="no BRENT prices stored"):
        service.forecast("BRENT", "drift")


def test_prices_after_a_past_origin_do_not_change_its_forecast(store: PriceStore) -> None:
    service = ForecastService(store)
    before = service.forecast("WTI", "drift", origin="2023-08-01", horizon=10, record=False)
    later = store.load("WTI").loc["2023-08-02":] * 1.5
    import_prices(store, "WTI", later, replace=True)
    after = service.forecast("WTI", "drift", origin="2023-08-01", horizon=10, record=False)
    assert after.data_version != before.data_version and not after.cached
    np.testing.assert_array_equal(after.forecast.mean, before.forecast.mean)
    np.testing.assert_array_equal(after.forecast.upper[95], before.forecast.upper[95])
    assert not np.allclose(after.actuals.to_numpy(), before.actuals.to_numpy())


def test_stored_forecast_serves_exactly_the_recorded_request(store: PriceStore) -> None:
    assert ForecastService(store).stored_forecast("WTI", "drift", horizon=5) is None
    made = ForecastService(store).forecast("WTI", "drift", horizon=5, levels=(80, 95))
    reader = ForecastService(store)
    stored = reader.stored_forecast("wti", "drift", horizon=5, levels=(95, 80))
    assert stored is not None and reader.cache_stats().fits == 0  # read, not fitted
    assert stored.record_id == made.record_id and stored.stored_at and stored.cached
    assert (stored.commodity, stored.model, stored.origin, stored.horizon, stored.levels) == (
        "WTI", "drift", made.origin, 5, (80, 95))
    np.testing.assert_array_equal(stored.forecast.mean, made.forecast.mean)
    for level in (80, 95):
        np.testing.assert_array_equal(stored.forecast.lower[level], made.forecast.lower[level])
        np.testing.assert_array_equal(stored.forecast.upper[level], made.forecast.upper[level])
    assert list(stored.forecast.dates) == list(made.forecast.dates)
    # any other request is not served from it
    assert reader.stored_forecast("WTI", "drift", horizon=6) is None
    assert reader.stored_forecast("WTI", "drift", horizon=5, levels=(80,)) is None
    assert reader.stored_forecast("WTI", "random_walk", horizon=5) is None
    assert reader.stored_forecast("WTI", "drift", origin="2023-06-01", horizon=5) is None
    other = ForecastService(store, model_params={"drift": {"window": 60}})
    assert other.stored_forecast("WTI", "drift", horizon=5) is None


def test_stored_forecast_from_a_past_origin_is_not_served_after_new_prices(
        store: PriceStore) -> None:
    """No look-ahead: a stored forecast is served only from the very prices it was made from."""
    made = ForecastService(store).forecast("WTI", "drift", origin="2023-06-01", horizon=5)
    assert ForecastService(store).stored_forecast(
        "WTI", "drift", origin="2023-06-01", horizon=5).record_id == made.record_id
    last = store.load("WTI").index[-1]
    import_prices(store, "WTI", synthetic_prices(
        3, seed=4, start=str((last + pd.offsets.BDay(1)).date())))
    assert ForecastService(store).stored_forecast(
        "WTI", "drift", origin="2023-06-01", horizon=5) is None


def _edit_inputs(store: PriceStore, record_id: int, edit) -> None:
    """Change a stored forecast's inputs (as an older or other release would have written)."""
    with store.transaction() as conn:
        inputs = json.loads(conn.execute(select(forecasts.c.inputs_json)
                                         .where(forecasts.c.id == record_id)).scalar_one())
        edit(inputs)
        conn.execute(update(forecasts).where(forecasts.c.id == record_id)
                     .values(inputs_json=json.dumps(inputs)))


def test_stored_forecast_skips_records_it_cannot_vouch_for(store: PriceStore) -> None:
    made = ForecastService(store).forecast("WTI", "drift", horizon=4)
    # an older record without the requested parameters
    _edit_inputs(store, made.record_id, lambda inputs: inputs.pop("requested_params"))
    assert ForecastService(store).stored_forecast("WTI", "drift", horizon=4) is None
    again = ForecastService(store).forecast("WTI", "drift", horizon=4)
    # other library versions may compute other numbers
    _edit_inputs(store, again.record_id,
                 lambda inputs: inputs["versions"].__setitem__("energy_nb", "0.0.1"))
    assert ForecastService(store).stored_forecast("WTI", "drift", horizon=4) is None


def test_the_training_window_is_part_of_the_cache_key(store: PriceStore) -> None:
    service = ForecastService(store)
    full = service.forecast("WTI", "drift", horizon=5, record=False)
    trimmed = service.forecast("WTI", "drift", horizon=5, record=False, max_history=40)
    assert not trimmed.cached and service.cache_stats().fits == 2  # never the full fit
    assert trimmed.max_history == 40 and full.max_history is None
    # drift's slope is the window's average change: a trimmed window forecasts other numbers
    assert not np.allclose(trimmed.forecast.mean, full.forecast.mean)
    from energy_nb.models import make_model

    alone = make_model("drift").fit(store.load("WTI").iloc[-40:]).predict(horizon=5)
    np.testing.assert_allclose(trimmed.forecast.mean, alone.mean)  # fitted on the last 40
    again = service.forecast("WTI", "drift", horizon=9, record=False, max_history=40)
    assert again.cached and service.cache_stats().fits == 2
    fitted, cached = service.fitted_model("WTI", "drift", max_history=40)
    assert cached and fitted is service.fitted_model("WTI", "drift", max_history=40)[0]
    assert service.fitted_model("WTI", "drift")[0] is not fitted


@pytest.mark.parametrize("window", [0, 1, -5, 2.5, "40", True])
def test_a_bad_training_window_is_named(store: PriceStore, window: object) -> None:
    with pytest.raises(ForecastRequestError, match="max_history"):
        ForecastService(store).forecast("WTI", "drift", horizon=5, max_history=window)


def test_a_forecast_on_a_trimmed_window_is_not_served_for_the_full_history(
        store: PriceStore) -> None:
    service = ForecastService(store)
    run = service.forecast("WTI", "drift", horizon=5, max_history=40)
    assert service.recorded(run.record_id)["inputs"]["max_history"] == 40
    assert service.stored_forecast("WTI", "drift", horizon=5) is None
    full = service.forecast("WTI", "drift", horizon=5)
    assert service.stored_forecast("WTI", "drift", horizon=5).record_id == full.record_id
