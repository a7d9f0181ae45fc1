"""Series builders for the model tests (imported by conftest and test modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make_prices(n: int = 400, seed: int = 0, start: str = "2019-01-01", name: str = "WTI",
                vol: float = 0.02, level: float = 60.0) -> pd.Series:
    """A geometric random walk on business days (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    values = level * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    index = pd.bdate_range(start, periods=n, name="date")
    return pd.Series(values, index=index, name=name, dtype=float)


def load_eia(eia_dir: Path, code: str) -> pd.Series:
    """Read one daily snapshot CSV into the store's series shape."""
    files = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
    frame = pd.read_csv(eia_dir / files[code], parse_dates=["Date"])
    series = frame.set_index("Date")["Price"].astype(float).sort_index()
    series.index.name = "date"
    series.name = code
    return series[~series.index.duplicated()]
