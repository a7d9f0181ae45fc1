"""No look-ahead: nothing after the origin may change a forecast."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from model_series import make_prices

from energy_nb.models import MODEL_NAMES, make_model
from energy_nb.models.transforms import prepare_series


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_prices_after_origin_do_not_change_forecast(name: str) -> None:
    a = make_prices(n=520, seed=11)
    b = a.copy()
    origin = 480
    rng = np.random.default_rng(5)
    b.iloc[origin:] = b.iloc[origin:] * np.exp(rng.normal(0.0, 0.3, len(b) - origin))
    fc_a = make_model(name).fit(a.iloc[:origin]).predict(horizon=10)
    fc_b = make_model(name).fit(b.iloc[:origin]).predict(horizon=10)
    np.testing.assert_array_equal(fc_a.mean, fc_b.mean)
    for level in fc_a.levels:
        np.testing.assert_array_equal(fc_a.lower[level], fc_b.lower[level])
        np.testing.assert_array_equal(fc_a.upper[level], fc_b.upper[level])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_past_origin_paths_use_only_data_up_to_that_origin(name: str) -> None:
    """The rolling-origin paths behind the intervals and auto's validation are causal."""
    y = make_prices(n=520, seed=12)
    model = make_model(name).fit(y)
    cut = 450
    changed = y.copy()
    changed.iloc[cut + 1:] *= np.exp(np.linspace(0.0, 1.0, len(y) - cut - 1))
    other = copy.deepcopy(model)
    series = prepare_series(changed)
    other._set_series(series)
    other._refilter(series)
    origins = np.arange(300, cut + 1)
    np.testing.assert_allclose(
        model._paths(origins, 12), other._paths(origins, 12), rtol=0, atol=1e-12
    )
