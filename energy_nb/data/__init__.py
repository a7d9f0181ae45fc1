"""Data layer: reading sources, validating them, and the store (SQLite or PostgreSQL) with the
repositories that hold all of energy_nb's SQL.

Usage::

    from energy_nb.data import PriceStore, read_price_csv
    store = PriceStore.from_settings()      # ENERGY_NB_DATABASE_URL, else the SQLite file
    store.import_series(read_price_csv("wti-daily.csv", commodity="WTI"))
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each name of the package is defined. They are imported on first use (PEP 562), so
#: importing a light submodule (e.g. :mod:`energy_nb.data.errors`) does not load the store,
#: SQLAlchemy and pandas.
_EXPORTS = {
    "DataFileError": "energy_nb.data.validation",
    "ImportReport": "energy_nb.data.store",
    "PriceSeries": "energy_nb.data.validation",
    "PriceStore": "energy_nb.data.store",
    "StoreDamagedError": "energy_nb.data.errors",
    "StoreError": "energy_nb.data.errors",
    "StoreMissingError": "energy_nb.data.errors",
    "StoreVersionError": "energy_nb.data.errors",
    "read_price_csv": "energy_nb.data.validation",
}

__all__ = [
    "DataFileError",
    "ImportReport",
    "PriceSeries",
    "PriceStore",
    "StoreDamagedError",
    "StoreError",
    "StoreMissingError",
    "StoreVersionError",
    "read_price_csv",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
