"""The store's errors, importable without the store.

:mod:`energy_nb.data.store` raises them and re-exports them (``from energy_nb.data.store import
StoreError`` keeps working). They live here so that code that only *catches* them -- the
``energy-nb`` command line's top level, which also runs the ``energy-nb app`` launcher -- does
not load SQLAlchemy and pandas (about 75 MiB in a process that only starts and watches the
servers).

Usage::

    from energy_nb.data.errors import StoreError
    try:
        ...
    except StoreError as exc:
        print(exc)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class StoreError(RuntimeError):
    """The store cannot be opened or used (e.g. a newer schema, a locked or corrupt file)."""


class StoreMissingError(StoreError):
    """A command that only reads was pointed at a store that does not exist.

    Attributes:
        path: the missing file, or the (masked) URL of a database without an energy_nb store.
    """

    def __init__(self, path: Path | str):
        self.path = path
        if isinstance(path, Path):
            folder = "" if path.parent.is_dir() else f"; its folder {path.parent} does not exist"
            where = f"there is no store at {path}{folder}"
        else:
            where = f"there is no energy_nb store in the database {path}"
        super().__init__(
            f"{where}. Create one with `energy-nb data init` "
            "(downloads the prices, or --offline-dir FOLDER) or `energy-nb data import FILE`, "
            "or give the right store with --db")


class StoreDamagedError(StoreError):
    """The store file is damaged: unreadable pages, a missing table or column, impossible rows.

    Attributes:
        path: the store file.
        what: the (first) problem.
        problems: every problem found (:class:`energy_nb.data.store_check.StoreProblem`).
    """

    def __init__(self, path: Path | str, what: str, problems: Sequence[Any] = ()):
        self.path, self.what, self.problems = path, what, list(problems)
        super().__init__(f"the store at {path} is damaged ({what})")


class StoreVersionError(StoreError):
    """The store was written by a newer energy_nb (its schema version is higher than ours)."""
