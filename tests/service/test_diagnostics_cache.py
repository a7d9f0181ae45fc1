"""Saved residual diagnostics of recorded runs: round trip, key, damaged files, unwritable folder.

A real SQLite store of the EIA snapshot, a run recorded in its registry and really refitted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from datetime import date

import pandas as pd
import pytest

from energy_nb.config import Settings
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries
from energy_nb.service.diagnostics import (
    ResidualDiagnostics,
    fit_run_model,
    residual_diagnostics,
)
from energy_nb.service.diagnostics_cache import DiagnosticsCache
from energy_nb.service.registry import ModelRegistry, ModelRun
from energy_nb.ui.models import diagnostics_html
from energy_nb.viz.charts import acf_figure, residual_histogram_figure, residuals_figure


@pytest.fixture(scope="module")
def run(store) -> ModelRun:
    return ModelRegistry(store).list()[0]


@pytest.fixture(scope="module")
def diag(store, run) -> ResidualDiagnostics:
    return residual_diagnostics(fit_run_model(store, run))


def assert_same(loaded: ResidualDiagnostics, diag: ResidualDiagnostics) -> None:
    pd.testing.assert_series_equal(loaded.residuals, diag.residuals, check_exact=True,
                                   check_freq=True)
    pd.testing.assert_series_equal(loaded.acf, diag.acf, check_exact=True)
    pd.testing.assert_frame_equal(loaded.histogram, diag.histogram, check_exact=True)
    for name in ("model", "acf_band", "ljung_box_pvalue", "mean", "std", "skew", "kurtosis"):
        assert getattr(loaded, name) == getattr(diag, name), name


def test_round_trip_gives_the_same_diagnostics_charts_and_summary(store, run, diag, tmp_path):
    cache = DiagnosticsCache(tmp_path / "cache")
    key = cache.key(store, run)
    assert cache.load(key) is None  # nothing saved yet: a miss, no file created
    path = cache.save(key, diag)
    assert path == cache.path(key) and path.parent == tmp_path / "cache"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]  # no temporary left
    loaded = DiagnosticsCache(tmp_path / "cache").load(cache.key(store, run))
    assert loaded is not None and loaded is not diag
    assert len(diag.residuals) == 200 and isinstance(loaded.residuals.index, pd.DatetimeIndex)
    assert loaded.residuals.index.name == "date" and loaded.acf.index.name == "lag"
    assert_same(loaded, diag)
    assert diagnostics_html(loaded) == diagnostics_html(diag)
    for figure in (lambda d: residuals_figure(d.residuals), lambda d: acf_figure(d.acf, d.acf_band),
                   lambda d: residual_histogram_figure(d.histogram)):
        assert figure(loaded).to_json() == figure(diag).to_json()


def test_the_default_folder_is_under_the_home(tmp_path):
    settings = Settings.from_env({"ENERGY_NB_HOME": str(tmp_path)})
    assert DiagnosticsCache.from_settings(settings).folder == tmp_path / "cache" / "diagnostics"


def test_the_key_follows_what_the_diagnostics_depend_on(store, store_path, run, tmp_path):
    cache = DiagnosticsCache(tmp_path)
    key = cache.key(store, run)
    assert DiagnosticsCache(tmp_path / "other").key(store, run).digest == key.digest
    assert cache.key(PriceStore(store_path), run) == key  # the same store opened again
    changed = {
        "params": dataclasses.replace(run, params={"calibration_window": 150}),
        "train_start": dataclasses.replace(run, train_start="2020-01-02"),
        "train_end": dataclasses.replace(run, train_end="2024-06-28"),
        "model": dataclasses.replace(run, name="random_walk"),
        "run id": dataclasses.replace(run, id=run.id + 1),
        "data version": dataclasses.replace(run, data_version="WTI@99"),
    }
    digests = {what: cache.key(store, other).digest for what, other in changed.items()}
    assert key.digest not in digests.values() and len(set(digests.values())) == len(digests)
    assert cache.path(dataclasses.replace(key)) == cache.path(key)

    copy_path = tmp_path / "copy.sqlite"
    shutil.copy(store_path, copy_path)
    copy = PriceStore(copy_path)
    other_store = cache.key(copy, run)
    assert other_store.digest != key.digest and other_store.store != key.store
    # a price appended after the training window: the refit reads the same prices
    copy.import_series(PriceSeries("WTI", "test", [date(2026, 12, 31)], [70.0], [1]))
    assert cache.key(copy, run).digest == other_store.digest
    # a revised price inside it: another refit, another key
    copy.import_series(PriceSeries("WTI", "test", [date(2020, 6, 1)], [1.0], [1]),
                       replace=True)
    assert cache.key(copy, run).digest != other_store.digest


def test_a_damaged_file_is_a_miss_then_rewritten(store, run, diag, tmp_path, caplog):
    cache = DiagnosticsCache(tmp_path)
    key = cache.key(store, run)
    path = cache.save(key, diag)
    document = json.loads(path.read_text())
    wrong_shape = {**document, "diagnostics": {**document["diagnostics"], "acf": [1, 2]}}
    other_key = {**document, "key": {**document["key"], "run_id": 999}}
    short = json.loads(path.read_text())
    short["diagnostics"]["residuals"]["values"].pop()
    empty = json.loads(path.read_text())
    empty["diagnostics"]["residuals"].update(values=[], index={"kind": "range", "name": None,
                                                               "start": 0, "stop": 0, "step": 1})
    damaged = {
        "not JSON": "{\"key\": {",
        "not UTF-8": b"\xff\xfe\x00garbage",
        "empty": "",
        "a list": "[]",
        "wrong shape": json.dumps(wrong_shape),
        "values shorter than the index": json.dumps(short),
        "no residuals": json.dumps(empty),
        "another key": json.dumps(other_key),
    }
    for what, content in damaged.items():
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="energy_nb.service.diagnostics_cache"):
            assert cache.load(key) is None, what
        assert "ignoring the saved residual diagnostics" in caplog.text, what
        assert cache.save(key, diag) == path  # the next computation overwrites it
        assert_same(cache.load(key), diag)


def test_a_newer_key_replaces_the_runs_older_file(store, run, diag, tmp_path):
    cache = DiagnosticsCache(tmp_path)
    old = cache.save(cache.key(store, dataclasses.replace(run, data_version="WTI@0")), diag)
    other_run = cache.save(cache.key(store, dataclasses.replace(run, id=run.id + 1)), diag)
    new = cache.save(cache.key(store, run), diag)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([new.name, other_run.name])
    assert not old.exists()


def test_an_unwritable_folder_is_logged_not_raised(store, run, diag, tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = DiagnosticsCache(blocker / "diagnostics")
    key = cache.key(store, run)
    with caplog.at_level(logging.WARNING, logger="energy_nb.service.diagnostics_cache"):
        assert cache.save(key, diag) is None
        assert cache.load(key) is None
    assert "cannot save residual diagnostics" in caplog.text
    assert blocker.read_text() == "a file where the cache folder should be"
