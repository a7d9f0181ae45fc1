"""The live server's forecasts come from the application's one forecast service and its cache."""

from __future__ import annotations

from typing import Any

import pytest

from energy_nb.service.forecasting import ForecastService
from energy_nb.live.forecasting import ModelForecaster, forecast_payload


def test_live_forecasts_use_the_forecast_service_cache(book: Any) -> None:
    live = ModelForecaster(book, model="Random-Walk", history_days=None)
    assert isinstance(live.service, ForecastService)
    short, full = live("WTI", 5), live("WTI", 30)
    stats = live.service.cache_stats()
    assert (stats.fits, stats.misses, stats.hits) == (1, 1, 1)  # one fit for every horizon
    assert full["points"][:5] == short["points"] and len(full["points"]) == 30
    # the same numbers as the service's own forecast of the same data
    run = live.service.forecast("WTI", "random_walk", horizon=30, levels=(80, 95), record=False)
    assert forecast_payload(run.forecast.to_frame(), "random_walk", run.origin, (80, 95)) == full
    day = book.add("WTI", 70.0)  # a new price is a new data version: one refit
    update = live("WTI", 7)
    assert live.fits == 2 and update["as_of"] == day.strftime("%Y-%m-%d")
    assert update["points"][0]["mean"] == 70.0
    live("BRENT", 3)
    assert live.fits == 3


def test_live_history_window_and_no_registry_writes(book: Any) -> None:
    live = ModelForecaster(book, model="drift", history_days=40)
    live("NG", 2)
    fitted, cached = live.service.fitted_model("NG", "drift", max_history=40)
    assert cached  # the same data version and window: the fit of the first call
    assert len(fitted.fit_series_) == 40  # the trailing history window only
    assert fitted.fit_series_.index[-1] == book("NG").index[-1]
    whole, cached = live.service.fitted_model("NG", "drift")  # another window: another fit
    assert not cached and len(whole.fit_series_) == len(book("NG")) and live.fits == 2
    assert live.service.registry.record("drift", "NG") is None  # nothing is recorded


def write(store: Any, days: Any, first: float) -> None:
    from energy_nb.data.validation import PriceSeries

    prices = [first + 0.5 * (i % 3) for i in range(len(days))]
    store.import_series(PriceSeries("WTI", "test", [d.date() for d in days], prices,
                                    list(range(1, len(days) + 1))))


def test_a_store_provider_reloads_only_when_the_prices_change(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from energy_nb.data.store import PriceStore
    from energy_nb.live.forecasting import StoreSeries, store_series_provider

    store = PriceStore(tmp_path / "live.sqlite")
    days = pd.bdate_range("2024-01-01", periods=80)
    write(store, days, 70.0)
    loads: list[str] = []
    read = StoreSeries.__call__

    def counting(self: StoreSeries, commodity: str) -> pd.Series:
        loads.append(commodity)
        return read(self, commodity)

    monkeypatch.setattr(StoreSeries, "__call__", counting)
    live = ModelForecaster(store_series_provider(store), model="random_walk", history_days=None)
    for horizon in (1, 5, 30):
        live("WTI", horizon)
    assert loads == ["WTI"] and live.fits == 1  # three topics: one load, one fit
    write(store, [days[-1] + pd.offsets.BDay(1)], 71.0)
    assert live("WTI", 3)["points"][0]["mean"] == 71.0
    assert loads == ["WTI", "WTI"] and live.fits == 2


def test_a_forecaster_takes_a_provider_or_a_shared_service(book: Any, tmp_path: Any) -> None:
    from energy_nb.data.store import PriceStore
    from energy_nb.service.forecasting import ForecastService

    shared = ForecastService(PriceStore(tmp_path / "s.sqlite"), model_params={"drift": {}})
    with pytest.raises(ValueError, match="not both or neither"):
        ModelForecaster(book, model="drift", service=shared)
    with pytest.raises(ValueError, match="not both or neither"):
        ModelForecaster(None, model="drift")
    with pytest.raises(ValueError, match="model_params"):
        ModelForecaster(None, model="arima", params={"max_p": 1}, service=shared)
    assert ModelForecaster(None, model="drift", service=shared).service is shared
