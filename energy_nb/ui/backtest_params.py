"""Controls of a strategy's parameters on the Backtest page, generated from its ParamSpecs.

Values go to the strategy's own validation (``make_strategy`` / ``ParamSpec.check``) unchanged,
so the page shows the strategy's messages; only text that cannot be read at all (malformed JSON,
a non-number) raises :class:`BacktestInputError` here.

Usage::

    >>> widget = param_widget(spec)                  # IntText, FloatText, Checkbox, Dropdown, Text
    >>> read_param(spec, widget, "sma-cross")        # raw value for make_strategy
    >>> parse_grid("5, 10, 20", spec, "sma-cross")   # optimisation candidates
"""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets

from energy_nb.backtest.strategies import ParamSpec
from energy_nb.ui.glossary import param_label
from energy_nb.ui.model_settings import ModelSettings, ModelSettingsError

__all__ = [
    "MODEL_PARAMS",
    "BacktestInputError",
    "link_model_settings",
    "optimisable",
    "param_widget",
    "parse_grid",
    "read_param",
]

#: Parameters of the forecast strategies shown in the "Forecast model" group.
MODEL_PARAMS = ("model", "horizon", "model_params")


class BacktestInputError(ValueError):
    """A control holds a value that cannot be read (e.g. malformed JSON, a non-integer)."""


def _model_names() -> tuple[str, ...]:
    from energy_nb.models import MODEL_NAMES

    return tuple(MODEL_NAMES)


def _default_model() -> str:
    from energy_nb.backtest.strategies import STRATEGIES

    spec = next(s for s in STRATEGIES["forecast"].param_specs if s.name == "model")
    return str(spec.default)


def link_model_settings(controls: dict[str, widgets.ValueWidget]) -> None:
    """Make a strategy's "Model settings" follow its model dropdown (when it has both).

    Args:
        controls: one strategy's ``{parameter: widget}`` from :func:`param_widget`.
    """
    model, settings = controls.get("model"), controls.get("model_params")
    if model is None or not isinstance(settings, ModelSettings):
        return
    settings.model = model.value
    model.observe(lambda change: setattr(settings, "model", change["new"]), names="value")


def param_widget(spec: ParamSpec) -> widgets.ValueWidget:
    """The input widget of one strategy parameter.

    Numbers use unbounded ``IntText`` / ``FloatText`` so that out-of-range values reach the
    strategy's own validation (and its message); an optional number is a ``Text`` (blank = none);
    ``model`` is a dropdown of the registered models; ``model_params`` is a
    :class:`~energy_nb.ui.model_settings.ModelSettings` (one control per setting of the model,
    linked to the dropdown by :func:`link_model_settings`); another mapping is JSON text.

    Args:
        spec: the parameter's spec.

    Returns:
        The widget (``description`` = the parameter's plain label, ``tooltip`` = its help).
    """
    # a plain label ("Entry threshold (z-score)", not "entry_z"); the help text is the tooltip
    common = {"description": param_label(spec.name), "style": {"description_width": "190px"},
              "layout": widgets.Layout(width="330px")}
    if spec.name == "model":
        names = _model_names()
        widget: widgets.ValueWidget = widgets.Dropdown(
            options=names, value=spec.default if spec.default in names else names[0], **common)
    elif spec.kind == "bool":
        widget = widgets.Checkbox(value=bool(spec.default), description=param_label(spec.name),
                                  indent=False)
    elif spec.name == "model_params":  # a typed control per setting of the chosen model
        # (no tooltip: a Box's view reads its description, which a Box lacks, and fails)
        return ModelSettings(_default_model())
    elif spec.kind == "dict":
        widget = widgets.Text(value=json.dumps(spec.default or {}), placeholder="{}", **common)
    elif spec.optional:
        widget = widgets.Text(value="" if spec.default is None else str(spec.default),
                              placeholder="all", **common)
    elif spec.kind == "int":
        widget = widgets.IntText(value=int(spec.default), **common)
    elif spec.kind == "float":
        widget = widgets.FloatText(value=float(spec.default), **common)
    elif spec.choices:
        widget = widgets.Dropdown(options=list(spec.choices), value=spec.default, **common)
    else:
        widget = widgets.Text(value=str(spec.default), **common)
    widget.tooltip = spec.help
    widget.add_class(f"enb-param-{spec.name.replace('_', '-')}")
    return widget


def read_param(spec: ParamSpec, widget: widgets.ValueWidget, strategy: str) -> Any:
    """The raw value of a parameter widget, ready for ``make_strategy``.

    Args:
        spec: the parameter's spec.
        widget: its widget.
        strategy: strategy name, for messages.

    Returns:
        The value (range and type checks are left to the strategy).

    Raises:
        BacktestInputError: text that is not JSON / not a number.
    """
    if isinstance(widget, ModelSettings):
        try:
            return widget.read(strategy)
        except ModelSettingsError as exc:
            raise BacktestInputError(str(exc)) from None
    value = widget.value
    where = f"{strategy}: parameter {spec.name!r}"
    if spec.kind == "dict":
        text = (value or "").strip() or "{}"
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BacktestInputError(f"{where} must be a JSON object like "
                                     f'{{"order": [1, 1, 1]}}: {exc.msg}') from None
        if not isinstance(parsed, dict):
            raise BacktestInputError(f"{where} must be a JSON object, got {text!r}")
        return parsed
    if spec.optional and isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() in ("all", "none"):
            return None
        try:
            number = float(text)
        except ValueError:
            raise BacktestInputError(
                f"{where} must be a number or blank (= {spec.help}), got {text!r}") from None
        return int(number) if spec.kind == "int" and number.is_integer() else number
    return value


def parse_grid(text: str, spec: ParamSpec, strategy: str) -> list[Any]:
    """Candidate values of one parameter for the optimisation, e.g. ``"5, 10, 20"``.

    Args:
        text: values separated by commas or spaces (blank = not optimised).
        spec: the parameter's spec; every value is checked with it (the strategy's own rule).
        strategy: strategy name, for messages.

    Returns:
        The distinct values in the order given (empty when ``text`` is blank).

    Raises:
        BacktestInputError: a value that is not a number.
        StrategyError: a value the strategy rejects (e.g. ``fast`` below 1).
    """
    values: list[Any] = []
    for token in text.replace(",", " ").split():
        try:
            number = float(token)
        except ValueError:
            raise BacktestInputError(
                f"{strategy}: optimisation values of {spec.name!r} must be numbers separated by "
                f"commas, got {token!r}") from None
        value = spec.check(strategy, int(number) if number.is_integer() else number)
        if value not in values:
            values.append(value)
    return values


def optimisable(spec: ParamSpec) -> bool:
    """Whether the optimisation can search a parameter (a required number)."""
    return spec.kind in ("int", "float") and not spec.optional
