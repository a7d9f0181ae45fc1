"""Data layer: reading sources, validating them, and the store (SQLite or PostgreSQL) with the
repositories that hold all of energy_nb's SQL.

Usage::

    from energy_nb.data import PriceStore, read_price_csv
    store = PriceStore.from_settings()      # ENERGY_NB_DATABASE_URL, else the SQLite file
    store.import_series(read_price_csv("wti-daily.csv", commodity="WTI"))
"""

from energy_nb.data.store import (
    ImportReport,
    PriceStore,
    StoreDamagedError,
    StoreError,
    StoreMissingError,
    StoreVersionError,
)
from energy_nb.data.validation import DataFileError, PriceSeries, read_price_csv

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
