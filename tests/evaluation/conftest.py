"""Fixtures for the evaluation tests: a real store (SQLite and PostgreSQL) with small synthetic
series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries


def synthetic_prices(n: int, seed: int, start: str = "2023-01-02",
                     level: float = 70.0) -> pd.Series:
    """A geometric random walk on business days."""
    rng = np.random.default_rng(seed)
    values = level * np.exp(np.cumsum(rng.normal(0.0003, 0.02, n)))
    return pd.Series(np.round(values, 2), index=pd.bdate_range(start, periods=n, name="date"))


def import_prices(store: PriceStore, code: str, prices: pd.Series, replace: bool = False) -> None:
    """Import a Series into the store as one source."""
    store.import_series(
        PriceSeries(
            commodity=code,
            source=f"synthetic-{code}",
            dates=[d.date() for d in prices.index],
            prices=[None if np.isnan(v) else float(v) for v in prices],
            lines=list(range(2, len(prices) + 2)),
        ),
        replace=replace,
    )


@pytest.fixture()
def store(store_url: str) -> PriceStore:
    """A store with 300 synthetic WTI and NG prices (2023-01-02 onward), on each backend."""
    st = PriceStore(store_url)
    import_prices(st, "WTI", synthetic_prices(300, seed=1))
    import_prices(st, "NG", synthetic_prices(300, seed=2, level=3.0))
    return st
