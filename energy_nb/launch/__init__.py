"""Wires settings to the faces and starts them; the only code that imports several faces.

A face (``cli``, ``ui``, ``live``, ``reports``, ``appserver``) never imports another. Starting
one from the command line is composition, not one face depending on another, so it lives here:

- :mod:`energy_nb.launch.live` builds the live server (feed, broker, forecaster, HTTP API, one
  forecast service) from options and :class:`~energy_nb.config.Settings`, and runs it until
  SIGINT/SIGTERM (``energy-nb serve``);
- :mod:`energy_nb.launch.report` runs or exports a report (``energy-nb report``);
- :mod:`energy_nb.launch.schedule` loads, lists and runs the job schedule
  (``energy-nb schedule``).

The CLI keeps argument parsing and output and calls these functions. ``energy_nb.app``
(``energy-nb app``) is the other composition root: it starts the app server and the live server
as processes and imports neither. ``tests/test_layering.py`` checks these rules.

Errors: :class:`LaunchError` (what was asked cannot start: a bad option, file or setting;
nothing ran) and :class:`RunFailed` (it started and failed). The modules import their faces only
when called, so importing them is cheap.

Usage::

    from energy_nb.launch.report import run_report_job
"""

from __future__ import annotations


class LaunchError(ValueError):
    """What was asked cannot be started; the message names what is wrong and nothing ran.

    Attributes:
        option: the option the message is about (e.g. ``"timeout"``, ``"out"``), or None, so
            that a face can name it in its own terms (``--timeout``).
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class RunFailed(RuntimeError):
    """It started and failed (e.g. a report cell raised); the message says where."""
