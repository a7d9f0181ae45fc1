"""A date picker that shows and takes ISO dates (``2025-06-30``) whatever the browser's locale.

ipywidgets' ``DatePicker`` is an ``<input type="date">``, which the browser displays in the
visitor's locale (``06/30/2025`` in en-US). :class:`IsoDatePicker` is a drop-in replacement: the
same ``value`` trait (a ``datetime.date`` or ``None``, same wire format), shown as ``YYYY-MM-DD``
text, with a calendar button opening the browser's own date chooser. Text that is not a whole
ISO date is marked invalid and not sent.

Usage::

    picker = IsoDatePicker(value=date(2025, 6, 30), description="From")
    picker.observe(handler, names="value")
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import Date, date_serialization

_ESM = r"""
function pad(n) { return String(n).padStart(2, '0'); }
function toIso(v) { return v ? `${v.year}-${pad(v.month + 1)}-${pad(v.date)}` : ''; }
function fromIso(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const y = +m[1], mo = +m[2] - 1, d = +m[3];
  const check = new Date(Date.UTC(y, mo, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo || check.getUTCDate() !== d)
    return undefined;
  return {year: y, month: mo, date: d};
}
function render({ model, el }) {
  el.classList.add('widget-inline-hbox', 'enb-isodate');
  const label = document.createElement('label');
  label.className = 'widget-label-basic enb-isodate-label';
  label.style.margin = '0 6px 0 0';
  const input = document.createElement('input');
  input.type = 'text';
  input.className = 'widget-input enb-isodate-input';
  input.placeholder = 'YYYY-MM-DD';
  input.inputMode = 'numeric';
  input.maxLength = 10;
  input.size = 11;
  input.setAttribute('pattern', '\\d{4}-\\d{2}-\\d{2}');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jupyter-button enb-isodate-calendar';
  button.title = 'Choose a date';
  button.setAttribute('aria-label', 'Choose a date');
  button.innerHTML = '<i class="fa fa-calendar"></i>';
  button.style.cssText = 'width:auto;padding:0 6px;margin-left:2px';
  const wrap = document.createElement('span');
  wrap.style.cssText = 'position:relative;display:inline-flex;align-items:center';
  wrap.append(input, button);
  el.append(label, wrap);
  function show() {
    label.textContent = model.get('description') || '';
    label.style.display = label.textContent ? '' : 'none';
    const iso = toIso(model.get('value'));
    if (document.activeElement !== input || fromIso(input.value) !== undefined) input.value = iso;
    input.disabled = button.disabled = !!model.get('disabled');
    input.classList.remove('enb-invalid');
    input.style.borderColor = '';
  }
  function commit(text, final) {
    if (text.trim() === '') { model.set('value', null); model.save_changes(); return; }
    const v = fromIso(text);
    if (v === undefined) {
      if (final) { input.classList.add('enb-invalid'); input.style.borderColor = '#c62828'; }
      return;
    }
    input.classList.remove('enb-invalid');
    input.style.borderColor = '';
    if (toIso(v) !== toIso(model.get('value'))) { model.set('value', v); model.save_changes(); }
  }
  input.addEventListener('input', () => {
    if (input.value.length === 10) commit(input.value, false);
  });
  input.addEventListener('change', () => commit(input.value, true));
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') commit(input.value, true); });
  // the browser's calendar: a transient <input type=date>, so the page holds one date input
  button.addEventListener('click', () => {
    const native = document.createElement('input');
    native.type = 'date';
    native.tabIndex = -1;
    native.setAttribute('aria-hidden', 'true');
    native.style.cssText = 'position:absolute;left:0;bottom:0;width:1px;height:1px;opacity:0';
    native.value = toIso(model.get('value'));
    const done = () => { if (native.parentNode) native.remove(); };
    native.addEventListener('change', () => {
      input.value = native.value;
      commit(native.value, true);
      done();
    });
    native.addEventListener('blur', () => setTimeout(done, 0));
    wrap.append(native);
    try { native.showPicker(); } catch (err) { native.focus(); native.click(); }
  });
  model.on('change:value', show);
  model.on('change:description', show);
  model.on('change:disabled', show);
  show();
}
export default { render };
"""


class IsoDatePicker(anywidget.AnyWidget):
    """A ``DatePicker`` showing ISO dates; same ``value`` (``datetime.date`` or ``None``).

    Args:
        value: the date.
        description: label on the left.
        disabled: read-only.
        **kwargs: widget options (``layout``); ``style`` is accepted and ignored.
    """

    _esm = _ESM
    value = Date(None, allow_none=True).tag(sync=True, **date_serialization)
    description = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    #: Tells :mod:`energy_nb.ui.urlstate` to read and write the value as an ISO date.
    is_date_picker = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("style", None)
        super().__init__(**kwargs)
