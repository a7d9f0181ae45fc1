"""The "Model settings" of a forecast strategy: one typed control per constructor parameter.

The controls are generated from the chosen model's constructor (its parameters and defaults,
:func:`energy_nb.models.model_class`): a checkbox for a flag, a number box for a number, a
dropdown for a fixed set of words, a multiple choice for model names, a text box (blank = none)
for an optional number. Each control has a plain label (:data:`~energy_nb.ui.glossary.
MODEL_PARAM_LABELS`) and the model docstring's line as its tooltip and help text, limits
included. The values are checked by the model itself (``make_model``), and a value it rejects
comes back as a message naming the setting by its label.

Usage::

    >>> box = ModelSettings("arima")
    >>> box.controls["max_p"].value = 1
    >>> box.read("forecast")           # only the settings changed from the defaults
    {'max_p': 1}
    >>> box.model = "ets"              # another model: its own controls (the arima ones are kept)
"""

from __future__ import annotations

import html
import inspect
import re
from typing import Any

import ipywidgets as widgets
import traitlets

from energy_nb.ui.glossary import model_param_label

__all__ = ["CHOICES", "ModelSettings", "ModelSettingsError", "model_param_help"]

#: Parameters whose value is one of a few words: ``{name: ((shown, value), ...)}``.
CHOICES: dict[str, tuple[tuple[str, Any], ...]] = {
    "trend": (("additive (Holt)", "add"), ("none (simple smoothing)", None)),
    "estimator": (("ridge regression", "ridge"), ("gradient boosting", "hgb")),
    "combine": (("mean", "mean"), ("median", "median")),
}

#: Parameters that list model names (the composites cannot be members).
MODEL_LISTS = ("members", "candidates")
_COMPOSITES = ("ensemble", "auto")


class ModelSettingsError(ValueError):
    """A model setting holds a value that cannot be read or that the model rejects."""


def _signature_defaults(model: str) -> dict[str, Any]:
    from energy_nb.models import model_class

    cls = model_class(model)
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def model_param_help(model: str) -> dict[str, str]:
    """The one-line help of each constructor parameter, read from the model class's docstring.

    Args:
        model: a model name (:data:`energy_nb.models.MODEL_NAMES`).

    Returns:
        ``{parameter: text}`` from the docstring's ``Args:`` section (continuation lines joined;
        ``window: number of recent returns used ... (>= 50).``).
    """
    from energy_nb.models import model_class

    doc = inspect.getdoc(model_class(model)) or ""
    out: dict[str, str] = {}
    in_args, current = False, None
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        if not in_args:
            continue
        if line and not line.startswith(" "):  # the next section
            break
        match = re.match(r"^ {4}(\w+): (.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and line.startswith(" " * 8):
            out[current] += " " + line.strip()
    # `x` and ``x`` read as plain words in a tooltip
    return {k: re.sub(r"``?([^`]+)``?", r"\1", v) for k, v in out.items()}


def _control(name: str, default: Any, help_text: str) -> widgets.ValueWidget:
    """The typed control of one parameter (unbounded: the model's own check gives the message)."""
    from energy_nb.models import MODEL_NAMES

    common = {"description": model_param_label(name), "style": {"description_width": "190px"},
              "layout": widgets.Layout(width="330px")}
    if name in CHOICES:  # options are the shown words (a ``None`` value would read as "none
        # selected" to a Dropdown): :func:`_value` maps them back
        shown = [label for label, value in CHOICES[name] if value == default]
        control: widgets.ValueWidget = widgets.Dropdown(
            options=[label for label, _ in CHOICES[name]],
            value=shown[0] if shown else CHOICES[name][0][0], **common)
    elif name in MODEL_LISTS:
        options = [n for n in MODEL_NAMES if n not in _COMPOSITES]
        control = widgets.SelectMultiple(options=options,
                                         value=tuple(n for n in default if n in options),
                                         rows=min(len(options), 6), **common)
    elif isinstance(default, bool):
        control = widgets.Checkbox(value=default, description=model_param_label(name),
                                   indent=False)
    elif default is None:  # an optional number: blank = none
        control = widgets.Text(value="", placeholder="all", **common)
    elif isinstance(default, int):
        control = widgets.IntText(value=default, **common)
    elif isinstance(default, float):
        control = widgets.FloatText(value=default, **common)
    else:
        control = widgets.Text(value=str(default), **common)
    control.tooltip = help_text
    control.add_class("enb-model-setting")
    control.add_class(f"enb-model-setting-{name.replace('_', '-')}")
    return control


def _value(name: str, control: widgets.ValueWidget) -> Any:
    """The value a control stands for (a word of :data:`CHOICES`, a list of model names...)."""
    if name in CHOICES:
        return dict(CHOICES[name]).get(control.value)
    if isinstance(control, widgets.SelectMultiple):
        return list(control.value)
    return control.value


class ModelSettings(widgets.VBox):
    """The settings of the chosen forecast model, one control per constructor parameter.

    Args:
        model: the model whose settings are shown first.

    Attributes:
        model: the model shown (setting it shows that model's controls; each model keeps its own).
        value: the settings changed from the model's defaults, as the controls hold them (a
            Python-side trait: observe it like any control's ``value``).
        controls: ``{parameter: control}`` of the model shown.
        defaults: ``{parameter: default}`` of the model shown.
    """

    model = traitlets.Unicode()
    value = traitlets.Dict()

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("enb-model-settings")
        self._sets: dict[str, dict[str, widgets.ValueWidget]] = {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self.observe(self._show, names="model")
        self.model = model

    @property
    def controls(self) -> dict[str, widgets.ValueWidget]:
        return self._sets[self.model]

    @property
    def defaults(self) -> dict[str, Any]:
        return self._defaults[self.model]

    def _show(self, _change: Any = None) -> None:
        name = self.model
        if name not in self._sets:
            defaults = _signature_defaults(name)
            help_texts = model_param_help(name)
            self._defaults[name] = defaults
            self._sets[name] = {p: _control(p, d, help_texts.get(p, "")) for p, d in
                                defaults.items()}
            for control in self._sets[name].values():
                control.observe(self._changed, names="value")
        rows: list[widgets.Widget] = []
        for param, control in self._sets[name].items():
            rows.append(widgets.HBox([control, widgets.HTML(
                f'<span style="color:#666">{html.escape(control.tooltip or "")}</span>')]))
        if not rows:
            rows.append(widgets.HTML('<span style="color:#666">This model has no settings.'
                                     "</span>"))
        self.children = tuple(rows)
        self._changed()

    def _changed(self, _change: Any = None) -> None:
        changed: dict[str, Any] = {}
        for param, control in self.controls.items():
            value = _value(param, control)
            default = self.defaults[param]
            if isinstance(value, list):
                if tuple(value) != tuple(default):
                    changed[param] = value
            elif isinstance(control, widgets.Text) and default is None:
                if value.strip():
                    changed[param] = value
            elif value != default:
                changed[param] = value
        self.value = changed

    def reset(self) -> None:
        """Put every control of the model shown back to its default."""
        for param, control in self.controls.items():
            default = self.defaults[param]
            if param in CHOICES:
                control.value = next(label for label, v in CHOICES[param] if v == default)
            elif isinstance(control, widgets.SelectMultiple):
                control.value = tuple(default)
            elif isinstance(control, widgets.Text) and default is None:
                control.value = ""
            else:
                control.value = default

    def read(self, where: str = "") -> dict[str, Any]:
        """The changed settings, converted and checked by the model (``make_model``).

        Args:
            where: prefix of messages (e.g. the strategy's name).

        Returns:
            ``{parameter: value}`` of the settings that differ from the defaults.

        Raises:
            ModelSettingsError: a value that is not a number, or that the model rejects; the
                message names the setting by its plain label.
        """
        from energy_nb.models import InvalidParameterError, make_model

        prefix = f"{where}: " if where else ""
        params: dict[str, Any] = {}
        for param, raw in self.value.items():
            if isinstance(raw, str) and self.defaults[param] is None:
                text = raw.strip()
                if text.lower() in ("all", "none"):
                    continue
                try:
                    number = float(text)
                except ValueError:
                    raise ModelSettingsError(
                        f"{prefix}model setting “{model_param_label(param)}” must be a whole "
                        f"number or blank (= all), got {text!r}") from None
                params[param] = int(number) if number.is_integer() else number
            else:
                params[param] = raw
        try:
            make_model(self.model, **params)
        except InvalidParameterError as exc:
            message = str(exc)
            named = next((p for p in self.controls if re.match(rf"{p}\b", message)), None)
            label = f"“{model_param_label(named)}” ({named})" if named else "settings"
            raise ModelSettingsError(f"{prefix}{self.model} model {label}: {message}") from None
        return params
