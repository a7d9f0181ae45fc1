"""Run a report, or export one executed elsewhere, from settings and checked options.

``energy-nb report`` parses its flags, calls :func:`check_report_options` before anything else
(no store, folder or kernel yet), opens the store, then :func:`run_report_job`; ``--export``
calls :func:`export_report`. The report itself is :mod:`energy_nb.reports.run`.

Usage::

    timeout, out = check_report_options(600, None)      # out: $ENERGY_NB_HOME/reports
    result = run_report_job({"commodities": ["WTI"]}, out=out, timeout=timeout, store=store)
    print(result.run_dir)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from energy_nb.launch import LaunchError, RunFailed


def check_report_options(timeout: Any, out: str | Path | None,
                         settings: Any = None) -> tuple[float, Path]:
    """Check a report run's cell timeout and output folder; nothing is created.

    Args:
        timeout: seconds one notebook cell may run.
        out: the folder holding the run folders, or None for ``$ENERGY_NB_HOME/reports``.
        settings: :class:`~energy_nb.config.Settings` (default: from the environment).

    Returns:
        ``(timeout, out)`` checked.

    Raises:
        LaunchError: ``option`` is ``"timeout"`` or ``"out"``; the message starts with the
            option's name for the timeout (``timeout must be ...``).
    """
    from energy_nb.config import Settings
    from energy_nb.reports.parameters import ReportParameterError, check_out_dir, check_timeout

    try:
        seconds = check_timeout(timeout)
    except ReportParameterError as exc:
        raise LaunchError(str(exc), option="timeout") from None
    folder = Path(out) if out is not None else (settings or Settings.from_env()).home / "reports"
    try:
        return seconds, check_out_dir(folder)
    except ReportParameterError as exc:
        raise LaunchError(str(exc), option="out") from None


def run_report_job(parameters: Mapping[str, object], *, out: Path, formats: str = "html,ipynb",
                   keep: int | None = None, timeout: float = 600.0, store: Any = None,
                   paper: str = "a4") -> Any:
    """Execute the report notebook into a new run folder under ``out`` and export it.

    Args:
        parameters: report parameters (unset ones keep their defaults).
        out: the folder holding the run folders.
        formats: comma-separated ``html``, ``pdf``, ``ipynb``.
        keep: keep only this many newest reports (None: all).
        timeout: seconds one cell may run.
        store: the :class:`~energy_nb.data.store.PriceStore` the data checks read.
        paper: the PDF's paper, ``a4`` or ``letter``.

    Returns:
        The :class:`~energy_nb.reports.run.ReportResult`.

    Raises:
        LaunchError: invalid parameters (nothing written).
        RunFailed: a cell or an export failed (the partial notebook is kept under
            ``<out>/failed/``).
        StoreError: the store cannot be read.
    """
    from energy_nb.reports.parameters import ReportParameterError
    from energy_nb.reports.run import ReportError, run_report

    try:
        return run_report(parameters, out_dir=out, formats=formats, keep=keep, timeout=timeout,
                          store=store, paper=paper)
    except ReportParameterError as exc:
        raise LaunchError(str(exc)) from None
    except ReportError as exc:
        raise RunFailed(str(exc)) from exc


def export_report(notebook: str | Path, formats: str = "html", plotlyjs: str = "inline",
                  paper: str = "a4") -> dict[str, Path]:
    """Export a report notebook executed elsewhere (e.g. by Airflow) to HTML/PDF beside it.

    Args:
        notebook: the executed notebook.
        formats: ``html`` and/or ``pdf``.
        plotlyjs: ``inline`` or ``cdn``.
        paper: the PDF's paper.

    Returns:
        Format -> path written.

    Raises:
        LaunchError: missing notebook or bad format.
        RunFailed: the export failed.
    """
    from energy_nb.reports.parameters import ReportParameterError
    from energy_nb.reports.run import ReportError, export_notebook

    try:
        return export_notebook(notebook, formats, plotlyjs, paper=paper)
    except ReportParameterError as exc:
        raise LaunchError(str(exc)) from None
    except ReportError as exc:
        raise RunFailed(str(exc)) from exc
