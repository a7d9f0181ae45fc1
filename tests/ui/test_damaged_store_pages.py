"""The dashboards on a damaged store: every page shows what is wrong, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_nb.config import Settings
from energy_nb.ui.backtest import build_backtest_page
from energy_nb.ui.forecast import build_forecast_page
from energy_nb.ui.history import build_history_page
from energy_nb.ui.landing import build_landing_page
from energy_nb.ui.models import build_models_page
from tests.cli.damaged_stores import DAMAGE, build_healthy_store

PAGES = {"history": build_history_page, "forecast": build_forecast_page,
         "models": build_models_page, "backtest": build_backtest_page}
#: Damage a page could read past without noticing: only the store's own check finds it.
KINDS = ("truncated", "overwritten-backtest-pages", "dropped-table", "missing-column",
         "text-price", "garbage-date")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_healthy_store(tmp_path_factory.mktemp("healthy") / "store.sqlite")


@pytest.mark.parametrize("kind", KINDS)
def test_pages_show_the_damage(kind: str, healthy: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path))
    db = Settings.from_env().db_path
    DAMAGE[kind].build(healthy, db)
    for name, build in PAGES.items():
        page = build().page
        assert page.messages.level == "error", name
        assert f"the store at {db} is damaged ({DAMAGE[kind].detail}" in page.messages.text, name
        assert "Traceback" not in page.messages.text
    landing = build_landing_page(notebooks_dir=tmp_path).value
    assert "is damaged" in landing and DAMAGE[kind].detail.split(",")[0] in landing
