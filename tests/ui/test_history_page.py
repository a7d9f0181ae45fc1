"""The History page object driven from Python: widget values in, figure data / messages / CSV out.

Runs on a real SQLite store in a temporary folder, filled from the real EIA snapshot.
"""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.ui.history import HistoryPage, build_history_page

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}


@pytest.fixture(scope="module")
def real_store(eia_dir, tmp_path_factory) -> PriceStore:
    store = PriceStore(tmp_path_factory.mktemp("history") / "energy_nb.sqlite")
    for code, name in FILES.items():
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    return store


@pytest.fixture()
def page(real_store) -> HistoryPage:
    return HistoryPage(real_store)


def link_csv(page: HistoryPage) -> pd.DataFrame:
    """The CSV the download link answers a click with."""
    text = page.download.answer({"type": "csv"})["text"]
    return pd.read_csv(io.StringIO(text), parse_dates=["date"], index_col="date")


def test_default_page_shows_all_wti_history(page, real_store):
    wti = real_store.load("WTI")
    assert page.messages.level is None
    assert [t.name for t in page.chart.data] == ["WTI"]
    trace = page.chart.data[0]
    assert pd.Timestamp(trace.x[-1]) == pd.Timestamp("2026-08-18")
    assert trace.y[-1] == pytest.approx(wti.iloc[-1])
    assert len(trace.y) == wti.notna().sum()
    assert page.chart.layout.xaxis.rangeslider.visible is True
    assert "WTI: data through 2026-08-18" in page.freshness.text
    assert page.dates.value == (date(1986, 1, 2), date(2026, 8, 18))
    assert "Annualised volatility" in page.stats_table.value
    # the statistics charts appear once the main chart has a view in the browser
    assert page.stats_chart is None
    page.chart._view_count = 1  # what the browser reports when it displays the chart
    assert page.stats_box.children == (page.stats_chart,)
    kinds = [(t.type, t.name, t.xaxis) for t in page.stats_chart.data]
    assert kinds == [("bar", "WTI", "x"), ("scatter", "WTI", "x2")]
    # the FigureWidget was built with its data: the state Voila sends to a late browser has it
    assert len(page.chart._widget_data) == 1 and len(page.stats_chart._widget_data) == 2
    hist = page.stats_chart.data[0]
    assert sum(hist.y) == len(real_store.load("WTI").dropna()) - 1 - 2  # 2 returns undefined


def test_csv_link_carries_exactly_the_plotted_values(page, real_store):
    page.dates.start.value = date(2024, 1, 1)
    page.dates.end.value = date(2024, 3, 31)
    csv = link_csv(page)
    stored = real_store.load("WTI", "2024-01-01", "2024-03-31")
    assert list(csv.columns) == ["WTI"]
    pd.testing.assert_series_equal(csv["WTI"], stored, check_names=False, check_freq=False)
    assert page.download.filename == "history_WTI_daily_2024-01-02_2024-03-28.csv"
    trace = page.chart.data[0]
    assert len(trace.x) == len(csv) and trace.y[0] == pytest.approx(csv["WTI"].iloc[0])


def test_several_commodities_units_on_two_axes(page, real_store):
    page.commodities.value = ("WTI", "NG")
    page.show_statistics_charts()  # created from the latest view
    assert [t.name for t in page.stats_chart.data] == ["WTI", "NG", "WTI", "NG"]
    page.commodities.value = ("WTI", "NG", "BRENT")
    assert len(page.stats_chart.data) == 6  # updated in place once it exists
    page.commodities.value = ("WTI", "NG")
    names = [t.name for t in page.chart.data]
    assert names == ["WTI", "NG"]
    axes = {t.name: t.yaxis for t in page.chart.data}
    assert axes == {"WTI": "y", "NG": "y2"}
    assert page.chart.layout.yaxis2.title.text == "USD/MMBtu"
    assert "<th>NG</th>" in page.stats_table.value
    assert "NG: data through" in page.freshness.text
    ng = [t for t in page.chart.data if t.name == "NG"][0]
    assert pd.Timestamp(ng.x[-1]) == real_store.load("NG").dropna().index[-1]


def test_rebase_weekly_and_log_scale(page, real_store):
    page.commodities.value = ("WTI", "BRENT")
    page.dates.start.value = date(2020, 1, 1)
    page.dates.end.value = date(2020, 12, 31)
    page.rebase.value = True
    for trace in page.chart.data:
        assert trace.y[0] == pytest.approx(100.0)
        assert trace.yaxis == "y"
    assert "index" in page.chart.layout.yaxis.title.text
    page.log_scale.value = True
    assert page.chart.layout.yaxis.type == "log"
    assert page.messages.level == "warning" and "2020-04-20" in page.messages.text
    csv = link_csv(page)
    assert np.isnan(csv.loc["2020-04-20", "WTI"])  # hidden on log scale, blank in the CSV
    assert csv.loc["2020-04-20", "BRENT"] > 0
    page.freq.value = "weekly"
    csv = link_csv(page)
    assert len(csv) == len(page.chart.data[0].x) < 60
    assert csv.index.max() <= pd.Timestamp("2020-12-31")


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"commodities": ()}, "Choose at least one commodity"),
        ({"start": date(2021, 1, 1), "end": date(2020, 1, 1)},
         "The start date 2021-01-01 is after the end date 2020-01-01"),
        ({"start": date(1970, 1, 1), "end": date(1975, 1, 1)},
         "No WTI prices between 1970-01-01 and 1975-01-01"),
    ],
)
def test_invalid_choices_show_a_message_and_clear_the_chart(page, change, expected):
    if "commodities" in change:
        page.commodities.value = change["commodities"]
    else:
        page.dates.end.value = change["end"]
        page.dates.start.value = change["start"]
    assert page.messages.level == "error"
    assert expected in page.messages.text
    assert "Traceback" not in page.messages.widget.value
    assert len(page.chart.data) == 0
    assert page.view is None and page.download.csv_text is None
    assert page.download.answer({"type": "csv"}) is None and page.download.widget.filename == ""
    # recovering: a valid choice brings everything back
    page.commodities.value = ("BRENT",)
    page.dates.start.value = date(2022, 1, 1)
    page.dates.end.value = date(2022, 12, 31)
    assert page.messages.level is None
    assert [t.name for t in page.chart.data] == ["BRENT"]


def test_empty_store_says_how_to_import(tmp_path):
    page = HistoryPage(PriceStore(tmp_path / "empty.sqlite"))
    assert page.messages.level == "error"
    assert "store is empty" in page.messages.text
    assert "energy-nb data import" in page.messages.text
    assert len(page.chart.data) == 0


def test_page_follows_new_imports(tmp_path, eia_dir):
    store = PriceStore(tmp_path / "grow.sqlite")
    full = read_price_csv(eia_dir / "brent-daily.csv", commodity="BRENT")
    store.import_series(full)
    page = HistoryPage(store, commodities=("BRENT",))
    assert page.commodities.value == ("BRENT",)
    # WTI not stored yet: a clear message, not a traceback
    page.commodities.value = ("WTI",)
    assert page.messages.level == "error" and "No WTI prices in the store" in page.messages.text
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    page.refresh()
    assert page.messages.level is None and page.chart.data[0].name == "WTI"


def test_build_history_page_reads_energy_nb_home(monkeypatch, real_store):
    monkeypatch.setenv("ENERGY_NB_HOME", str(real_store.path.parent))
    widget = build_history_page()
    assert widget.page.store.path == real_store.path
    assert widget.page.chart.data[0].name == "WTI"


def test_wti_max_drawdown_through_the_negative_price_is_capped(page):
    page.commodities.value = ("WTI",)
    page.dates.start.value = date(2019, 1, 1)
    page.dates.end.value = date(2020, 12, 31)
    dd = page.view.stats["WTI"].drawdown if hasattr(page, "view") else None
    html = page.stats_table.value
    assert "−100" in html or "-100" in html
    assert "158" not in html and "125" not in html
    assert "price fell to ≤ 0" in html
    if dd is not None:
        assert dd.value == -1.0 and str(dd.nonpositive_date.date()) == "2020-04-20"
