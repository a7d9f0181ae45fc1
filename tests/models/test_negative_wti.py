"""Every model on the real negative-WTI window (2020-04-20: -36.98 USD/bbl) and NG's gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_nb.models import MODEL_NAMES, make_model

ORIGINS = ["2020-04-20", "2020-04-21", "2020-04-22", "2020-04-24", "2020-04-28", "2020-05-01"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_finite_on_negative_wti_window(name: str, wti: pd.Series) -> None:
    assert wti.loc["2020-04-20"] < 0
    history = wti.loc["2016-01-01":]
    for origin in ORIGINS:
        fc = make_model(name).fit(history.loc[:origin]).predict(horizon=30)
        assert fc.origin == pd.Timestamp(origin)
        assert np.isfinite(fc.mean).all() and (fc.mean > 0).all(), origin
        for level in fc.levels:
            assert np.isfinite(fc.lower[level]).all() and np.isfinite(fc.upper[level]).all()
            assert (fc.lower[level] > 0).all()
        assert fc.info["replaced_nonpositive"] == 1
        # bands stay usable (no exploding volatility from the -36.98 print): < factor 2000
        assert (fc.upper[95] / fc.lower[95]).max() < 2000


@pytest.mark.parametrize("name", ["random_walk", "theta", "auto"])
def test_ng_missing_price_is_filled(name: str, ng: pd.Series) -> None:
    assert np.isnan(ng.loc["2018-01-05"])
    fc = make_model(name).fit(ng.loc["2014-01-01":"2018-01-05"]).predict(horizon=5)
    assert fc.origin == pd.Timestamp("2018-01-05")
    assert np.isfinite(fc.mean).all()
    assert fc.info["filled_missing"] >= 1
