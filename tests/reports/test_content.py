"""The report sections on the real data: values, figures, and no look-ahead past ``as_of``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.models import make_model
from energy_nb.reports.content import ReportBuilder
from energy_nb.reports.parameters import ReportParameterError

AS_OF = "2025-03-14"
PARAMS = {"commodities": ["NG", "WTI"], "horizon": 4, "model": "theta", "as_of": AS_OF,
          "levels": [50, 90], "eval_origins": 3, "eval_step": 4, "backtest_days": 150}
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def truncated_copy(store: PriceStore, path: Path, after: str) -> PriceStore:
    """A copy of ``store`` whose prices after ``after`` are replaced by nonsense."""
    import sqlite3

    with sqlite3.connect(store.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE prices SET price = price * 3 + 50 WHERE date > ?", (after,))
    return PriceStore(path)


@pytest.fixture(scope="module")
def builder(report_backend_store: PriceStore) -> ReportBuilder:
    """The report's sections read from the store on SQLite, then on PostgreSQL."""
    return ReportBuilder.from_parameters(PARAMS, store=report_backend_store, now=NOW)


def test_prices_section_reports_the_price_at_as_of(builder: ReportBuilder,
                                                   report_store: PriceStore) -> None:
    section = builder.prices()
    ng = report_store.load("NG", end=AS_OF).dropna()
    row = section.table.loc["NG"]
    assert row["Date"] == ng.index[-1].strftime("%Y-%m-%d") == "2025-03-14"
    assert row["Last"] == pytest.approx(ng.iloc[-1])
    assert row["1 day"] == f"{ng.iloc[-1] - ng.iloc[-2]:,.2f}"
    assert list(section.table.index) == ["NG", "WTI"]
    assert max(pd.DatetimeIndex(tr.x).max() for tr in section.figure.data) == pd.Timestamp(AS_OF)
    assert "Latest prices" in section._repr_html_() and "<table" in section.html_body


def test_forecast_section_uses_only_prices_up_to_as_of(builder: ReportBuilder,
                                                       report_store: PriceStore) -> None:
    section = builder.forecast("NG")
    fc = section.run.forecast
    assert section.run.origin == pd.Timestamp(AS_OF)
    direct = make_model("theta").fit(report_store.load("NG", end=AS_OF)).predict(4, levels=(50, 90))
    np.testing.assert_allclose(fc.mean, direct.mean)
    np.testing.assert_allclose(fc.upper[90], direct.upper[90])
    assert list(section.table.columns) == ["mean", "lower_50", "upper_50", "lower_90", "upper_90"]
    names = [t.name for t in section.figure.data]
    assert names == ["history", "90% interval", "50% interval", "forecast", "actual"]
    history = section.figure.data[0]
    assert pd.Timestamp(history.x[-1]) == pd.Timestamp(AS_OF)
    band = section.figure.data[1]  # from the origin along the upper bound, back along the lower
    assert list(band.y[1:5]) == pytest.approx(list(fc.upper[90]))
    assert len(history.x) == 90
    assert all(pd.Timestamp(d) > pd.Timestamp(AS_OF) for d in section.figure.data[-1].x)
    assert "shown for comparison only" in " ".join(section.notes)


def test_accuracy_section_scores_only_origins_whose_actuals_precede_as_of(
        builder: ReportBuilder) -> None:
    section = builder.accuracy("WTI")
    result = section.result
    assert len(section.origins) == 3
    assert np.all(np.diff(section.origins.asi8) > 0)
    assert result.forecasts["date"].max() <= pd.Timestamp(AS_OF)
    assert list(section.table.index) == ["random_walk", "drift", "theta"]
    assert section.table.loc["random_walk", "rMAE (mean)"] == 1.0
    assert {"Coverage 50 %", "Coverage 90 %", "MAE step 4"} <= set(section.table.columns)


def test_backtest_section_covers_the_trailing_window(builder: ReportBuilder) -> None:
    section = builder.backtest("WTI")
    assert section.equity.index[-1] == pd.Timestamp(AS_OF)
    assert len(section.equity) == 150
    assert section.equity["BuyHold"].iloc[0] == section.equity["Equity"].iloc[0] == 100_000
    assert [t.name for t in section.figure.data] == ["Strategy", "Buy & hold"]
    assert list(section.table.columns) == ["sma-cross", "buy-and-hold"]
    assert section.table.loc["# Trades", "buy-and-hold"] == "1"
    assert section.stats["End"] == pd.Timestamp(AS_OF)


def test_sections_do_not_change_when_later_prices_change(builder: ReportBuilder,
                                                         report_store: PriceStore,
                                                         tmp_path: Path) -> None:
    other = ReportBuilder.from_parameters(
        PARAMS, store=truncated_copy(report_store, tmp_path / "copy.sqlite", AS_OF), now=NOW)
    pd.testing.assert_frame_equal(builder.prices().table, other.prices().table)
    pd.testing.assert_frame_equal(builder.accuracy("NG").table, other.accuracy("NG").table)
    pd.testing.assert_frame_equal(builder.backtest("NG").table, other.backtest("NG").table)
    pd.testing.assert_frame_equal(builder.forecast("NG").table, other.forecast("NG").table)
    # ... while the actuals drawn for comparison do come from the changed data
    assert not np.allclose(builder.forecast("NG").run.actuals, other.forecast("NG").run.actuals)


def test_freshness_marks_old_data_as_stale(report_store: PriceStore) -> None:
    fresh = ReportBuilder.from_parameters(PARAMS, store=report_store,
                                          now=datetime(2026, 8, 19, 6, tzinfo=UTC))
    section = fresh.freshness()
    assert section.stale == []
    assert section.table.loc["WTI", "Last"] == "2026-08-18"
    assert section.table.loc["WTI", "Business days old"] == 1
    late = ReportBuilder.from_parameters(PARAMS, store=report_store, now=NOW).freshness()
    assert late.stale == ["NG", "WTI"] and "Stale: NG, WTI." in late.notes


def test_header_escapes_the_title_and_rejects_foreign_commodities(report_store: PriceStore) -> None:
    b = ReportBuilder.from_parameters({**PARAMS, "title": "Oil <&> gas"}, store=report_store,
                                      now=NOW)
    html = b.header()._repr_html_()
    assert "Oil &lt;&amp;&gt; gas" in html and "2025-03-14" in html
    with pytest.raises(ReportParameterError, match="BRENT is not one of the report's commodities"):
        b.forecast("BRENT")
    with pytest.raises(ReportParameterError, match="before the first NG price"):
        ReportBuilder.from_parameters({**PARAMS, "as_of": "1990-01-01"}, store=report_store)
