"""Parameters of the report notebook and their validation.

``notebooks/report.ipynb`` has a cell tagged ``parameters`` whose names are the fields of
:class:`ReportParameters`. papermill injects new values; both the ``energy-nb report`` command
(before it starts a kernel) and the notebook itself (first thing after the injected cell) call
:func:`validate_parameters`, so a bad value fails at once with one clear
:class:`ReportParameterError` naming the parameter, instead of half a report.

Usage::

    >>> params = validate_parameters({"commodities": ["wti"], "horizon": 5})
    >>> params.commodities, params.horizon
    (('WTI',), 5)
    >>> params = check_against_data(params, store)  # as_of inside the stored data  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_nb.commodities import CODES
from energy_nb.service import requests as rules

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore

#: Horizons a report offers (trading days): the rule every face shares.
MIN_HORIZON, MAX_HORIZON = rules.MIN_HORIZON, rules.MAX_HORIZON
#: Output formats ``energy-nb report`` can write.
FORMATS: tuple[str, ...] = ("html", "ipynb", "pdf")
#: How plotly.js gets into the HTML: ``inline`` (self-contained, works offline and for PDF) or
#: ``cdn`` (a much smaller file that needs the network to draw the charts).
PLOTLYJS_MODES: tuple[str, ...] = ("inline", "cdn")
#: The shortest time (seconds) one report cell may be given: the forecast, accuracy-check and
#: backtest cells take seconds each, so a shorter limit can only fail, after the kernel started.
MIN_CELL_TIMEOUT = 10.0


class ReportParameterError(ValueError):
    """A report parameter is invalid; the message names the parameter and what is allowed."""


@dataclass(frozen=True)
class ReportParameters:
    """Everything a report run depends on.

    Attributes:
        commodities: commodity codes to report, in order (default: all).
        horizon: forecast horizon in trading days, ``1..30``.
        model: forecasting model name (see :data:`energy_nb.models.MODEL_NAMES`).
        as_of: report date ``YYYY-MM-DD``; only prices up to it are used. ``None`` = the latest
            stored price of each commodity.
        levels: prediction interval levels in percent, e.g. ``(80, 95)``.
        title: report title.
        strategy: the backtest strategy summarised (a ``make_strategy`` name).
        backtest_days: trading days of history the backtest covers (ending at ``as_of``).
        eval_origins: forecast origins of the small walk-forward accuracy check.
        eval_step: trading days between those origins.
        history_days: trading days of history drawn before each forecast.
        plotlyjs: ``"inline"`` or ``"cdn"`` (see :data:`PLOTLYJS_MODES`).
        db: store file to read (``None`` = the default store of ``ENERGY_NB_HOME``).
        live: must stay ``False``: a static report has no live updates.
    """

    commodities: tuple[str, ...] = CODES
    horizon: int = 10
    model: str = "auto"
    as_of: str | None = None
    levels: tuple[int, ...] = (80, 95)
    title: str = "Energy prices: daily report"
    strategy: str = "sma-cross"
    backtest_days: int = 504
    eval_origins: int = 6
    eval_step: int = 5
    history_days: int = 90
    plotlyjs: str = "inline"
    db: str | None = None
    live: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (tuples become lists), as papermill injects them.

        Returns:
            ``{name: value}`` for every field.
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def as_of_timestamp(self) -> pd.Timestamp | None:
        """``as_of`` as a ``pd.Timestamp`` (``None`` when not set)."""
        return None if self.as_of is None else pd.Timestamp(self.as_of)


#: The parameter names, in the order of the notebook's parameters cell.
PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ReportParameters))


def default_parameters() -> dict[str, Any]:
    """The default parameters as plain JSON types.

    Returns:
        ``ReportParameters().to_dict()``.
    """
    return ReportParameters().to_dict()


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ReportParameterError(f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ReportParameterError(f"{name} must be an integer, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ReportParameterError(f"{name} must be an integer, got {value!r}")
    number = int(number)
    if number < low or (high is not None and number > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ReportParameterError(f"{name} must be in {span}, got {number}")
    return number


def _commodities(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, Sequence) or not value:
        raise ReportParameterError(
            f"commodities must be a non-empty list of {', '.join(CODES)}, got {value!r}"
        )
    codes: list[str] = []
    for item in value:
        code = _by_rule(rules.commodity_code, str(item), "commodities")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _by_rule(rule: Any, value: Any, name: str) -> Any:
    """Apply a rule of :mod:`energy_nb.service.requests` to parameter ``name``; its message is
    the error's, prefixed by the parameter's name when the message does not start with it."""
    try:
        return rule(value, name)
    except rules.RequestError as exc:
        message = exc.message if exc.message.startswith(name) else f"{name}: {exc.message}"
        raise ReportParameterError(message) from None


def _whole(value: Any) -> Any:
    """A whole float (papermill's YAML may give ``5.0``) as int; anything else as it is."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _levels(value: Any) -> tuple[int, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (str, Sequence)):
        raise ReportParameterError(f"levels must be a list like [80, 95], got {value!r}")
    if not isinstance(value, str):
        value = [_whole(v) for v in value]
    return _by_rule(rules.parse_levels, value, "levels")


def _date(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str)
                         and value.strip().lower() in ("", "none", "latest")):
        return None
    day = _by_rule(rules.date, value, name)
    ts = pd.Timestamp(value)
    if ts != ts.normalize():
        raise ReportParameterError(f"{name} must be a date without a time, got {value!r}")
    return day.strftime("%Y-%m-%d")


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    text = str(value).strip().lower().replace("_", "-") if isinstance(value, str) else None
    normalised = {c.replace("_", "-"): c for c in choices}
    if text not in normalised:
        raise ReportParameterError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return normalised[text]


def validate_parameters(raw: Mapping[str, Any] | ReportParameters | None = None, **overrides: Any
                        ) -> ReportParameters:
    """Check and normalise report parameters (everything that does not need the data).

    Args:
        raw: parameters by name (missing names take their defaults), or a
            :class:`ReportParameters`.
        **overrides: further values, applied over ``raw``.

    Returns:
        The validated :class:`ReportParameters`: commodity codes upper-case and unique, levels
        sorted, ``as_of`` as ``YYYY-MM-DD`` or ``None``.

    Raises:
        ReportParameterError: naming the first invalid parameter (or unknown parameter names).
    """
    given: dict[str, Any] = {}
    if isinstance(raw, ReportParameters):
        given.update(raw.to_dict())
    elif raw is not None:
        if not isinstance(raw, Mapping):
            raise ReportParameterError(f"parameters must be a mapping, got {type(raw).__name__}")
        given.update(raw)
    given.update(overrides)
    unknown = sorted(set(given) - set(PARAMETER_NAMES))
    if unknown:
        raise ReportParameterError(
            f"unknown report parameter(s) {', '.join(unknown)}; known: {', '.join(PARAMETER_NAMES)}"
        )
    values = {**default_parameters(), **given}

    live = values["live"]
    if live not in (False, 0, None, "false", "False", "0", "off"):
        raise ReportParameterError(
            "live must be False: a report is a static document and cannot stream live forecasts"
        )
    title = values["title"]
    if not isinstance(title, str) or not title.strip():
        raise ReportParameterError(f"title must be a non-empty string, got {title!r}")
    if len(title) > 200:
        raise ReportParameterError(f"title must be at most 200 characters, got {len(title)}")
    db = values["db"]
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise ReportParameterError(f"db must be a file path or None, got {db!r}")
    if db is not None and "://" in db:
        from energy_nb.data.database import DatabaseUrlError, masked, parse_url

        try:
            url = parse_url(db)
        except DatabaseUrlError as exc:
            raise ReportParameterError(f"db: {exc}") from None
        if url.password:  # the parameters are written into the report's notebook and run.json
            raise ReportParameterError(
                f"db {masked(url)} holds a password, which would be written into the report; "
                "set ENERGY_NB_DATABASE_URL instead and leave db out")
    return ReportParameters(
        commodities=_commodities(values["commodities"]),
        horizon=_by_rule(rules.parse_horizon, _whole(values["horizon"]), "horizon"),
        model=_by_rule(rules.model_name, values["model"], "model"),
        as_of=_date("as_of", values["as_of"]),
        levels=_levels(values["levels"]),
        title=title.strip(),
        strategy=_by_rule(rules.strategy_name, values["strategy"], "strategy"),
        backtest_days=_int("backtest_days", values["backtest_days"], 60, 20_000),
        eval_origins=_int("eval_origins", values["eval_origins"], 1, 60),
        eval_step=_int("eval_step", values["eval_step"], 1, 60),
        history_days=_int("history_days", values["history_days"], 5, 5_000),
        plotlyjs=_choice("plotlyjs", values["plotlyjs"], PLOTLYJS_MODES),
        db=db,
        live=False,
    )


def check_against_data(params: ReportParameters, store: PriceStore) -> ReportParameters:
    """Check the parameters that depend on the stored data.

    ``as_of`` must lie within the stored prices of every reported commodity: not before the
    first price plus enough history for the accuracy check and the backtest's indicators, and not
    after the last stored price.

    Args:
        params: validated parameters.
        store: the price store the report reads.

    Returns:
        ``params`` unchanged (for chaining).

    Raises:
        ReportParameterError: a commodity has no data, or ``as_of`` is outside the data.
    """
    as_of = params.as_of_timestamp()
    need = params.horizon + (params.eval_origins - 1) * params.eval_step + 60
    for code in params.commodities:
        valid = store.load(code).dropna()
        if valid.empty:
            raise ReportParameterError(
                f"no {code} prices stored; import them first (energy-nb data init)"
            )
        first, last = valid.index[0], valid.index[-1]
        if as_of is None:
            continue
        if as_of < first:
            raise ReportParameterError(
                f"as_of {params.as_of} is before the first {code} price ({first.date()})"
            )
        if as_of > last:
            raise ReportParameterError(
                f"as_of {params.as_of} is after the last stored {code} price ({last.date()}); "
                "run energy-nb data update or choose an earlier date"
            )
        if int(valid.index.searchsorted(as_of, "right")) < need:
            earliest = valid.index[min(need, len(valid)) - 1].date()
            raise ReportParameterError(
                f"as_of {params.as_of} leaves too little {code} history before it for a "
                f"{params.horizon}-day forecast and its accuracy check; use {earliest} or later"
            )
    return params


def check_timeout(timeout: Any) -> float:
    """Check the per-cell time limit of a report run.

    Args:
        timeout: seconds, at least :data:`MIN_CELL_TIMEOUT` and finite.

    Returns:
        The limit as a float.

    Raises:
        ReportParameterError: not a number, not finite, or too short.

    Usage::

        >>> check_timeout(600)
        600.0
    """
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise ReportParameterError(
            f"timeout must be a number of seconds, got {timeout!r}") from None
    if isinstance(timeout, bool) or not math.isfinite(value) or value < MIN_CELL_TIMEOUT:
        raise ReportParameterError(
            f"timeout must be a finite number of seconds, at least {MIN_CELL_TIMEOUT:g} "
            f"(one report cell can take several seconds), got {timeout!r}")
    return value


def check_out_dir(out: str | Path) -> Path:
    """Check that the reports folder exists or can be created, and can be written.

    Args:
        out: the folder holding the report run folders.

    Returns:
        ``out`` as a path (nothing is created).

    Raises:
        ReportParameterError: ``out`` is a file, lies under a file, or is not writable.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ReportParameterError(f"out {out} is a file, not a folder; give a folder for the "
                                   "reports")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ReportParameterError(f"cannot create the reports folder {out}: {existing} is a "
                                   "file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportParameterError(f"cannot write the reports folder {out}: {existing} is not "
                                   "writable")
    return out


def with_changes(params: ReportParameters, **changes: Any) -> ReportParameters:
    """A validated copy with some parameters changed.

    Args:
        params: the starting parameters.
        **changes: new values by name.

    Returns:
        The validated parameters.
    """
    return validate_parameters(params.to_dict(), **changes)


__all__ = [
    "FORMATS",
    "MAX_HORIZON",
    "MIN_HORIZON",
    "PARAMETER_NAMES",
    "PLOTLYJS_MODES",
    "ReportParameterError",
    "ReportParameters",
    "check_against_data",
    "default_parameters",
    "validate_parameters",
    "with_changes",
]
