"""The commodity catalogue: names, units and source series ids.

Every entry point accepts commodity names case-insensitively through :func:`get_commodity`.

Usage::

    >>> from energy_nb.commodities import get_commodity
    >>> get_commodity("wti").unit
    'USD/bbl'
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownCommodityError(ValueError):
    """Raised when a commodity name is not in the catalogue."""


@dataclass(frozen=True)
class Commodity:
    """One priced commodity.

    Attributes:
        code: canonical upper-case code (``WTI``, ``BRENT``, ``NG``).
        name: human-readable name.
        unit: price unit.
        eia_series: EIA series id (API v2 ``petroleum/pri/spt`` or ``natural-gas/pri/fut``).
        fred_series: FRED series id (CSV download without key).
        color: the colour used for this commodity on every chart.
        snapshot_file: file name in the EIA offline snapshot folder.
    """

    code: str
    name: str
    unit: str
    eia_series: str
    fred_series: str
    color: str
    snapshot_file: str


COMMODITIES: dict[str, Commodity] = {
    "WTI": Commodity("WTI", "WTI crude oil (Cushing, OK)", "USD/bbl", "RWTC", "DCOILWTICO",
                     "#1f77b4", "wti-daily.csv"),
    "BRENT": Commodity("BRENT", "Brent crude oil (Europe)", "USD/bbl", "RBRTE", "DCOILBRENTEU",
                       "#d62728", "brent-daily.csv"),
    "NG": Commodity("NG", "Henry Hub natural gas", "USD/MMBtu", "RNGWHHD", "DHHNGSP",
                    "#2ca02c", "henryhub-daily.csv"),
}

CODES: tuple[str, ...] = tuple(COMMODITIES)


def get_commodity(name: str) -> Commodity:
    """Look up a commodity by code, case-insensitively.

    Args:
        name: ``"WTI"``, ``"brent"``, ``"ng"`` ...

    Returns:
        The :class:`Commodity`.

    Raises:
        UnknownCommodityError: naming the bad value and the known codes.
    """
    if not isinstance(name, str):
        raise UnknownCommodityError(f"commodity must be a string, got {type(name).__name__}")
    key = name.strip().upper()
    try:
        return COMMODITIES[key]
    except KeyError:
        raise UnknownCommodityError(
            f"unknown commodity {name!r}; expected one of {', '.join(CODES)}"
        ) from None


def normalize(name: str) -> str:
    """Return the canonical code for ``name`` (see :func:`get_commodity`)."""
    return get_commodity(name).code
