"""Settings from ``ENERGY_NB_*`` environment variables.

Usage::

    >>> from energy_nb.config import Settings
    >>> Settings.from_env().db_path.name
    'energy_nb.sqlite'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The project folder when running from a checkout (``energy_nb/..``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Run-time settings.

    Attributes:
        home: folder holding the store (``ENERGY_NB_HOME``; default ``<project>/var``).
        eia_api_key: key for EIA API v2 (``ENERGY_NB_EIA_API_KEY``).
        fred_base_url: FRED graph CSV endpoint (``ENERGY_NB_FRED_URL``), overridable for tests.
        eia_base_url: EIA API v2 base (``ENERGY_NB_EIA_URL``), overridable for tests.
        api_key: key the live server demands (``ENERGY_NB_API_KEY``), if any.
        ws_url: live server URL dashboards connect to (``ENERGY_NB_WS_URL``).
        broadcast_url: fan-out URL, ``memory://`` or ``redis://...`` (``ENERGY_NB_BROADCAST_URL``).
        database_url_env: the store URL given in ``ENERGY_NB_DATABASE_URL``, if any (see
            :attr:`database_url`).
    """

    home: Path
    eia_api_key: str | None = None
    fred_base_url: str = "https://fred.stlouisfed.org/graph/fredgraph.csv"
    eia_base_url: str = "https://api.eia.gov/v2"
    api_key: str | None = None
    ws_url: str = "ws://127.0.0.1:8000/api/v1/ws/forecast"
    broadcast_url: str = "memory://"
    database_url_env: str | None = None

    @property
    def db_path(self) -> Path:
        """Path of the SQLite store file."""
        return self.home / "energy_nb.sqlite"

    @property
    def database_url(self) -> str:
        """The store URL: ``ENERGY_NB_DATABASE_URL``, else ``sqlite:///<home>/energy_nb.sqlite``.

        Print it with :func:`energy_nb.data.database.masked` (it may hold a password).
        """
        return self.database_url_env or f"sqlite:///{self.db_path}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        """Build settings from environment variables.

        Args:
            environ: mapping to read instead of ``os.environ``.

        Returns:
            The settings.
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("ENERGY_NB_HOME") or PROJECT_ROOT / "var").expanduser()
        defaults = cls(home=home)
        return cls(
            home=home,
            eia_api_key=env.get("ENERGY_NB_EIA_API_KEY") or None,
            fred_base_url=env.get("ENERGY_NB_FRED_URL") or defaults.fred_base_url,
            eia_base_url=env.get("ENERGY_NB_EIA_URL") or defaults.eia_base_url,
            api_key=env.get("ENERGY_NB_API_KEY") or None,
            ws_url=env.get("ENERGY_NB_WS_URL") or defaults.ws_url,
            broadcast_url=env.get("ENERGY_NB_BROADCAST_URL") or defaults.broadcast_url,
            database_url_env=env.get("ENERGY_NB_DATABASE_URL") or None,
        )
