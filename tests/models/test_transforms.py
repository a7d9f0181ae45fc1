"""The input policy: NaN, non-positive prices and malformed series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_series import make_prices

from energy_nb.models import InsufficientDataError, ModelInputError, make_model
from energy_nb.models.transforms import prepare_series


def test_nan_and_nonpositive_are_carried_forward() -> None:
    y = make_prices(n=60)
    y.iloc[0] = np.nan  # leading: dropped
    y.iloc[10] = np.nan
    y.iloc[20] = -5.0
    y.iloc[21] = 0.0
    prepared = prepare_series(y)
    assert len(prepared) == 59 and prepared.index[0] == y.index[1]
    assert prepared.filled_missing == 1 and prepared.replaced_nonpositive == 2
    assert prepared.prices[9] == y.iloc[9]
    assert prepared.prices[19] == prepared.prices[18] == y.iloc[19]
    assert np.isfinite(prepared.log_values).all()


@pytest.mark.parametrize("name", ["random_walk", "drift"])
def test_trailing_nonpositive_price_forecasts_from_last_positive(name: str) -> None:
    y = make_prices(n=80)
    y.iloc[-1] = -36.98
    fc = make_model(name).fit(y).predict(horizon=3)
    assert fc.origin == y.index[-1]
    assert np.isfinite(fc.mean).all() and (fc.mean > 0).all()
    assert fc.info["replaced_nonpositive"] == 1


def test_malformed_series_errors() -> None:
    model = make_model("random_walk")
    with pytest.raises(ModelInputError, match="pandas Series"):
        model.fit([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ModelInputError, match="DatetimeIndex"):
        model.fit(pd.Series(np.arange(1.0, 50.0)))
    y = make_prices(n=50)
    with pytest.raises(ModelInputError, match="sorted"):
        model.fit(y.iloc[::-1])
    with pytest.raises(ModelInputError, match="duplicate"):
        model.fit(pd.concat([y, y.iloc[-1:]]))
    with pytest.raises(ModelInputError, match="numeric"):
        model.fit(y.astype(str).str.cat(["x"] * len(y)))
    with pytest.raises(InsufficientDataError, match="at least"):
        model.fit(y.iloc[:10])
    all_nan = y.copy()
    all_nan[:] = np.nan
    with pytest.raises(InsufficientDataError):
        model.fit(all_nan)
