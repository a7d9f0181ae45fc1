"""The page's selection in its URL, so a view can be shared as a link and reopens as it was.

A :class:`UrlState` binds named controls (``commodity``, ``start``, ``end``, ``freq``, ``model``,
``horizon``, ...) to query-string parameters:

* **URL -> page.** Voilà gives the kernel the request's query string (``QUERY_STRING``, set at
  kernel start, or when a preheated kernel is handed to the visitor). A page applies it with
  :func:`apply_query` to its :meth:`link_fields` right after creating its controls and BEFORE
  computing its first view (a chart must be created with its data: updates sent before the
  browser connects are lost), so the link opens at once as it was. A preheated kernel rebuilds
  the page at the visit when the query changes anything (:func:`energy_nb.ui.controls.page_root`).
  A value a control cannot take is ignored and said in the page.
* **page -> URL.** Every change of a bound control rewrites the query string into a small HTML
  widget (``<span data-query=...>`` inside ``.enb-url-state``); the app's Voilà template copies it
  into the address bar with ``history.replaceState`` (no reload).

Usage::

    problems = apply_query({"commodity": picker, "start": dates.start}, query_from_env())
    state = UrlState()
    state.bind({"commodity": picker, "start": dates.start})   # the URL follows the controls
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

import ipywidgets as widgets

#: Environment variable Voilà puts the request's query string in.
QUERY_ENV = "QUERY_STRING"


def query_from_env() -> dict[str, str]:
    """The request's query parameters (``QUERY_STRING``), last value of each name.

    Returns:
        ``{name: value}`` (empty outside Voilà).
    """
    return dict(parse_qsl(os.environ.get(QUERY_ENV, ""), keep_blank_values=False))


def _is_date(widget: widgets.Widget) -> bool:
    """Whether the control holds a date (ipywidgets' or energy_nb's ISO date picker)."""
    return isinstance(widget, widgets.DatePicker) or getattr(widget, "is_date_picker", False)


def encode(widget: widgets.ValueWidget) -> str | None:
    """A control's value as query text (``None``: leave it out).

    Args:
        widget: a date picker, SelectMultiple, Checkbox, or a control with a scalar value.

    Returns:
        ISO date, comma-separated codes, ``1``/``0``, or ``str(value)``.
    """
    value = widget.value
    if value is None:
        return None
    if _is_date(widget):
        return value.isoformat()
    if isinstance(widget, widgets.SelectMultiple):
        return ",".join(str(v) for v in value)
    if isinstance(widget, widgets.Checkbox):
        return "1" if value else "0"
    return str(value)


def decode(widget: widgets.ValueWidget, text: str) -> Any:
    """Query text as a value for ``widget``.

    Args:
        widget: the control.
        text: the parameter's text.

    Returns:
        The value.

    Raises:
        ValueError: the text is not a value the control can take (the message says why).
    """
    options = [o[1] if isinstance(o, tuple) else o for o in getattr(widget, "options", ())]
    if _is_date(widget):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date like 2025-06-30") from None
    if isinstance(widget, widgets.SelectMultiple):
        values = tuple(v.strip().upper() for v in text.split(",") if v.strip())
        bad = [v for v in values if v not in options]
        if bad or not values:
            raise ValueError(f"{', '.join(bad) or 'nothing'} is not one of {', '.join(options)}")
        return values
    if isinstance(widget, widgets.Checkbox):
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"{text!r} is not 1 or 0")
        return text.lower() in ("1", "true", "yes")
    if options:
        for option in options:
            if str(option).lower() == text.lower():
                return option
        raise ValueError(f"{text!r} is not one of {', '.join(str(o) for o in options)}")
    if isinstance(widget, (widgets.IntSlider, widgets.IntText, widgets.BoundedIntText)):
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ValueError(f"{number} is outside {lo}–{hi}")
        return number
    return text


def apply_query(fields: Mapping[str, widgets.ValueWidget],
                query: Mapping[str, str]) -> list[str]:
    """Set controls from query parameters (names not in ``fields`` are ignored).

    Args:
        fields: ``{query name: control}``.
        query: ``{name: text}``, e.g. :func:`query_from_env`.

    Returns:
        Messages about the parameters that could not be applied.
    """
    problems = []
    for name, control in fields.items():
        if name not in query:
            continue
        try:
            value = decode(control, query[name])
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if value != control.value:
            try:
                control.value = value
            except Exception as exc:  # a trait validation the decoder did not foresee
                problems.append(f"{name}: {exc}")
    return problems


def would_change(fields: Mapping[str, widgets.ValueWidget], query: Mapping[str, str]) -> bool:
    """Whether applying ``query`` to ``fields`` changes a control (or has a bad value to report).

    Args:
        fields: ``{query name: control}``.
        query: ``{name: text}``.

    Returns:
        ``True`` if a control would get another value, or a parameter is invalid.
    """
    for name, control in fields.items():
        if name in query:
            try:
                if decode(control, query[name]) != control.value:
                    return True
            except ValueError:
                return True
    return False


class UrlState:
    """Named controls mirrored into the page's URL.

    Attributes:
        widget: the ``HTML`` widget carrying the query (class ``enb-url-state``); it also shows
            which link parameters were ignored, if any.
        fields: ``{name: control}`` bound now.
        query: the current query string.
        problems: messages about ignored link parameters (shown under the page).
    """

    def __init__(self) -> None:
        self.widget = widgets.HTML(value="")
        self.widget.add_class("enb-url-state")
        self.fields: dict[str, widgets.ValueWidget] = {}
        self.query = ""
        self.problems: list[str] = []

    def bind(self, fields: Mapping[str, widgets.ValueWidget],
             problems: list[str] | None = None) -> None:
        """Mirror these controls (replacing those bound before, e.g. after a page rebuild).

        Args:
            fields: ``{query name: control}`` in the order the URL lists them.
            problems: link parameters the page could not apply (shown).
        """
        for control in self.fields.values():
            try:
                control.unobserve(self._on_change, names="value")
            except ValueError:
                pass
        self.fields = dict(fields)
        self.problems = list(problems or [])
        for control in self.fields.values():
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, _change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Rewrite the query from the controls' current values."""
        pairs = [(name, text) for name, control in self.fields.items()
                 if (text := encode(control)) is not None]
        self.query = urlencode(pairs, safe=",")
        note = ""
        if self.problems:
            note = ('<div class="enb-msg enb-msg-warning">Ignored in the link: '
                    + html.escape("; ".join(self.problems)) + "</div>")
        self.widget.value = f'<span data-query="{html.escape(self.query)}"></span>{note}'
