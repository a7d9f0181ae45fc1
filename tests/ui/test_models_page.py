"""The Models page driven from Python against a real store and a real model registry.

The store holds the real EIA snapshot; evaluations are real (small) walk-forward runs recorded by
the page's own button or by :func:`energy_nb.service.diagnostics.quick_evaluation`. Every test has
its own ``ENERGY_NB_HOME``, so the residual diagnostics one page saves are not another test's.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.diagnostics import quick_evaluation
from energy_nb.service.diagnostics_cache import DiagnosticsCache
from energy_nb.models.intervals import DEFAULT_WINDOW
from energy_nb.service.registry import ModelRegistry
from energy_nb.ui.models import ModelsPage, build_models_page

FILES = {"WTI": "wti-daily.csv", "NG": "henryhub-daily.csv"}
SMALL = {"n_origins": 3, "horizon": 10, "step": 10}
FAST_MODELS = ("random_walk", "drift", "theta")


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """A fresh ``ENERGY_NB_HOME``: an empty diagnostics cache for every test."""
    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def base_store_path(eia_dir, tmp_path_factory):
    """A store with real prices and nothing in the registry."""
    path = tmp_path_factory.mktemp("models") / "base.sqlite"
    store = PriceStore(path)
    for code, name in FILES.items():
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    return path


@pytest.fixture(scope="module")
def evaluated_store(base_store_path, tmp_path_factory) -> PriceStore:
    """A copy of the base store with a small WTI evaluation recorded."""
    path = tmp_path_factory.mktemp("models_eval") / "energy_nb.sqlite"
    shutil.copy(base_store_path, path)
    store = PriceStore(path)
    quick_evaluation(store, "WTI", FAST_MODELS, **SMALL)
    return store


@pytest.fixture()
def empty_registry_store(base_store_path, tmp_path) -> PriceStore:
    path = tmp_path / "energy_nb.sqlite"
    shutil.copy(base_store_path, path)
    return PriceStore(path)


def test_empty_registry_offers_a_quick_evaluation_that_records_runs(empty_registry_store):
    page = ModelsPage(empty_registry_store, quick_models=FAST_MODELS, quick_settings=SMALL,
                      background=False)
    assert page.messages.level == "warning" and "registry is empty" in page.messages.text
    assert "No walk-forward evaluation of WTI" in page.messages.text
    assert page.evaluate_button.layout.display == ""
    assert page.comparison.empty and len(page.rmae_chart.figure.data) == 0
    assert page.compare_charts.layout.display == "none"  # no empty axes before an evaluation
    assert page.runs_frame.empty and page.run_picker.value is None

    progress_values: list[int] = []
    page.evaluate_progress.observe(lambda ch: progress_values.append(ch["new"]), names="value")
    displays: list[str] = []
    page.evaluate_progress.layout.observe(lambda ch: displays.append(ch["new"]), names="display")
    page.evaluate_button.click()

    assert displays == ["", "none"]
    assert (progress_values[-1] == len(FAST_MODELS) * 3
            and progress_values == sorted(progress_values))
    runs = ModelRegistry(empty_registry_store).list(kind="walk_forward")
    assert sorted(r.name for r in runs) == sorted(FAST_MODELS)
    assert (page.messages.level == "info"
            and "Recorded a quick evaluation of WTI" in page.messages.text)
    assert page.evaluate_button.layout.display == "none"
    assert sorted(page.comparison.index) == sorted(FAST_MODELS)
    assert sorted(t.name for t in page.rmae_chart.figure.data) == sorted(FAST_MODELS)
    assert page.compare_charts.layout.display == ""


def test_comparison_shows_the_registry_metrics(evaluated_store):
    page = ModelsPage(evaluated_store, diagnostics=False, background=False)
    assert page.messages.level is None
    latest = ModelRegistry(evaluated_store).latest_evaluations("WTI")
    table = page.comparison
    assert sorted(table.index) == sorted(FAST_MODELS)
    for name, run in latest.items():
        steps = run.step_metrics()
        assert table.loc[name, "rmae_1"] == pytest.approx(steps.at[1, "rmae"])
        assert table.loc[name, "rmae_10"] == pytest.approx(steps.at[10, "rmae"])
        assert table.loc[name, "coverage_80"] == pytest.approx(steps["coverage_80"].mean())
        assert table.loc[name, "run_id"] == run.id
    assert table.loc["random_walk", "mean_rmae"] == pytest.approx(1.0)
    assert ("rMAE step 1" in page.comparison_html.value
            and "Coverage 95%" in page.comparison_html.value)
    # rMAE by step: one line per model over steps 1..10, the random walk at exactly 1
    rmae = {t.name: t for t in page.rmae_chart.figure.data}
    assert list(rmae["drift"].x) == list(range(1, 11))
    np.testing.assert_allclose(rmae["random_walk"].y, 1.0)
    # coverage chart in percent with the nominal level as reference
    assert page.coverage_level.value == 95
    cov = {t.name: t for t in page.coverage_chart.figure.data}
    np.testing.assert_allclose(cov["theta"].y, latest["theta"].step_metrics()["coverage_95"] * 100)
    assert page.coverage_chart.figure.layout.shapes[0].y0 == pytest.approx(95.0)
    page.coverage_level.value = 80
    cov = {t.name: t for t in page.coverage_chart.figure.data}
    np.testing.assert_allclose(cov["drift"].y, latest["drift"].step_metrics()["coverage_80"] * 100)


def test_over_time_charts_follow_the_origins(evaluated_store):
    page = ModelsPage(evaluated_store, diagnostics=False, background=False)
    latest = ModelRegistry(evaluated_store).latest_evaluations("WTI")
    origins = latest["drift"].metrics["origins"]
    assert page.compare_axis.value == "step" and page.compare_axis.layout.display == ""
    page.compare_axis.value = "time"
    rmae = {t.name: t for t in page.rmae_chart.figure.data}
    assert sorted(rmae) == sorted(FAST_MODELS)
    assert list(rmae["drift"].x) == origins
    np.testing.assert_allclose(rmae["random_walk"].y, 1.0)
    drift = latest["drift"].origin_metrics()["mae"].cumsum()
    walk = latest["random_walk"].origin_metrics()["mae"].cumsum()
    np.testing.assert_allclose(rmae["drift"].y, drift / walk)  # window 10 > 3 origins
    assert "over time" in page.rmae_chart.figure.layout.title.text
    cover = {t.name: t for t in page.coverage_chart.figure.data}
    theta = latest["theta"].origin_metrics()["coverage_95"].expanding().mean() * 100
    np.testing.assert_allclose(cover["theta"].y, theta)
    assert "95% intervals over time" in page.coverage_chart.figure.layout.title.text
    page.coverage_level.value = 80
    assert "80% intervals over time" in page.coverage_chart.figure.layout.title.text
    page.compare_axis.value = "step"  # back to the per-step view
    assert list(page.rmae_chart.figure.data[0].x) == list(range(1, 11))
    assert "80% intervals by step" in page.coverage_chart.figure.layout.title.text


def test_runs_without_per_origin_metrics_offer_no_over_time_view(empty_registry_store):
    """Evaluations recorded by energy_nb 0.1 have per-step metrics only."""
    registry = ModelRegistry(empty_registry_store)
    step = {"mae": 1.0, "rmae": 1.0, "coverage_95": 0.9, "width_95": 4.0}
    for name in ("random_walk", "drift"):
        registry.record(name, "WTI", params={}, train_start="2000-01-03",
                        train_end="2025-06-30", data_version="WTI@1",
                        metrics={"kind": "walk_forward", "origins": ["2025-06-30"],
                                 "n_origins": 1, "steps": {"1": step}})
    page = ModelsPage(empty_registry_store, diagnostics=False, background=False)
    assert sorted(page.comparison.index) == ["drift", "random_walk"]
    assert page.compare_charts.layout.display == ""
    assert page.compare_axis.layout.display == "none" and page.compare_axis.value == "step"
    assert sorted(t.name for t in page.rmae_chart.figure.data) == ["drift", "random_walk"]


def test_metrics_csv_download_holds_every_step_of_every_model(evaluated_store):
    page = ModelsPage(evaluated_store, diagnostics=False, background=False)
    latest = ModelRegistry(evaluated_store).latest_evaluations("WTI")
    assert page.download.filename == "model_metrics_WTI_by_step.csv"
    frame = pd.read_csv(io.StringIO(page.download.csv_text))
    assert list(frame.columns[:4]) == ["commodity", "model", "run_id", "step"]
    assert {"mae", "rmae", "coverage_80", "coverage_95", "winkler_95"} <= set(frame.columns)
    assert sorted(set(frame["model"])) == sorted(FAST_MODELS) and set(frame["commodity"]) == {"WTI"}
    for name, run in latest.items():
        rows = frame[frame["model"] == name].set_index("step")
        steps = run.step_metrics()
        assert list(rows.index) == list(steps.index)
        np.testing.assert_allclose(rows["rmae"], steps["rmae"], rtol=1e-5)
        assert set(rows["run_id"]) == {run.id}
    page.commodity.value = "NG"  # nothing evaluated: the link is disabled and says why
    assert page.download.csv_text is None and "no evaluation" in page.download.reason
    page.commodity.value = "ALL"
    assert page.download.csv_text is None and "choose one commodity" in page.download.reason


def test_filters_by_commodity_and_kind(evaluated_store):
    page = ModelsPage(evaluated_store, diagnostics=False, background=False)
    assert set(page.runs_frame["commodity"]) == {"WTI"}
    page.commodity.value = "NG"
    assert page.runs_frame.empty and page.comparison.empty
    assert (page.messages.level == "info"
            and "No walk-forward evaluation of NG" in page.messages.text)
    assert page.evaluate_button.layout.display == ""
    page.commodity.value = "ALL"
    assert "Choose one commodity" in page.messages.text
    assert page.evaluate_button.layout.display == "none"
    assert len(page.runs_frame) == len(ModelRegistry(evaluated_store).list())
    page.kind.value = "fit"
    assert set(page.runs_frame["kind"]) <= {"fit"}
    page.kind.value = "walk_forward"
    assert set(page.runs_frame["kind"]) == {"walk_forward"}


def test_run_details_and_residual_diagnostics(evaluated_store):
    page = ModelsPage(evaluated_store, background=False)
    run = ModelRegistry(evaluated_store).get(page.run_picker.value)
    assert run.kind == "walk_forward"
    assert f"{run.train_start} – {run.train_end}" in page.details.value
    assert "calibration_window" in page.details.value  # parameters table
    diag = page.diagnostics
    assert diag is not None and diag.model == run.name
    # one residual per calibration origin of the recorded run's own parameters
    assert (len(diag.residuals) == run.params.get("calibration_window", DEFAULT_WINDOW)
            and diag.residuals.index[-1] == pd.Timestamp(run.train_end))
    assert list(diag.acf.index) == list(range(1, 21))
    lag1 = np.corrcoef(diag.residuals.to_numpy()[:-1], diag.residuals.to_numpy()[1:])[0, 1]
    assert diag.acf.iloc[0] == pytest.approx(lag1, abs=0.01)
    assert diag.histogram["count"].sum() == len(diag.residuals)
    assert 0.0 <= diag.ljung_box_pvalue <= 1.0
    assert [t.name for t in page.residual_chart.figure.data] == ["residual"]
    assert len(page.acf_chart.figure.data[0].y) == 20
    assert [t.name for t in page.histogram_chart.figure.data] == ["residuals", "normal"]
    assert "Ljung-Box" in page.diagnostics_summary.value
    # another run: details follow, diagnostics recomputed for it
    other = next(v for _, v in page.run_picker.options if v != run.id)
    page.run_picker.value = other
    assert f"#{other} " in page.details.value
    assert page.diagnostics.model == ModelRegistry(evaluated_store).get(other).name


def test_diagnostics_on_demand_and_unavailable_run(evaluated_store):
    registry = ModelRegistry(evaluated_store)
    bad = registry.record("drift", "WTI", params={}, train_start="1980-01-01",
                          train_end="1980-06-30", data_version="x", metrics={"kind": "fit"})
    page = ModelsPage(evaluated_store, diagnostics=False, background=False)
    assert page.diagnostics is None and len(page.residual_chart.figure.data[0].y) == 0
    page.run_picker.value = bad
    page.diagnostics_button.click()
    assert page.diagnostics is None
    assert "Residual diagnostics unavailable" in page.diagnostics_summary.value
    assert "no stored WTI prices" in page.diagnostics_summary.value


def test_diagnostics_show_when_the_cache_folder_is_unwritable(evaluated_store, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder's parent should be")
    cache = DiagnosticsCache(blocker / "diagnostics")
    page = ModelsPage(evaluated_store, background=False, diagnostics_cache=cache)
    # the worker could not save them: it sent them back, and the page draws them
    assert page.diagnostics is not None, page.diagnostics_summary.value
    assert len(page.residual_chart.figure.data[0].y) == DEFAULT_WINDOW
    assert "Residuals of" in page.diagnostics_summary.value
    assert blocker.read_text().startswith("a file")


def test_a_refit_worker_past_its_timeout_is_stopped_with_a_clear_message(evaluated_store,
                                                                         own_home):
    page = ModelsPage(evaluated_store, background=False, diagnostics_timeout=0.05)
    assert page.diagnostics is None
    summary = page.diagnostics_summary.value
    assert "Residual diagnostics unavailable" in summary
    assert "took longer than 0.05 s and was stopped" in summary
    assert page.diagnostics_progress.layout.display == "none"
    assert not list((own_home / "cache" / "diagnostics").glob("*.json"))
    # not remembered as the run's answer: with time enough, showing the run again refits it
    page.diagnostics_timeout = 300.0
    run_id = page.run_picker.value
    page.run_picker.value = next(v for _, v in page.run_picker.options if v != run_id)
    page.run_picker.value = run_id
    assert page.diagnostics is not None, page.diagnostics_summary.value


def test_a_crashing_worker_shows_an_unexpected_error(base_store_path, tmp_path):
    path = tmp_path / "energy_nb.sqlite"
    shutil.copy(base_store_path, path)
    store = PriceStore(path)
    run_id = ModelRegistry(store).record("drift", "WTI", params={}, train_start="2020-01-01",
                                         train_end="2021-06-30", data_version="x",
                                         metrics={"kind": "fit"})
    with sqlite3.connect(path) as conn:  # as if recorded by an energy_nb with more commodities
        conn.execute("UPDATE model_runs SET commodity = 'XYZ' WHERE id = ?", (run_id,))
    page = ModelsPage(store, commodity="ALL", diagnostics=False, background=False)
    page.run_picker.value = run_id
    page.diagnostics_button.click()  # the refit crashes in the worker, not in the page
    summary = page.diagnostics_summary.value
    assert "unexpected error: the diagnostics worker failed (exit code 1)" in summary
    assert "unknown commodity" in summary and page.diagnostics is None


def test_diagnostics_refit_in_the_background_keeps_the_page_usable(evaluated_store):
    shown: list[str] = []
    page = ModelsPage(evaluated_store, diagnostics=False)  # background=True, as in the notebook
    page.diagnostics_progress.layout.observe(lambda ch: shown.append(ch["new"]), names="display")
    first = page.run_picker.value
    page.diagnostics_button.click()
    page.wait_for_diagnostics()
    assert shown[:2] == ["", "none"]
    assert (page.diagnostics is not None
            and len(page.residual_chart.figure.data[0].y) == DEFAULT_WINDOW)
    # another run: nothing computed (diagnostics=False); back to the first: drawn from the cache
    page.run_picker.value = next(v for _, v in page.run_picker.options if v != first)
    assert page.diagnostics is None and len(page.residual_chart.figure.data[0].y) == 0
    page.run_picker.value = first
    assert (page.diagnostics is not None
            and len(page.residual_chart.figure.data[0].y) == DEFAULT_WINDOW)


def test_broken_store_shows_a_message(tmp_path, monkeypatch):
    from energy_nb.config import Settings

    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path))
    db = Settings.from_env().db_path
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_text("this is not an SQLite database, it is plain text " * 20)
    page = build_models_page().page
    assert page.messages.level == "error" and "Cannot open the price store" in page.messages.text
    assert page.runs_frame.empty


def test_a_second_page_draws_the_saved_diagnostics_without_refitting(evaluated_store, own_home):
    first = ModelsPage(evaluated_store)  # the app's defaults: refit in the background
    first.wait_for_diagnostics()
    run_id = first.run_picker.value
    assert first._diag_thread is not None and first.diagnostics is not None
    saved = list((own_home / "cache" / "diagnostics").glob(f"*-run{run_id}-*.json"))
    assert len(saved) == 1

    second = ModelsPage(evaluated_store)
    # drawn during construction, from the file: no refit thread, no progress indicator
    assert second._diag_thread is None and second.diagnostics_progress.layout.display == "none"
    assert second.run_picker.value == run_id and second.diagnostics is not first.diagnostics
    pd.testing.assert_series_equal(second.diagnostics.residuals, first.diagnostics.residuals)
    pd.testing.assert_frame_equal(second.diagnostics.histogram, first.diagnostics.histogram)
    assert second.diagnostics_summary.value == first.diagnostics_summary.value
    for chart in ("residual_chart", "acf_chart", "histogram_chart"):
        assert (getattr(second, chart).figure.to_json()
                == getattr(first, chart).figure.to_json()), chart
    assert second.diagnostics_charts.layout.display == ""
    assert second.diagnostics_button.description == "Diagnostics shown below"

    # a damaged file: the next page refits and writes it again
    saved[0].write_text("{ not json")
    third = ModelsPage(evaluated_store)
    third.wait_for_diagnostics()
    assert third._diag_thread is not None and third.diagnostics is not None
    assert json.loads(saved[0].read_text())["key"]["run_id"] == run_id
    assert ModelsPage(evaluated_store)._diag_thread is None


def test_unavailable_diagnostics_are_not_saved(evaluated_store, tmp_path):
    registry = ModelRegistry(evaluated_store)
    bad = registry.record("drift", "WTI", params={}, train_start="1981-01-01",
                          train_end="1981-06-30", data_version="x", metrics={"kind": "fit"})
    cache = DiagnosticsCache(tmp_path / "saved")
    page = ModelsPage(evaluated_store, diagnostics=False, background=False,
                      diagnostics_cache=cache)
    page.run_picker.value = bad
    page.diagnostics_button.click()
    assert "Residual diagnostics unavailable" in page.diagnostics_summary.value
    assert not list(cache.folder.glob("*.json"))  # (the refit lock file may be there)


def test_an_unwritable_cache_folder_does_not_break_the_page(evaluated_store, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    page = ModelsPage(evaluated_store, background=False,
                      diagnostics_cache=DiagnosticsCache(blocker / "diagnostics"))
    assert page.diagnostics is not None and "Ljung-Box" in page.diagnostics_summary.value
    assert page.messages.level is None
