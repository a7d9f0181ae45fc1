"""The store's schema migrations (Alembic), shipped in the package and run by the store itself.

:func:`upgrade` brings a store to the newest revision inside the caller's write transaction; no
``alembic.ini`` is needed. Revisions are numbered ``0001``, ``0002``, ...: the number is the
store's schema version (on SQLite it is mirrored in ``PRAGMA user_version``, which is what the
first release counted, so an older energy_nb refuses a store newer than itself).

Usage::

    with engine.connect() as conn, conn.begin():
        upgrade(conn)

A new revision (then edit its ``upgrade``/``downgrade``, bump ``store.SCHEMA_VERSION``)::

    python -c "from energy_nb.data.migrations import new_revision; new_revision('add x', '0002')"
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection

HERE = Path(__file__).resolve().parent


def _config(connection: Connection | None = None):  # -> alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision this energy_nb knows (e.g. ``"0001"``)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, f"the store migrations have {len(heads)} heads: {heads}"
    return heads[0]


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this energy_nb knows."""
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions())


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on an open connection (inside its transaction).

    Args:
        connection: a connection in a write transaction.
        revision: target revision.
    """
    from alembic import command

    command.upgrade(_config(connection), revision)


def new_revision(message: str, number: str) -> Path:
    """Write an empty revision file ``versions/<number>_<message>.py`` after the current head.

    Args:
        message: what the revision does (its docstring and file name).
        number: the next schema version, four digits (e.g. ``"0002"``).

    Returns:
        The new file.
    """
    from alembic import command

    script = command.revision(_config(), message, rev_id=number)
    head.cache_clear()
    known_revisions.cache_clear()
    return Path(script.path)  # type: ignore[union-attr]


def stamp(connection: Connection, revision: str) -> None:
    """Record ``revision`` as applied without running anything (a first-release store).

    Args:
        connection: a connection in a write transaction.
        revision: the revision the store's tables already match.
    """
    from alembic import command

    command.stamp(_config(connection), revision)
