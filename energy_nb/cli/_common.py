"""Helpers shared by the ``energy-nb`` command modules.

Usage::

    def handler(args):
        store = open_store(args)
        emit(args, {"rows": 3}, "3 rows")
        return 0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any


class CliError(Exception):
    """An error the user can fix; printed as ``energy-nb: error: <message>``, exit code 2."""


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add the ``--json`` flag every command has.

    Args:
        parser: the subcommand parser.
    """
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--db``, the store file :func:`open_store` opens (default from ``ENERGY_NB_HOME``).

    Args:
        parser: the subcommand parser.
    """
    parser.add_argument("--db", metavar="FILE_OR_URL",
                        help="store: a SQLite file or a database URL such as "
                             "postgresql://user:password@host:5432/db (default: "
                             "$ENERGY_NB_DATABASE_URL, else $ENERGY_NB_HOME/energy_nb.sqlite)")


def open_store(args: argparse.Namespace | None = None, *, create: bool = False):  # -> PriceStore
    """Open the price store named by ``--db`` or the settings, checked for damage.

    Commands that only read pass ``create=False`` (the default): a missing store is an error
    naming the command that creates one, and nothing is created. ``data init``, ``data import``
    and ``data update`` pass ``create=True``.

    Args:
        args: parsed arguments; ``args.db`` (a path) overrides the default location.
        create: create the store (and its folder) when missing.

    Returns:
        A :class:`energy_nb.data.store.PriceStore`.

    Raises:
        CliError: no store (read commands), or a damaged or unusable one.
    """
    from energy_nb.data.store import PriceStore, StoreError

    db = getattr(args, "db", None) if args is not None else None
    try:
        return (PriceStore(db, create=create) if db
                else PriceStore.from_settings(create=create))
    except StoreError as exc:
        raise CliError(store_error_text(exc, db)) from exc


def store_error_text(exc: Exception, db: str | None = None) -> str:
    """The CLI message for a store error: a damaged store points at ``energy-nb data check``.

    Args:
        exc: a :class:`energy_nb.data.store.StoreError`.
        db: the ``--db`` given, if any (repeated in the suggested command).

    Returns:
        The message.
    """
    from energy_nb.data.store import StoreDamagedError

    text = str(exc)
    if isinstance(exc, StoreDamagedError):
        where = f" --db {exc.path}" if db else ""
        text += f"; `energy-nb data check{where}` lists every problem"
    return text


def to_jsonable(value: Any) -> Any:
    """Convert pandas/numpy/date values to plain JSON types (NaN becomes ``None``).

    Args:
        value: any nested structure.

    Returns:
        A structure ``json.dumps`` accepts.
    """
    import numpy as np  # here, not at the top: the launcher (energy-nb app) never loads them
    import pandas as pd

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [convert(v) for v in value]
        if isinstance(value, (pd.Timestamp, datetime)):
            if (isinstance(value, pd.Timestamp) and value == value.normalize()
                    and value.tz is None):
                return value.strftime("%Y-%m-%d")
            return value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Path):
            return str(value)
        return value

    return convert(value)


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print the result: JSON when ``--json`` was given, else the human text.

    Args:
        args: parsed arguments.
        payload: JSON-able result.
        text: the human-readable rendering.
    """
    if getattr(args, "json", False):
        json.dump(to_jsonable(payload), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text)
