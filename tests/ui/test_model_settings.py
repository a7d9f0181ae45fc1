"""The Backtest page's "Model settings": typed controls generated from each model's constructor."""

from __future__ import annotations

import inspect

import ipywidgets as widgets
import pytest

from energy_nb.models import MODEL_NAMES, model_class
from energy_nb.ui.glossary import MODEL_PARAM_LABELS
from energy_nb.ui.model_settings import ModelSettings, ModelSettingsError, model_param_help


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_setting_has_a_typed_control_a_plain_label_and_help(model):
    box = ModelSettings(model)
    params = [p for p in inspect.signature(model_class(model).__init__).parameters if p != "self"]
    assert list(box.controls) == params
    helps = model_param_help(model)
    for name, control in box.controls.items():
        # a plain label for every setting (a new constructor parameter needs one too)
        assert name in MODEL_PARAM_LABELS, name
        assert control.description == MODEL_PARAM_LABELS[name]
        assert control.tooltip == helps[name] and "`" not in control.tooltip
        assert not isinstance(control, widgets.Textarea)
    assert box.value == {} and box.read() == {}  # the defaults are not stored


def test_settings_are_checked_by_the_model_and_named_by_label():
    box = ModelSettings("gbm")
    box.controls["max_steps"].value = 0
    with pytest.raises(ModelSettingsError, match=r"“Directly modelled steps” \(max_steps\)"):
        box.read("forecast")
    box.controls["max_steps"].value = 10
    box.controls["estimator"].value = "gradient boosting"
    assert box.read() == {"max_steps": 10, "estimator": "hgb"}
    box.reset()
    assert box.read() == {}

    ensemble = ModelSettings("ensemble")
    ensemble.controls["members"].value = ()
    with pytest.raises(ModelSettingsError, match="Member models"):
        ensemble.read()
    assert "auto" not in ensemble.controls["members"].options
