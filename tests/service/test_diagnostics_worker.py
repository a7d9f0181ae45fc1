"""The diagnostics worker process: same result as an in-process refit, saved for the caller.

Real worker processes on a real SQLite store of the EIA snapshot (and a PostgreSQL copy, whose
URL carries a password that must never reach the worker's command line).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from energy_nb.data.copy import copy_store
from energy_nb.data.store import PriceStore
from energy_nb.service.diagnostics import DiagnosticsError, fit_run_model, residual_diagnostics
from energy_nb.service.diagnostics_cache import DiagnosticsCache
from energy_nb.service.diagnostics_worker import (
    STORE_URL_ENV,
    diagnostics_in_worker,
    worker_command,
    worker_environment,
)
from energy_nb.service.registry import ModelRegistry, ModelRun


def only_run(store: PriceStore) -> ModelRun:
    return ModelRegistry(store).list()[0]


def test_the_worker_saves_what_an_in_process_refit_computes(store, tmp_path: Path) -> None:
    run = only_run(store)
    cache = DiagnosticsCache(tmp_path / "diagnostics")
    key = cache.key(store, run)
    diag = diagnostics_in_worker(store, run, cache, key)
    assert cache.path(key).is_file()
    expected = residual_diagnostics(fit_run_model(store, run))
    pd.testing.assert_series_equal(diag.residuals, expected.residuals)
    pd.testing.assert_series_equal(diag.acf, expected.acf)
    assert diag.ljung_box_pvalue == expected.ljung_box_pvalue


def test_without_a_key_the_worker_answers_the_diagnostics_themselves(store,
                                                                     tmp_path: Path) -> None:
    run = only_run(store)
    diag = diagnostics_in_worker(store, run, DiagnosticsCache(tmp_path / "d"), None)
    assert len(diag.residuals) > 0 and diag.model == "drift"


def test_workers_of_one_new_run_refit_it_once(store, tmp_path: Path) -> None:
    """Three visitors open a run nobody has refitted: one worker refits, the others read it."""
    run = only_run(store)
    cache = DiagnosticsCache(tmp_path / "diagnostics")
    key = cache.key(store, run)
    workers = [subprocess.Popen(worker_command(run.id, cache.folder, key.digest),
                                env=worker_environment(store), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    answers = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(a["refitted"] for a in answers) == [False, False, True]
    assert {a["saved"] for a in answers} == {str(cache.path(key))}
    assert cache.load(key) is not None


def test_a_missing_run_is_a_readable_reason(store, tmp_path: Path) -> None:
    run = only_run(store)
    gone = dataclasses.replace(run, id=999)
    with pytest.raises(DiagnosticsError, match="no model run with id 999"):
        diagnostics_in_worker(store, gone, DiagnosticsCache(tmp_path / "d"), None)


@pytest.mark.postgresql
def test_a_postgresql_store_reaches_the_worker_without_its_password_in_argv(
        store, pg_url: str, tmp_path: Path) -> None:
    server = PriceStore(pg_url)
    copy_store(store, server)
    run = only_run(server)
    cache = DiagnosticsCache(tmp_path / "diagnostics")
    key = cache.key(server, run)
    password = server.url.password
    assert password and password not in " ".join(worker_command(run.id, cache.folder,
                                                                key.digest))
    assert password in worker_environment(server)[STORE_URL_ENV]
    diag = diagnostics_in_worker(server, run, cache, key)
    assert cache.path(key).is_file() and len(diag.residuals) > 0
