"""Fixtures of the service-layer tests: a real store with one recorded run to refit."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.registry import ModelRegistry

#: The recorded run's training window.
WINDOW = ("2019-01-02", "2024-12-31")


@pytest.fixture(scope="module")
def store_path(eia_dir, tmp_path_factory) -> Path:
    """A SQLite store of the real WTI prices with one recorded ``drift`` fit on ``WINDOW``."""
    path = tmp_path_factory.mktemp("service") / "energy_nb.sqlite"
    store = PriceStore(path)
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    ModelRegistry(store).record("drift", "WTI", params={"calibration_window": 200},
                                train_start=WINDOW[0], train_end=WINDOW[1],
                                data_version=store.data_version("WTI"), metrics={"kind": "fit"})
    return path


@pytest.fixture(scope="module")
def store(store_path) -> PriceStore:
    """The store of :func:`store_path`, open."""
    return PriceStore(store_path)
