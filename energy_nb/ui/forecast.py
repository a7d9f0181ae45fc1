"""The Forecast dashboard: forecast one commodity 1–30 trading days ahead with calibrated bands.

The page is a widget shell around
:class:`energy_nb.service.forecasting.ForecastService`: the service
fits each (commodity, model, origin, data version) once and keeps the fitted model, so changing
the horizon, the interval levels or the history window only re-predicts (milliseconds). A past
start date shows the prices observed after it beside the forecast, with the errors. Invalid
choices show a message in the page; nothing raises into the notebook.

Live mode: :meth:`ForecastPage.apply_forecast` redraws the chart and table in place from a
``Forecast``, its ``to_dict()`` or a live ``forecast_update`` message, and
:meth:`ForecastPage.set_live_status` fills the connection indicator, so a stream controller
(:mod:`energy_nb.ui.live`) can drive the page without knowing its widgets.

Usage (the whole of ``notebooks/forecast.ipynb``)::

    from energy_nb.ui.forecast import build_forecast_page
    build_forecast_page()
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from energy_nb.commodities import UnknownCommodityError, get_commodity
from energy_nb.service.diagnostics import (
    DiagnosticsError,
    forecast_error_summary,
    forecast_frame_from_payload,
    track_record,
)
from energy_nb.service.forecasting import (
    ForecastFitError,
    ForecastRequestError,
    ForecastRun,
    ForecastService,
    forecast_steps,
)
from energy_nb.service.requests import DEFAULT_LEVELS, MAX_HORIZON, MIN_HORIZON
from energy_nb.viz.charts import forecast_figure, replace_figure, to_widget
from energy_nb.ui.controls import (
    CsvDownloadLink,
    FreshnessLine,
    MessageArea,
    commodity_picker,
    open_page_store,
    page_root,
    store_freshness,
)
from energy_nb.ui.glossary import term
from energy_nb.ui.nav import page_header
from energy_nb.viz.theme import fmt_num, fmt_pct
from energy_nb.ui.urlstate import apply_query, query_from_env

log = logging.getLogger(__name__)

#: Interval levels offered (percent); those ticked at first are the service's DEFAULT_LEVELS.
LEVEL_CHOICES: tuple[int, ...] = (50, 80, 90, 95, 99)
#: History shown before the origin (label, trading days).
LOOKBACK_CHOICES: tuple[tuple[str, int], ...] = (
    ("3 months", 63), ("6 months", 126), ("1 year", 252), ("2 years", 504),
)


_SPINNER = (
    '<span class="enb-spinner" style="display:inline-block;width:12px;height:12px;'
    "border:2px solid #bbb;border-top-color:#1f77b4;border-radius:50%;"
    'animation:enb-spin 0.8s linear infinite;vertical-align:middle"></span>'
    "<style>@keyframes enb-spin{to{transform:rotate(360deg)}}</style>"
)


class ForecastPage:
    """The Forecast page: controls, fan chart, forecast table, errors, CSV download.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore`; default
            ``PriceStore.from_settings()`` (``ENERGY_NB_HOME``).
        service: a :class:`ForecastService` to share its cache (default: one on ``store``).
        commodity: initial commodity code.
        model: initial model (default ``auto``).
        horizon: initial horizon (trading days).
        levels: initially ticked interval levels.
        start: initial start date (forecast origin); ``None`` = the latest data.
        lookback: trading days of history shown (one of :data:`LOOKBACK_CHOICES`).
        live: offer the live mode (a ``Live`` toggle, off by default) when
            :mod:`energy_nb.ui.live` is available; server URL and API key come from
            ``ENERGY_NB_WS_URL`` / ``ENERGY_NB_API_KEY``.

    Attributes:
        commodity, model, horizon, start, latest_button, lookback: the controls;
        level_boxes: ``{level: Checkbox}``.
        chart: ``go.FigureWidget``; table: ``HTML`` of the forecast; errors: ``HTML`` of the
        accuracy after a past origin; model_info: which model ran and why.
        progress: the "fitting ..." indicator (hidden when idle); ``progress_log`` lists the texts
        it showed.
        live_status: the live connection indicator (hidden until :meth:`set_live_status`);
        live_controls: an ``HBox`` where a live controller puts its toggle; live_toggle: that
        toggle (``None`` without live mode).
        messages, download, freshness: see :mod:`energy_nb.ui.controls`.
        run: the last :class:`ForecastRun` shown (``None`` while the choices are invalid).
        table_frame: the rows of the table and of the CSV.
        error_summary: :func:`forecast_error_summary` of the last run (``None`` for the latest
            origin).
        widget: the whole page.

    Usage::

        page = ForecastPage(store)
        page.horizon.value = 20
        page.table_frame.tail()
    """

    def __init__(
        self,
        store: Any = None,
        *,
        service: ForecastService | None = None,
        commodity: str = "WTI",
        model: str = "auto",
        horizon: int = 7,
        levels: Sequence[int] = DEFAULT_LEVELS,
        start: date | None = None,
        lookback: int = 126,
        live: bool = True,
    ) -> None:
        from energy_nb.models import MODEL_NAMES

        self.store = store
        self.service = service
        self.run: ForecastRun | None = None
        self.table_frame = pd.DataFrame()
        self.error_summary: dict[str, Any] | None = None
        self.progress_log: list[str] = []
        self._fitted_keys: set[tuple] = set()
        self._suspended = False
        self._latest: dict[str, date] = {}
        self._status: list[dict[str, Any]] = []

        self.messages = MessageArea()
        self.freshness = FreshnessLine()
        self.download = CsvDownloadLink()
        store_problem = self._open_store()

        style = {"description_width": "initial"}
        self.commodity = commodity_picker((commodity,), multiple=False)
        self.model = widgets.Dropdown(options=list(MODEL_NAMES), value=model,
                                      description="Model", style=style,
                                      layout=widgets.Layout(width="220px"))
        self.horizon = widgets.IntSlider(value=horizon, min=MIN_HORIZON, max=MAX_HORIZON,
                                         step=1, description="Horizon (trading days)",
                                         style=style, continuous_update=False,
                                         layout=widgets.Layout(width="420px"))
        from energy_nb.ui.datepicker import IsoDatePicker  # ISO dates in any browser locale

        self.start = IsoDatePicker(value=start, description="Start (origin)", style=style)
        self.latest_button = widgets.Button(description="Latest data", tooltip=(
            "Set the start date to the latest stored price"), layout=widgets.Layout(width="110px"))
        self.lookback = widgets.Dropdown(options=list(LOOKBACK_CHOICES), value=lookback,
                                         description="History shown", style=style,
                                         layout=widgets.Layout(width="230px"))
        self.level_boxes = {
            level: widgets.Checkbox(value=level in levels, description=f"{level}%", indent=False,
                                    layout=widgets.Layout(width="62px"))
            for level in LEVEL_CHOICES
        }
        for widget_, cls in ((self.commodity, "enb-commodity"), (self.model, "enb-model"),
                             (self.horizon, "enb-horizon"), (self.start, "enb-start"),
                             (self.latest_button, "enb-latest"), (self.lookback, "enb-lookback")):
            widget_.add_class(cls)
        for level, box in self.level_boxes.items():
            box.add_class("enb-level")
            box.add_class(f"enb-level-{level}")

        self.table = widgets.HTML(value="")
        self.table.add_class("enb-forecast-table")
        self.errors = widgets.HTML(value="")
        self.errors.add_class("enb-forecast-errors")
        self.model_info = widgets.HTML(value="")
        self.model_info.add_class("enb-model-info")
        # the evidence behind the bands: the model's latest walk-forward evaluation
        self.track_record = widgets.HTML(value="")
        self.track_record.add_class("enb-track-record")
        self.progress = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        self.progress.add_class("enb-progress")
        self.live_status = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        self.live_status.add_class("enb-live-status")
        self.live_controls = widgets.HBox([])
        self.live_toggle: widgets.ToggleButton | None = None

        # The first forecast is computed BEFORE the chart exists: a FigureWidget must be built
        # with its data (traces added later travel as one-shot messages that Voilà loses when
        # they happen before the page connects; see energy_nb.viz.charts).
        # a shared link's selection (Voilà's query string), applied before anything is computed
        self.link_problems = apply_query(self.link_fields(), query_from_env())
        first: _Outcome = ("invalid", store_problem or "")
        if not store_problem:
            if self.start.value is None:
                self.start.value = self._latest.get(self.commodity.value)
            # the first paint shows the stored forecast of exactly this request when there is
            # one (no model fitted, no model library imported); a changed control fits
            first = self._compute(stored=True)
        first_figure = (self._figure(*first[1:3]) if first[0] == "ok"
                        else _empty_figure(self.commodity.value))
        self.chart = to_widget(first_figure)
        self.chart.add_class("enb-forecast-chart")

        levels_row = widgets.HBox(
            [widgets.Label("Intervals:")] + list(self.level_boxes.values()),
            layout=widgets.Layout(align_items="center"),
        )
        controls = widgets.VBox([
            widgets.HBox([self.commodity, self.model, self.lookback]),
            widgets.HBox([self.start, self.latest_button, self.horizon]),
            levels_row,
            widgets.HBox([self.live_controls, self.live_status]),
        ])
        self.widget = widgets.VBox([
            widgets.HTML(page_header(
                "Price forecast",
                "Point forecast and calibrated intervals, 1–30 trading days ahead",
                page="forecast.ipynb",
            )),
            self.freshness.widget,
            controls,
            self.messages.widget,
            self.progress,
            self.model_info,
            self.track_record,
            self.chart,
            self.errors,
            self.download.widget,
            self.table,
        ])
        self.widget.add_class("enb-forecast-page")

        if store_problem:
            self.messages.show(store_problem, "error")
            self.download.disable("no data")
            return
        self.freshness.update(self._status, [self.commodity.value])
        self._apply(first, redraw=False)
        self.commodity.observe(self._on_commodity, names="value")
        for control in (self.model, self.horizon, self.start, self.lookback,
                        *self.level_boxes.values()):
            control.observe(self._on_change, names="value")
        self.latest_button.on_click(self._on_latest)
        if live:
            self.live_toggle = _attach_live_mode(self)

    # -- inputs ----------------------------------------------------------------------------------

    def _open_store(self) -> str | None:
        """Open the store and the service; return a message if they cannot be used."""
        if self.store is None and self.service is not None:
            self.store = self.service.store
        self.store, self._status, problem = open_page_store(self.store)
        if self.store is not None and self.service is None:
            try:
                self.service = ForecastService(self.store)
            except Exception as exc:  # a broken store must not become a traceback in the page
                log.exception("cannot open the forecast service")
                return f"Cannot open the price store: {exc}"
        if problem:
            return problem
        self._latest = {r["commodity"]: date.fromisoformat(r["last"])
                        for r in self._status if r.get("last")}
        return None

    @property
    def levels(self) -> tuple[int, ...]:
        """The ticked interval levels, ascending."""
        return tuple(level for level, box in self.level_boxes.items() if box.value)

    def set_levels(self, levels: Sequence[int]) -> None:
        """Tick exactly ``levels`` (one refresh)."""
        self._suspended = True
        try:
            for level, box in self.level_boxes.items():
                box.value = level in levels
        finally:
            self._suspended = False
        self.refresh()

    # -- events ----------------------------------------------------------------------------------

    def _on_change(self, _change: dict) -> None:
        if not self._suspended:
            self.refresh()

    def link_fields(self) -> dict[str, widgets.ValueWidget]:
        """The controls the page's URL carries (:mod:`energy_nb.ui.urlstate`)."""
        return {"commodity": self.commodity, "model": self.model, "horizon": self.horizon,
                "start": self.start, "lookback": self.lookback}

    def _on_commodity(self, change: dict) -> None:
        """Keep "latest data" meaning latest for the new commodity."""
        old_latest = self._latest.get(change["old"])
        if self.start.value is None or self.start.value == old_latest:
            self._suspended = True
            self.start.value = self._latest.get(change["new"])
            self._suspended = False
        self.refresh()

    def _on_latest(self, _button: Any = None) -> None:
        self._status = store_freshness(self.store)
        self._latest = {r["commodity"]: date.fromisoformat(r["last"])
                        for r in self._status if r.get("last")}
        latest = self._latest.get(self.commodity.value)
        if self.start.value == latest:
            self.refresh()
        else:
            self.start.value = latest  # observer refreshes

    # -- updates ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute the forecast for the current controls and redraw the page."""
        try:
            self._refresh()
        except Exception as exc:  # last resort: show it in the page, log the traceback
            log.exception("Forecast page update failed")
            self._hide_progress()
            self._show_invalid(f"Unexpected error while updating the page: {exc}")

    def _refresh(self) -> None:
        self._apply(self._compute())

    def _compute(self, stored: bool = False) -> _Outcome:
        """Forecast for the current controls: ``("ok", run, history, notes)`` or
        ``("invalid", message)``.

        Args:
            stored: first read the forecast stored for exactly these controls and data
                (:meth:`ForecastService.stored_forecast`); fit only when there is none.
        """
        code = self.commodity.value
        model = self.model.value
        levels = self.levels
        notes: list[tuple[str, str]] = []
        try:
            if self.start.value is None:
                raise ForecastRequestError("Choose a start date (or press `Latest data`).")
            origin = self.service.resolve_origin(code, self.start.value)
            if origin.date() != self.start.value:
                text = (f"{self.start.value} has no {code} price in the store; "
                        f"the forecast starts from {origin.date()}.")
                notes.append((text, "info"))
            if not levels:
                notes.append(("No interval level ticked: only the point forecast is shown.",
                              "info"))
            key = (code, model, origin, self.store.data_version(code))
            run = (self.service.stored_forecast(code, model, origin=origin,
                                                horizon=int(self.horizon.value), levels=levels)
                   if stored else None)
            fitting = run is None and key not in self._fitted_keys
            if fitting:
                self._show_progress(f"Fitting {model} on {code} prices up to {origin.date()} …")
            try:
                if run is None:
                    run = self.service.forecast(code, model, origin=origin,
                                                horizon=int(self.horizon.value), levels=levels)
                    self._fitted_keys.add(key)
            finally:
                if fitting:
                    self._hide_progress()
            history = self.service.history(code, origin, lookback=int(self.lookback.value))
        except (ForecastRequestError, ForecastFitError) as exc:
            text = str(exc)
            return ("invalid", text[:1].upper() + text[1:])
        except Exception as exc:  # last resort: shown in the page, traceback logged
            log.exception("Forecast page update failed")
            self._hide_progress()
            return ("invalid", f"Unexpected error while updating the page: {exc}")
        return ("ok", run, history, notes)

    def _apply(self, outcome: _Outcome, redraw: bool = True) -> None:
        if outcome[0] == "ok":
            _, run, history, notes = outcome
            self.messages.show_many(notes)
            self._show(run, history, redraw=redraw)
        else:
            self._show_invalid(outcome[1], redraw=redraw)

    @staticmethod
    def _figure(run: ForecastRun, history: pd.Series) -> go.Figure:
        return forecast_figure(
            history, run.forecast.to_frame(), commodity=run.commodity, actuals=run.actuals,
            model_label=run.forecast.model,
            title=f"{run.commodity}: {run.horizon}-day forecast from {run.origin.date()}",
        )

    def _show_progress(self, text: str) -> None:
        self.progress_log.append(text)
        self.progress.value = (f'{_SPINNER} <span class="enb-progress-text">'
                               f'{html.escape(text)}</span>')
        self.progress.layout.display = ""

    def _hide_progress(self) -> None:
        self.progress.layout.display = "none"
        self.progress.value = ""

    def _show_invalid(self, text: str, redraw: bool = True) -> None:
        self.run = None
        self.table_frame = pd.DataFrame()
        self.error_summary = None
        if not text:
            return
        self.messages.show(text, "error")
        if redraw:
            replace_figure(self.chart, _empty_figure(self.commodity.value))
        self.table.value = ""
        self.errors.value = ""
        self.model_info.value = ""
        self.track_record.value = ""
        self.download.disable("fix the selection first")

    def _show(self, run: ForecastRun, history: pd.Series, redraw: bool = True) -> None:
        self.run = run
        frame = run.forecast.to_frame()
        actuals = run.actuals
        if redraw:
            replace_figure(self.chart, self._figure(run, history))
        self.table_frame = forecast_table(frame, actuals)
        self.table.value = (forecast_table_html(self.table_frame, run.levels,
                                                get_commodity(run.commodity).unit)
                            + calendar_note_html(run))
        if len(actuals):
            self.error_summary = forecast_error_summary(run.errors(), run.levels)
            self.errors.value = error_summary_html(self.error_summary, run.horizon)
        else:
            self.error_summary = None
            self.errors.value = ""
        self.model_info.value = model_info_html(run)
        self.track_record.value = self._track_record_html(run)
        self.download.set_csv(self.table_frame.to_csv(index=False, float_format="%.4f"),
                              csv_filename(run))
        self.freshness.update(self._status, [run.commodity])

    def _track_record_html(self, run: ForecastRun) -> str:
        """The model's latest walk-forward evaluation on this commodity, for these steps."""
        return self._track_record_for(run.commodity, run.model, run.horizon, run.levels)

    def _track_record_for(self, commodity: str, model: str, horizon: int,
                          levels: Sequence[int]) -> str:
        """:meth:`_track_record_html` for a model named by its parts (a live forecast's)."""
        if self.service is None or not model:  # no store: nothing recorded to show
            return ""
        try:
            latest = self.service.registry.list(commodity, name=model, kind="walk_forward",
                                                limit=1)
        except Exception:  # evidence is a bonus: never let it break the forecast
            log.exception("cannot read the model registry")
            return ""
        record = track_record(latest[0], horizon, levels) if latest else None
        return track_record_html(record, model, commodity)

    # -- live mode -------------------------------------------------------------------------------

    def apply_forecast(self, payload: Any) -> bool:
        """Show a forecast that arrived from outside (live stream) in place.

        The chart and table are redrawn from ``payload``; the history comes from the store up to
        the forecast's origin. A payload for another commodity than the page's is ignored.

        Args:
            payload: a :class:`~energy_nb.models.Forecast`, its ``to_dict()``, or a live
                ``forecast_update``/``resync`` message.

        Returns:
            Whether the page shows it (``False`` when ignored or malformed; a malformed payload
            also shows a warning).
        """
        try:
            frame, meta = forecast_frame_from_payload(payload)
        except DiagnosticsError as exc:
            self.messages.show(f"Ignored a live forecast: {exc}", "warning")
            return False
        code = meta.get("commodity") or self.commodity.value
        try:
            code = get_commodity(code).code
        except UnknownCommodityError:
            self.messages.show(f"Ignored a live forecast for unknown commodity {code!r}",
                               "warning")
            return False
        if code != self.commodity.value:
            return False
        origin = meta.get("origin")
        try:
            history = self.service.history(code, origin, lookback=int(self.lookback.value))
        except ForecastRequestError:
            history = self.service.history(code, None, lookback=int(self.lookback.value))
        model = str(meta.get("model") or "")
        when = f"{origin.date()}" if origin is not None else "latest data"
        replace_figure(self.chart, forecast_figure(
            history, frame, commodity=code, model_label=model,
            title=f"{code}: {len(frame)}-day forecast by {model or '?'} from {when} "
                  "(live server)",
        ))
        self.run = None
        self.error_summary = None
        self.errors.value = ""
        self.table_frame = forecast_table(frame, pd.Series(dtype=float))
        self.table.value = forecast_table_html(self.table_frame, meta.get("levels", ()),
                                               get_commodity(code).unit)
        seq = payload.get("seq") if isinstance(payload, dict) else None
        self.model_info.value = live_model_line(
            model, when, asked_model=str(self.model.value),
            asked_start=str(self.start.value) if self.start.value else "latest data", seq=seq)
        # the track record of the model shown, not of the model the controls name
        self.track_record.value = self._track_record_for(code, model, len(frame),
                                                         tuple(meta.get("levels", ())))
        self.download.set_csv(
            self.table_frame.to_csv(index=False, float_format="%.4f"),
            f"forecast_{code}_{model or 'live'}_{when}_h{len(frame)}_live.csv".replace(" ", "-"),
        )
        self.messages.clear()
        return True

    def set_live_status(self, text: str, state: str = "info") -> None:
        """Show the live connection indicator.

        Args:
            text: e.g. ``"connected"``, ``"reconnecting (2)"``; empty hides the indicator.
            state: ``connected``, ``disconnected``, ``error`` or ``info`` (colour and CSS class
                ``enb-live-<state>``).
        """
        if not text:
            self.live_status.layout.display = "none"
            self.live_status.value = ""
            return
        colors = {"connected": "#2ca02c", "disconnected": "#999", "error": "#c0392b",
                  "info": "#1f77b4"}
        color = colors.get(state, "#1f77b4")
        self.live_status.value = (
            f'<span class="enb-live enb-live-{html.escape(state)}" '
            f'data-state="{html.escape(state)}">'
            f'<span style="color:{color}">&#x25CF;</span> {html.escape(text)}</span>'
        )
        self.live_status.layout.display = ""


# ----------------------------------------------------------------------------------------------
# table, errors and labels

#: What :meth:`ForecastPage._compute` returns.
_Outcome = tuple


def live_model_line(model: str, when: str, *, asked_model: str, asked_start: str,
                    seq: Any = None) -> str:
    """The model line of a live forecast: what it is, and whether the controls asked for it.

    The live server forecasts each (commodity, horizon) with its own model from its latest data;
    when that is not the page's model or start date, the line says so plainly.

    Args:
        model: the live forecast's model.
        when: its origin (``YYYY-MM-DD``).
        asked_model: the page's model control.
        asked_start: the page's start date control.
        seq: the update's sequence id, kept in a ``data-seq`` attribute (never shown).

    Returns:
        HTML text (``div.enb-model-line``).
    """
    shown = f"<b>{html.escape(model or '?')}</b> forecast from <b>{html.escape(when)}</b>"
    if model == asked_model and when == asked_start:
        text = f"Live update: the {shown}, as you selected, from the live server."
    else:
        text = (f"Live update: the live server's {shown} (its model and latest data), not your "
                f"selection ({html.escape(asked_model)} from {html.escape(asked_start)}), which "
                "is shown again when Live is off.")
    attr = f' data-seq="{html.escape(str(seq))}"' if seq else ""
    return f'<div class="enb-model-line enb-live-line"{attr}>{text}</div>'


def _attach_live_mode(page: ForecastPage) -> widgets.ToggleButton | None:
    """The live controller's toggle in ``page.live_controls``, or ``None`` without live mode.

    :func:`energy_nb.ui.live.attach_to_forecast_page` drives the page through
    :meth:`ForecastPage.apply_forecast` and :meth:`ForecastPage.set_live_status`.
    """
    try:
        from energy_nb.ui.live import attach_to_forecast_page
    except ModuleNotFoundError as exc:
        if exc.name not in ("energy_nb.ui.live", "energy_nb.stream"):
            raise
        return None
    return attach_to_forecast_page(page)


def _empty_figure(commodity: str) -> go.Figure:
    return forecast_figure(pd.Series(dtype=float), pd.DataFrame(), commodity=commodity)



def forecast_table(frame: pd.DataFrame, actuals: pd.Series) -> pd.DataFrame:
    """The forecast table (also the CSV): one row per step, with actuals when known.

    Args:
        frame: ``Forecast.to_frame()`` (``date, mean, lower_<L>, upper_<L>``).
        actuals: prices after the origin (position ``i`` is step ``i + 1``); may be empty.

    Returns:
        :func:`energy_nb.service.forecasting.forecast_steps` with ISO date strings:
        ``step, date`` (the
        step's exchange trading day), ``mean, lower_<L>, upper_<L>`` and, if any actual is known,
        ``actual, error`` and ``actual_date`` (the day that step's price was observed; ``""``
        where not yet observed).
    """
    table = forecast_steps(frame, actuals)
    for column in ("date", "actual_date"):
        if column in table:
            table[column] = pd.to_datetime(table[column]).dt.strftime("%Y-%m-%d").fillna("")
    return table


def calendar_note_html(run: ForecastRun) -> str:
    """The forecast's calendar: which market's trading days, and what it cannot know.

    Args:
        run: the forecast run.

    Returns:
        HTML text (``div.enb-calendar-note``), empty when there is nothing to say.
    """
    calendar = run.forecast.info.get("calendar") or {}
    notes = run.calendar_notes()
    if not calendar and not notes:
        return ""
    text = f"Dates are {html.escape(str(calendar.get('market', 'exchange')))} trading days."
    text += "".join(f" {html.escape(note)}" for note in notes)
    return f'<div class="enb-calendar-note">{text}</div>'


def forecast_table_html(table: pd.DataFrame, levels: Sequence[int], unit: str) -> str:
    """HTML of the forecast table.

    Args:
        table: :func:`forecast_table`.
        levels: interval levels to show.
        unit: price unit for the header.

    Returns:
        HTML text (``table.enb-stats.enb-sortable``, headers with glossary tooltips).
    """
    if table.empty:
        return ""
    head = ["Step", "Date", f"Forecast ({unit})"]
    head += [f"{int(level)}% interval" for level in levels]
    has_actual = "actual" in table.columns
    # the day each actual was observed, shown only where it differs from the step's date
    shifted = has_actual and "actual_date" in table.columns and bool(
        ((table["actual_date"] != "") & (table["actual_date"] != table["date"])).any())
    if has_actual:
        head += ["Actual", "Error"] + (["Actual observed on"] if shifted else [])
    rows = []
    for _, r in table.iterrows():
        cells = [str(int(r["step"])), html.escape(str(r["date"])), fmt_num(float(r["mean"]))]
        for level in levels:
            lo, hi = r.get(f"lower_{level}"), r.get(f"upper_{level}")
            cells.append(f"{fmt_num(float(lo))} – {fmt_num(float(hi))}"
                         if lo is not None and hi is not None else "—")
        if has_actual:
            cells += [fmt_num(float(r["actual"])), fmt_num(float(r["error"]))]
            if shifted:
                day = str(r["actual_date"])
                cells.append(html.escape(day) if day != r["date"] else "same day")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    # glossary tooltips on the headers; the page's script sorts on a header click and pages
    # long tables (class enb-sortable, see the energy_nb Voilà template)
    header = "<tr>" + "".join(f"<th>{term(h)}</th>" for h in head) + "</tr>"
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable '
            f'enb-forecast-rows">{header}{"".join(rows)}</table></div>')


def error_summary_html(summary: dict[str, Any], horizon: int) -> str:
    """HTML of the accuracy of a forecast from a past origin.

    Args:
        summary: :func:`energy_nb.service.diagnostics.forecast_error_summary`.
        horizon: the forecast's horizon.

    Returns:
        HTML text.
    """
    n = summary["n"]
    cov = " · ".join(
        f"{level}% band held {fmt_pct(value * 100, 0, signed=False)}"
        for level, value in summary["coverage"].items()
    )
    return (
        '<div class="enb-errors"><b>Forecast vs actual</b> '
        f"({n} of {horizon} steps observed): "
        f'{term("MAE")} <span class="enb-mae">{fmt_num(summary["mae"])}</span> · '
        f"{term('RMSE')} {fmt_num(summary['rmse'])} · "
        f"{term('MAPE')} {fmt_pct(summary['mape'], signed=False)} · "
        f"{term('bias')} {fmt_num(summary['bias'])}" + (f" · {cov}" if cov else "") + "</div>"
    )


def model_info_html(run: ForecastRun) -> str:
    """Which model made the forecast and why (``auto`` explains its choice).

    Args:
        run: the forecast run.

    Returns:
        HTML text.
    """
    info = dict(run.forecast.info)
    parts = [f'<div class="enb-model-line">Model <b>{html.escape(run.model)}</b>']
    chosen = info.get("chosen")
    if run.model == "auto" and chosen:
        parts.append(f' chose <b class="enb-chosen">{html.escape(str(chosen))}</b>')
    if run.stored_at:
        timing = f"stored forecast of {html.escape(run.stored_at.replace('T', ' '))}"
    else:
        timing = "from cache" if run.cached else f"fitted in {run.fit_seconds:.2f} s"
    parts.append(f" · trained {html.escape(str(info.get('train_start', '?')))} – "
                 f"{run.origin.date()} ({info.get('n_obs', '?')} prices) · {timing}</div>")
    reason = info.get("reason")
    if reason:
        parts.append(f'<div class="enb-model-reason" style="color:#555">Why: '
                     f"{html.escape(str(reason))}</div>")
    if info.get("replaced_nonpositive"):
        parts.append('<div style="color:#555">Non-positive prices in the training data '
                     f"({info['replaced_nonpositive']}) were carried forward from the previous "
                     "price (log-price models).</div>")
    return "".join(parts)


def track_record_html(record: dict[str, Any] | None, model: str, commodity: str) -> str:
    """One line of evidence for the bands: coverage and rMAE in the latest evaluation.

    Args:
        record: :func:`energy_nb.service.diagnostics.track_record`, or ``None`` when not evaluated.
        model, commodity: what the forecast is of.

    Returns:
        HTML text.
    """
    name = f"<b>{html.escape(model)}</b> on {html.escape(commodity)}"
    if record is None:
        return ('<div class="enb-track-record-none" style="color:#555">Track record: no '
                f"walk-forward evaluation of {name} yet (Models page, or "
                "<code>energy-nb evaluate</code>).</div>")
    items = sorted(record["coverage"].items())
    levels = " / ".join(f"{level}%" for level, _ in items)
    covered = " / ".join("not evaluated" if share is None
                         else f"<b>{fmt_pct(share * 100, 1, signed=False)}</b>"
                         for _, share in items)
    window = (f"{record['first_origin']} – {record['last_origin']}"
              if record.get("first_origin") else f"to {record['last_origin']}")
    return (
        '<div class="enb-track-record-line" style="color:#555">Track record of '
        f"{name} in its latest walk-forward evaluation ({record['n_origins']} origins, "
        f"{window}), steps 1–{record['steps']}: the {levels} bands {term('covered', 'Coverage')} "
        f"{covered} of the "
        f"prices that followed; {term('rMAE')} {fmt_num(record['rmae'], 3)} (below 1 beats no "
        "change).</div>"
    )


def csv_filename(run: ForecastRun) -> str:
    """File name of a forecast's CSV, e.g. ``forecast_WTI_auto_2026-08-18_h7.csv``."""
    return f"forecast_{run.commodity}_{run.model}_{run.origin:%Y-%m-%d}_h{run.horizon}.csv"


def build_forecast_page(store: Any = None, **kwargs: Any) -> widgets.Widget:
    """Build the Forecast page widget (what ``notebooks/forecast.ipynb`` displays).

    Args:
        store: a PriceStore; default ``PriceStore.from_settings()``.
        **kwargs: passed to :class:`ForecastPage` (``commodity``, ``model``, ``horizon``, ...).

    Returns:
        The page's root widget (the :class:`ForecastPage` is at ``widget.page``).
    """
    page = ForecastPage(store, **kwargs)
    # a preheated Voilà kernel rebuilds the page if the store changed before the visit
    return page_root(page, rebuild=lambda: ForecastPage(page.store, **kwargs))
