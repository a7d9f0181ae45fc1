"""The dashboards on a PostgreSQL store show what they show on the SQLite store it came from."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_nb.backtest.run import run_backtest
from energy_nb.data.copy import copy_store
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.diagnostics import quick_evaluation
from energy_nb.ui.backtest import BacktestPage
from energy_nb.ui.history import HistoryPage
from energy_nb.ui.landing import read_snapshot
from energy_nb.ui.models import ModelsPage

FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}
SMALL = {"n_origins": 3, "horizon": 10, "step": 10}

pytestmark = pytest.mark.postgresql


@pytest.fixture(scope="module")
def stores(eia_dir, tmp_path_factory, pg_cluster) -> dict[str, PriceStore]:
    """A SQLite store with real prices, an evaluation and a backtest, and its PostgreSQL copy."""
    lite = PriceStore(tmp_path_factory.mktemp("pages") / "energy_nb.sqlite")
    lite.import_many([read_price_csv(eia_dir / name, commodity=code)
                      for code, name in FILES.items()])
    quick_evaluation(lite, "WTI", ("random_walk", "drift"), **SMALL)
    run_backtest(lite.load("WTI", start="2019-01-01", end="2020-12-31"), "buy-and-hold",
                 store=lite)
    pg = PriceStore(pg_cluster.new_database())
    copy_store(lite, pg)
    return {"sqlite": lite, "postgresql": pg}


def test_content_token_and_snapshot_are_the_same(stores) -> None:
    assert stores["postgresql"].content_token() == stores["sqlite"].content_token()
    assert read_snapshot(stores["postgresql"], "NG") == read_snapshot(stores["sqlite"], "NG")


def test_history_models_and_backtest_pages_match(stores) -> None:
    history = {k: HistoryPage(s) for k, s in stores.items()}
    assert history["postgresql"].freshness.text == history["sqlite"].freshness.text
    assert list(history["postgresql"].chart.data[0].y) == list(history["sqlite"].chart.data[0].y)
    models = {k: ModelsPage(s, diagnostics=False, background=False) for k, s in stores.items()}
    assert models["postgresql"].messages.level is None
    assert sorted(models["postgresql"].comparison.index) == ["drift", "random_walk"]
    pd.testing.assert_frame_equal(models["postgresql"].comparison, models["sqlite"].comparison)
    pages = {k: BacktestPage(s, background=False) for k, s in stores.items()}
    for page in pages.values():
        page.refresh_comparison()
    assert "buy" in pages["postgresql"].comparison_table.value.lower()
    assert pages["postgresql"].comparison_table.value == pages["sqlite"].comparison_table.value
