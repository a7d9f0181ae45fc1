"""The pages' shared chrome: navigation bar, URL state, glossary, and the landing page's cards."""

from __future__ import annotations

from datetime import date

import ipywidgets as widgets
import pytest

from energy_nb.data.validation import read_price_csv
from energy_nb.data.store import PriceStore
from energy_nb.ui.glossary import definition, glossary_html, param_label, term
from energy_nb.ui.landing import build_landing_page, data_age, read_snapshot
from energy_nb.ui.nav import nav_html
from energy_nb.ui.urlstate import UrlState, apply_query, decode, query_from_env, would_change


def test_nav_marks_the_current_page_and_links_absolute_under_voila(monkeypatch, tmp_path):
    for name in ("history.ipynb", "forecast.ipynb", "models.ipynb", "backtest.ipynb"):
        (tmp_path / name).write_text("{}")
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    bar = nav_html("models.ipynb", tmp_path)
    assert bar.count("<a ") == 5 and 'href="index.ipynb"' in bar
    assert 'href="models.ipynb" title="Compare models' in bar
    assert bar.count("aria-current") == 1 and 'models.ipynb" title' in bar.split("aria-current")[0]
    monkeypatch.setenv("VOILA_BASE_URL", "/base/")
    assert 'href="/base/voila/render/history.ipynb"' in nav_html("index.ipynb", tmp_path)


def test_query_sets_controls_and_reports_what_it_cannot():
    picker = widgets.SelectMultiple(options=[("WTI crude", "WTI"), ("Henry Hub", "NG")],
                                    value=("WTI",))
    start = widgets.DatePicker(value=date(2020, 1, 2))
    horizon = widgets.IntSlider(value=7, min=1, max=30)
    freq = widgets.ToggleButtons(options=[("Daily", "daily"), ("Weekly", "weekly")])
    log = widgets.Checkbox(value=False)
    fields = {"commodity": picker, "start": start, "horizon": horizon, "freq": freq, "log": log}
    assert not would_change(fields, {"commodity": "WTI", "other": "x"})
    query = {"commodity": "ng,wti", "start": "2005-09-22", "horizon": "99", "freq": "Weekly",
             "log": "1"}
    assert would_change(fields, query)
    problems = apply_query(fields, query)
    assert picker.value == ("NG", "WTI") and start.value == date(2005, 9, 22)
    assert freq.value == "weekly" and log.value is True
    assert horizon.value == 7 and problems == ["horizon: 99 is outside 1–30"]
    with pytest.raises(ValueError, match="not a date"):
        decode(start, "09/22/2005")
    with pytest.raises(ValueError, match="XX is not one of WTI, NG"):
        decode(picker, "XX")


def test_url_state_follows_the_controls(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "commodity=NG&start=2005-01-03")
    assert query_from_env() == {"commodity": "NG", "start": "2005-01-03"}
    drop = widgets.Dropdown(options=["WTI", "NG"], value="WTI")
    day = widgets.DatePicker(value=None)
    state = UrlState()
    state.bind({"commodity": drop, "start": day}, ["horizon: bad"])
    assert 'data-query="commodity=WTI"' in state.widget.value
    assert "Ignored in the link: horizon: bad" in state.widget.value
    drop.value, day.value = "NG", date(2025, 7, 3)
    assert state.query == "commodity=NG&start=2025-07-03"
    assert "enb-url-state" in state.widget._dom_classes


def test_glossary_terms_and_plain_parameter_labels():
    for label in ("rMAE step 1", "Coverage 80%", "Mean width 80%", "Sharpe Ratio",
                  "Sortino Ratio", "Calmar Ratio", "SQN", "Max. Drawdown [%]"):
        assert definition(label), label
    assert definition("MAE step 1").startswith("Mean absolute error")
    assert definition("Commodity") is None and term("Commodity") == "Commodity"
    assert 'title="Relative mean absolute error' in term("rMAE mean")
    assert param_label("entry_z") == "Entry threshold (z-score)"
    assert param_label("refit_every") == "Refit every (trading days)"
    assert param_label("some_new_thing") == "Some new thing"
    panel = glossary_html(["Sharpe", "SQN"])
    assert "<details" in panel and "Sharpe" in panel and "Calmar" not in panel


def test_landing_cards_show_latest_change_sparkline_and_next_week_range(tmp_path, eia_dir):
    store = PriceStore(tmp_path / "s.sqlite")
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    snap = read_snapshot(store, "WTI")
    series = store.load("WTI").dropna()
    assert snap.dates[-1] == f"{series.index[-1]:%Y-%m-%d}" and snap.last == series.iloc[-1]
    assert snap.change == pytest.approx(series.iloc[-1] - series.iloc[-2])
    assert snap.low < snap.last < snap.high and snap.high / snap.last < 1.5
    assert read_snapshot(store, "NG") is None
    (tmp_path / "forecast.ipynb").write_text("{}")
    page = build_landing_page(store, tmp_path).value
    assert 'data-commodity="WTI"' in page and "<svg" in page and "<polyline" in page
    assert "Next 5 trading days, 80 % range" in page
    assert 'href="forecast.ipynb?commodity=WTI"' in page and "history.ipynb" not in page
    assert data_age([{"last": "2026-08-18"}], today=date(2026, 8, 21)) == (
        "Newest price: 2026-08-18 (3 days ago).")
