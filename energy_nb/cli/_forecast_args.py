"""Argument types and output helpers shared by ``evaluate``, ``forecast`` and ``models``.

Each type function raises :class:`argparse.ArgumentTypeError` with a message naming the bad value,
so argparse prints ``energy-nb <cmd>: error: argument --x: <message>`` and exits with 2.

Usage::

    parser.add_argument("--horizon", type=horizon_arg, default=7)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from energy_nb.cli._common import CliError, to_jsonable
from energy_nb.commodities import CODES, UnknownCommodityError, get_commodity

MAX_HORIZON = 30


def commodity_arg(value: str) -> str:
    """One commodity code (case-insensitive)."""
    try:
        return get_commodity(value).code
    except UnknownCommodityError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    """One model name (case-insensitive)."""
    name = value.strip().lower().replace("-", "_")
    if name not in _model_names():
        raise argparse.ArgumentTypeError(
            f"unknown model {value!r}; expected one of {', '.join(_model_names())}"
        )
    return name


def models_arg(value: str) -> list[str]:
    """Comma-separated model names, or ``all``."""
    if value.strip().lower() == "all":
        return list(_model_names())
    names = [model_arg(part) for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no model given")
    return list(dict.fromkeys(names))


def horizon_arg(value: str) -> int:
    """A horizon of 1..30 trading days."""
    try:
        horizon = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"horizon must be an integer number of trading days, got {value!r}") from None
    if not 1 <= horizon <= MAX_HORIZON:
        raise argparse.ArgumentTypeError(f"horizon must be between 1 and {MAX_HORIZON}, "
                                         f"got {horizon}")
    return horizon


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
    levels = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            level = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"interval levels must be integers between 0 and 100, got {part!r}") from None
        if not 0 < level < 100:
            raise argparse.ArgumentTypeError(
                f"interval levels must be between 0 and 100 (exclusive), got {level}")
        levels.append(level)
    if not levels:
        raise argparse.ArgumentTypeError("no interval level given")
    return tuple(sorted(set(levels)))


def date_arg(value: str) -> pd.Timestamp:
    """A calendar date, ``YYYY-MM-DD``."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT or not isinstance(ts, pd.Timestamp):
        raise argparse.ArgumentTypeError(f"not a valid date: {value!r} (use YYYY-MM-DD)")
    return ts.normalize()


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
