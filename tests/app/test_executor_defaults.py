"""Voilà's executor waits for a busy kernel's output (energy_nb.appserver.server)."""

from __future__ import annotations

import nbformat
from traitlets.config import Config
from voila.execute import VoilaExecutor

from energy_nb.appserver.server import IOPUB_TIMEOUT_S, apply_executor_defaults


def test_pages_wait_longer_than_nbclients_4_s_for_a_cells_output() -> None:
    config = Config()
    apply_executor_defaults(config)
    executor = VoilaExecutor(nbformat.v4.new_notebook(), config=config)
    assert executor.iopub_timeout == IOPUB_TIMEOUT_S > 4
    assert VoilaExecutor(nbformat.v4.new_notebook()).iopub_timeout == 4  # nbclient's default


def test_an_operators_setting_wins() -> None:
    config = Config()
    config.VoilaExecutor.iopub_timeout = 9
    apply_executor_defaults(config)
    assert VoilaExecutor(nbformat.v4.new_notebook(), config=config).iopub_timeout == 9
