"""FigureWidgets import plotly's bundle by URL when the app server serves it."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from plotly.basewidget import BaseFigureWidget

from energy_nb.viz.widget_bundle import BUNDLE_ENV, loader_source, use_served_bundle


@pytest.fixture
def restore_esm():
    original = BaseFigureWidget.__dict__["_esm"]
    yield
    BaseFigureWidget._esm = original


def test_unset_variable_changes_nothing(restore_esm):
    before = BaseFigureWidget.__dict__["_esm"]
    assert use_served_bundle({}) is False
    assert BaseFigureWidget.__dict__["_esm"] is before
    assert len(go.FigureWidget()._esm) > 1_000_000  # the whole bundle travels with the widget


def test_served_bundle_replaces_5_mb_by_a_loader(restore_esm):
    path = "/energy_nb/static/plotly/widgetbundle.js?v=7"
    assert use_served_bundle({BUNDLE_ENV: path}) is True
    widget = go.FigureWidget(go.Scatter(x=[1, 2], y=[3, 4]))
    assert widget._esm == loader_source(path)
    assert len(widget._esm) < 300
    assert '"/energy_nb/static/plotly/widgetbundle.js?v=7"' in widget._esm
    assert "export default bundle.default" in widget._esm


def test_loader_quotes_the_path_as_a_javascript_string():
    source = loader_source('/a"b</script>.js')
    assert '"/a\\"b</script>.js"' in source
