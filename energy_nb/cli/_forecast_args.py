"""Argument types and output helpers shared by ``evaluate``, ``forecast`` and ``models``.

The rules and their messages are those of :mod:`energy_nb.service.requests`; each type function
turns a :class:`~energy_nb.service.requests.RequestError` into an
:class:`argparse.ArgumentTypeError` with the same message, so argparse prints
``energy-nb <cmd>: error: argument --x: <message>`` and exits with 2.

Usage::

    parser.add_argument("--horizon", type=horizon_arg, default=7)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from energy_nb.cli._common import CliError, to_jsonable
from energy_nb.commodities import CODES
from energy_nb.service import requests as rules

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


def _by_rule(rule: Callable[[str], T], value: str) -> T:
    try:
        return rule(value)
    except rules.RequestError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def commodity_arg(value: str) -> str:
    """One commodity code (case-insensitive)."""
    return _by_rule(rules.commodity_code, value)


def commodities_arg(value: str) -> list[str]:
    """Comma-separated commodity codes, or ``all``."""
    if value.strip().lower() == "all":
        return list(CODES)
    codes = [commodity_arg(part) for part in value.split(",") if part.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("no commodity given")
    return list(dict.fromkeys(codes))


def _model_names() -> tuple[str, ...]:
    from energy_nb.models import MODEL_NAMES

    return tuple(MODEL_NAMES)


def model_arg(value: str) -> str:
    """One model name (case-insensitive, ``-`` or ``_``)."""
    return _by_rule(rules.model_name, value)


def strategy_arg(value: str) -> str:
    """One strategy name (case-insensitive, ``-`` or ``_``)."""
    return _by_rule(rules.strategy_name, value)


def models_arg(value: str) -> list[str]:
    """Comma-separated model names, or ``all``."""
    if value.strip().lower() == "all":
        return list(_model_names())
    names = [model_arg(part) for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no model given")
    return list(dict.fromkeys(names))


def horizon_arg(value: str) -> int:
    """A horizon of ``MIN_HORIZON..MAX_HORIZON`` (1..30) trading days."""
    return _by_rule(rules.parse_horizon, value)


def positive_int_arg(value: str) -> int:
    """An integer >= 1."""
    return _int_at_least(value, 1, "a positive integer")


def non_negative_int_arg(value: str) -> int:
    """An integer >= 0."""
    return _int_at_least(value, 0, "a whole number >= 0")


def _int_at_least(value: str, least: int, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if number < least:
        raise argparse.ArgumentTypeError(f"expected {what}, got {number}")
    return number


def levels_arg(value: str) -> tuple[int, ...]:
    """Comma-separated interval levels, integers strictly between 0 and 100."""
    return _by_rule(rules.parse_levels, value)


def date_arg(value: str) -> pd.Timestamp:
    """A calendar date, ``YYYY-MM-DD``."""
    ts = _by_rule(lambda text: rules.date(text, None), value)
    if ts is None:
        raise argparse.ArgumentTypeError(f"not a valid date: {value!r} (use YYYY-MM-DD)")
    return ts


def add_json_output(parser: argparse.ArgumentParser) -> None:
    """Add ``--json [PATH]``: JSON on stdout, or written to PATH."""
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                        help="print JSON (or write it to PATH)")


def write_atomic(path: Path, text: str) -> None:
    """Write a text file via a temporary file and rename, so nothing is half-written.

    Args:
        path: destination.
        text: content.

    Raises:
        CliError: the folder does not exist or is not writable.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def output_json(json_arg: str | None, payload: Any) -> bool:
    """Emit JSON per ``--json [PATH]``.

    Args:
        json_arg: ``None`` (no JSON), ``"-"`` (stdout) or a path.
        payload: JSON-able data.

    Returns:
        Whether the JSON went to stdout (then no human text should be printed).
    """
    if json_arg is None:
        return False
    text = json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n"
    if json_arg == "-":
        print(text, end="")
        return True
    write_atomic(Path(json_arg), text)
    return False
