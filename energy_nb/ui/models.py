"""The Models dashboard: every recorded model run, their out-of-sample metrics, one run's details.

The page reads the model registry (:mod:`energy_nb.service.registry`) and displays what
:mod:`energy_nb.service.diagnostics` computes from it:

* the runs (fits made for forecasts and walk-forward evaluations) with their metadata, filtered by
  commodity and kind;
* for one commodity, the latest walk-forward evaluation of each model side by side: a table and
  charts of rMAE (MAE relative to the random walk; below 1 beats it) and of interval coverage by
  horizon step against the nominal level, and the same two over time (trailing window of forecast
  origins: when the models did well or badly, e.g. bands too narrow in a price shock); the
  metrics of every step as a CSV download;
* one run's details: parameters, training window, data version, library versions, and residual
  diagnostics of the model refitted on its training window (residuals over time, ACF with the
  white-noise band, histogram against the normal, Ljung-Box test). They are cached per run
  (:mod:`energy_nb.service.diagnostics_cache`, ``$ENERGY_NB_HOME/cache/diagnostics``): only the
  first page to show a run refits it, in a short-lived worker process
  (:mod:`energy_nb.service.diagnostics_worker`) so that the page's kernel never imports the model
  libraries; later pages and visitors read the saved result at once.

When no evaluation is recorded for the commodity, the page says so and offers a button that runs a
small walk-forward evaluation (progress bar) and records it.

Usage (the whole of ``notebooks/models.ipynb``)::

    from energy_nb.ui.models import build_models_page
    build_models_page()
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from energy_nb.commodities import CODES, get_commodity
from energy_nb.service.diagnostics import (
    QUICK_MODELS,
    DiagnosticsError,
    ResidualDiagnostics,
    comparison_table,
    evaluation_levels,
    metric_by_step,
    metric_over_time,
    quick_evaluation,
    runs_table,
    step_metrics_long,
)
from energy_nb.service.diagnostics_cache import DiagnosticsCache, DiagnosticsKey
from energy_nb.service.diagnostics_worker import (
    DEFAULT_TIMEOUT,
    DiagnosticsTimeout,
    diagnostics_in_worker,
)
from energy_nb.service.registry import ModelRegistry, ModelRun
from energy_nb.viz.charts import (
    StaticChart,
    acf_figure,
    metric_by_step_figure,
    residual_histogram_figure,
    residuals_figure,
)
from energy_nb.ui.controls import (
    CsvDownloadLink,
    FreshnessLine,
    MessageArea,
    labelled,
    page_root,
    store_freshness,
)
from energy_nb.ui.glossary import glossary_html, model_param_label, plain_value, term
from energy_nb.ui.nav import page_header
from energy_nb.viz.theme import fmt_num, fmt_pct
from energy_nb.ui.urlstate import apply_query, query_from_env

log = logging.getLogger(__name__)

ALL = "ALL"
#: Kind filter choices (label, registry kind or ``None`` for all).
KIND_CHOICES: tuple[tuple[str, str], ...] = (
    ("All runs", "all"), ("Evaluations", "walk_forward"), ("Fits", "fit"),
)
#: Most runs listed in the table and the details picker.
MAX_LISTED = 200
#: Origins in the trailing window of the over-time charts (10 origins every 5 days ~ 2 months).
TIME_WINDOW = 10

NO_EVALUATION_MESSAGE = (
    "No walk-forward evaluation of {code} is recorded yet, so there is nothing to compare. "
    "Press `Run quick evaluation` for a small one here ({n} origins, steps 1–{h}; models: "
    "{models}), or run the full one in a terminal: "
    "`energy-nb evaluate --commodity {code} --start 2025-01-01 --horizon 30 --step 5 --models all`."
)


class ModelsPage:
    """The Models page.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore`; default
            ``PriceStore.from_settings()``.
        commodity: initial commodity filter (a code or ``"ALL"``).
        quick_models: models the quick evaluation button evaluates.
        quick_settings: keyword arguments of :func:`energy_nb.service.diagnostics.quick_evaluation`
            (``n_origins``, ``horizon``, ``step``, ``refit_every``, ``levels``).
        diagnostics: compute residual diagnostics of the selected run at once (else on the
            ``Residual diagnostics`` button).
        background: wait for the diagnostics refit in a thread so the page stays usable.
        diagnostics_cache: where diagnostics are saved and read per run; default
            ``DiagnosticsCache.from_settings()`` (``$ENERGY_NB_HOME/cache/diagnostics``).
        diagnostics_timeout: seconds a refit's worker process may run before it is killed.

    Attributes:
        commodity, kind, run_picker, coverage_level, compare_axis (``"step"`` or ``"time"``):
        the controls; evaluate_button and
        evaluate_progress: the quick evaluation; diagnostics_button.
        runs_html: the runs table; runs_frame: its rows.
        comparison_html / comparison: the metrics table and its frame.
        rmae_chart, coverage_chart, residual_chart, acf_chart, histogram_chart:
        :class:`~energy_nb.viz.charts.StaticChart` (``.figure`` is the figure shown).
        details: ``HTML`` of the selected run; diagnostics: the last
        :class:`ResidualDiagnostics` (``None`` when none); diagnostics_cache: the
        :class:`~energy_nb.service.diagnostics_cache.DiagnosticsCache`.
        messages, freshness: see :mod:`energy_nb.ui.controls`; widget: the whole page.

    Usage::

        page = ModelsPage(store)
        page.commodity.value = "NG"
        page.comparison.loc["auto", "rmae_1"]
    """

    def __init__(
        self,
        store: Any = None,
        *,
        commodity: str = "WTI",
        quick_models: Sequence[str] = QUICK_MODELS,
        quick_settings: dict[str, Any] | None = None,
        diagnostics: bool = True,
        background: bool = True,
        diagnostics_cache: DiagnosticsCache | None = None,
        diagnostics_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.store = store
        self.diagnostics_cache = diagnostics_cache or DiagnosticsCache.from_settings()
        self.diagnostics_timeout = diagnostics_timeout
        self.registry: ModelRegistry | None = None
        self.quick_models = tuple(quick_models)
        self.quick_settings = dict(quick_settings or {})
        self.auto_diagnostics = diagnostics
        self.background = background
        self._diag_token = 0
        self._diag_thread: threading.Thread | None = None
        self.runs_frame = pd.DataFrame()
        self.comparison = pd.DataFrame()
        self.diagnostics: ResidualDiagnostics | None = None
        self._diag_cache: dict[int, ResidualDiagnostics | str] = {}
        self._evaluations: dict[str, ModelRun] = {}
        self._suspended = False
        self._status: list[dict[str, Any]] = []

        self.messages = MessageArea()
        self.freshness = FreshnessLine()
        store_problem = self._open_store()

        style = {"description_width": "initial"}
        self.commodity = widgets.Dropdown(
            options=[("All commodities", ALL)] + [(c, c) for c in CODES],
            value=commodity if commodity == ALL else get_commodity(commodity).code,
            description="Commodity", style=style, layout=widgets.Layout(width="240px"),
        )
        self.kind = widgets.ToggleButtons(options=list(KIND_CHOICES), value="all",
                                          tooltips=["every recorded run",
                                                    "walk-forward evaluations",
                                                    "single fits (forecasts served)"],
                                          style={"button_width": "100px"})
        # the two comparison charts against the horizon step or the forecast origin (one pair of
        # charts, redrawn: a second pair would slow every page load for a view asked for less)
        self.compare_axis = widgets.ToggleButtons(
            options=[("By horizon step", "step"), ("Over time", "time")], value="step",
            tooltips=["metrics per forecast step, averaged over the origins",
                      f"metrics per forecast origin, trailing {TIME_WINDOW} origins"],
            style={"button_width": "130px"})
        self.coverage_level = widgets.Dropdown(options=[], description="Coverage of",
                                               style=style, layout=widgets.Layout(width="200px"))
        self.run_picker = widgets.Dropdown(options=[], description="Run", style=style,
                                           layout=widgets.Layout(width="520px"))
        self.evaluate_button = widgets.Button(description="Run quick evaluation",
                                              button_style="primary", icon="play",
                                              layout=widgets.Layout(width="200px",
                                                                    display="none"))
        self.evaluate_progress = widgets.IntProgress(value=0, min=0, max=1,
                                                     description="Evaluating",
                                                     layout=widgets.Layout(display="none"))
        self.diagnostics_button = widgets.Button(
            description="Residual diagnostics", layout=widgets.Layout(width="200px"),
            tooltip="Refit the selected run's model and plot its one-step residuals, their "
                    "autocorrelation and distribution below")
        self.diagnostics_progress = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        for w, cls in ((self.commodity, "enb-commodity"), (self.kind, "enb-kind"),
                       (self.coverage_level, "enb-coverage-level"),
                       (self.compare_axis, "enb-compare-axis"),
                       (self.run_picker, "enb-run-picker"),
                       (self.evaluate_button, "enb-evaluate"),
                       (self.evaluate_progress, "enb-evaluate-progress"),
                       (self.diagnostics_button, "enb-diagnostics-button"),
                       (self.diagnostics_progress, "enb-progress")):
            w.add_class(cls)

        self.runs_html = widgets.HTML(value="")
        self.runs_html.add_class("enb-runs")
        self.comparison_html = widgets.HTML(value="")
        self.comparison_html.add_class("enb-comparison")
        self.download = CsvDownloadLink("Download metrics CSV")
        # Static charts: their content is widget state, so it shows however late the page
        # connects (Voilà) and whichever thread drew it (background diagnostics).
        self.rmae_chart = StaticChart(metric_by_step_figure(pd.DataFrame(), metric_label="rMAE"),
                                      "enb-rmae-chart")
        self.coverage_chart = StaticChart(
            metric_by_step_figure(pd.DataFrame(), metric_label="coverage"), "enb-coverage-chart")
        self.details = widgets.HTML(value="")
        self.details.add_class("enb-run-details")
        self.diagnostics_summary = widgets.HTML(value="")
        self.diagnostics_summary.add_class("enb-diagnostics")
        self.residual_chart = StaticChart(residuals_figure(pd.Series(dtype=float)),
                                          "enb-residual-chart")
        self.acf_chart = StaticChart(acf_figure(pd.Series(dtype=float), 0.0), "enb-acf-chart")
        self.histogram_chart = StaticChart(residual_histogram_figure(pd.DataFrame()),
                                           "enb-residual-histogram")

        # shown only when there is an evaluation to compare (no empty axes on a fresh store)
        self.compare_charts = widgets.VBox(
            [widgets.HBox([labelled("Show", self.compare_axis), self.coverage_level],
                          layout=widgets.Layout(align_items="center")),
             widgets.HBox([self.rmae_chart.widget, self.coverage_chart.widget])],
            layout=widgets.Layout(display="none"))
        self.compare_charts.add_class("enb-compare-charts")

        # the residual charts show only once there are diagnostics to draw (no empty axes)
        self.diagnostics_charts = widgets.HBox(
            [self.residual_chart.widget, self.acf_chart.widget, self.histogram_chart.widget],
            layout=widgets.Layout(display="none"))
        self.diagnostics_charts.add_class("enb-diagnostics-charts")
        section = lambda text: widgets.HTML(f'<h3 style="margin:0.8em 0 0.2em">{text}</h3>')
        self.widget = widgets.VBox([
            widgets.HTML(page_header(
                "Models",
                "Recorded models, their out-of-sample accuracy against the random walk, and "
                "residual diagnostics",
                page="models.ipynb",
            )),
            self.freshness.widget,
            widgets.HBox([self.commodity, labelled("Runs", self.kind)]),
            self.messages.widget,
            widgets.HBox([self.evaluate_button, self.evaluate_progress]),
            section("Compare models (latest walk-forward evaluation per model)"),
            self.comparison_html,
            widgets.HTML(glossary_html(["rMAE", "MAE", "Coverage", "Width", "Trading days"])),
            self.download.widget,
            self.compare_charts,
            section("Model runs"),
            self.runs_html,
            section("Run details"),
            widgets.HBox([self.run_picker, self.diagnostics_button]),
            self.details,
            self.diagnostics_progress,
            self.diagnostics_summary,
            self.diagnostics_charts,
        ])
        self.widget.add_class("enb-models-page")

        if store_problem:
            self.messages.show(store_problem, "error")
            return
        self.freshness.update(self._status)
        # a shared link's selection (Voilà's query string), applied before anything is computed
        self.link_problems = apply_query(self.link_fields(), query_from_env())
        self.commodity.observe(self._on_filter, names="value")
        self.kind.observe(self._on_filter, names="value")
        self.coverage_level.observe(self._on_coverage_level, names="value")
        self.compare_axis.observe(self._on_compare_axis, names="value")
        self.run_picker.observe(self._on_run, names="value")
        self.evaluate_button.on_click(self._on_evaluate)
        self.diagnostics_button.on_click(lambda _b: self.show_diagnostics())
        self.refresh()

    # -- data ------------------------------------------------------------------------------------

    def _open_store(self) -> str | None:
        try:
            if self.store is None:
                from energy_nb.data.store import PriceStore

                self.store = PriceStore.from_settings()
            self.registry = ModelRegistry(self.store)
            self._status = store_freshness(self.store)
        except Exception as exc:  # a broken store must not become a traceback in the page
            log.exception("cannot open the price store")
            return f"Cannot open the price store: {exc}"
        return None

    @property
    def selected_code(self) -> str | None:
        """The commodity filter, ``None`` for all."""
        return None if self.commodity.value == ALL else self.commodity.value

    # -- events ----------------------------------------------------------------------------------

    def link_fields(self) -> dict[str, widgets.ValueWidget]:
        """The controls the page's URL carries (:mod:`energy_nb.ui.urlstate`)."""
        return {"commodity": self.commodity, "runs": self.kind}

    def _on_filter(self, _change: dict) -> None:
        if not self._suspended:
            self.refresh()

    def _on_coverage_level(self, _change: dict) -> None:
        if not self._suspended:
            self._guard(self._draw_coverage)

    def _on_compare_axis(self, _change: dict) -> None:
        if not self._suspended:
            self._guard(self._draw_charts)

    def _on_run(self, _change: dict) -> None:
        if not self._suspended:
            self._guard(self._show_run)

    def _on_evaluate(self, _button: Any = None) -> None:
        self._guard(self.run_quick_evaluation)

    def _guard(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # last resort: show it in the page, log the traceback
            log.exception("Models page update failed")
            self.messages.show(f"Unexpected error while updating the page: {exc}", "error")

    # -- updates ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the registry and redraw every section."""
        self._guard(self._refresh)

    def _refresh(self) -> None:
        code = self.selected_code
        kind = None if self.kind.value == "all" else self.kind.value
        runs = self.registry.list(commodity=code, kind=kind, limit=MAX_LISTED)
        self.runs_frame = runs_table(runs)
        self.runs_html.value = runs_table_html(self.runs_frame)
        notes: list[tuple[str, str]] = []
        if code is None:
            self._evaluations = {}
            notes.append(("Choose one commodity to compare models on it.", "info"))
        else:
            self._evaluations = self.registry.latest_evaluations(code)
            if not self._evaluations:
                notes.append((self._no_evaluation_text(code), "info"))
        if not runs and not self.registry.list(limit=1):
            empty = ("The model registry is empty: no model has been fitted or evaluated yet. "
                     "Choose a commodity and run a quick evaluation, or make a forecast on the "
                     "Forecast page.")
            notes.insert(0, (empty, "warning"))
        self.evaluate_button.layout.display = (
            "" if code is not None and not self._evaluations else "none")
        self.compare_charts.layout.display = "" if self._evaluations else "none"
        self.messages.show_many(notes)
        self._draw_comparison()
        self._fill_run_picker(runs)

    def _no_evaluation_text(self, code: str) -> str:
        settings = {"n_origins": 8, "horizon": 30, **self.quick_settings}
        return NO_EVALUATION_MESSAGE.format(code=code, n=settings["n_origins"],
                                            h=settings["horizon"],
                                            models=", ".join(self.quick_models))

    def _draw_comparison(self) -> None:
        runs = self._evaluations
        self.comparison = comparison_table(runs) if runs else pd.DataFrame()
        self.comparison_html.value = comparison_table_html(self.comparison)
        metrics = step_metrics_long(runs)
        if metrics.empty:
            self.download.disable("no evaluation to download" if self.selected_code
                                  else "choose one commodity")
        else:
            self.download.set_csv(metrics.to_csv(index=False, float_format="%.6g"),
                                  f"model_metrics_{self.selected_code}_by_step.csv")
        levels = evaluation_levels(runs) if runs else []
        # the over-time charts need the random walk's per-origin metrics (rMAE divides by its
        # MAE); runs recorded before energy_nb 0.2 have none: no "Over time" then
        walk = runs.get("random_walk") if runs else None
        has_time = walk is not None and not walk.origin_metrics().empty
        self._suspended = True
        try:
            previous = self.coverage_level.value
            self.coverage_level.options = [(f"{lv}% intervals", lv) for lv in levels]
            self.coverage_level.value = (previous if previous in levels
                                         else (levels[-1] if levels else None))
            if not has_time:
                self.compare_axis.value = "step"
            self.compare_axis.layout.display = "" if has_time else "none"
        finally:
            self._suspended = False
        self._draw_charts()

    def _draw_charts(self) -> None:
        """The rMAE and coverage charts, by horizon step or over time (``compare_axis``)."""
        if self.compare_axis.value == "time":
            title = f"rMAE over time (last {TIME_WINDOW} origins, all steps)"
        else:
            title = "rMAE by horizon step (below 1 beats the random walk)"
        self.rmae_chart.update(metric_by_step_figure(
            self._compared("rmae"), metric_label="rMAE", reference=1.0,
            reference_label="random walk", title=title,
        ))
        self._draw_coverage()

    def _compared(self, metric: str | None) -> pd.DataFrame:
        """``metric`` of the compared evaluations, by step or over time (``compare_axis``)."""
        runs = self._evaluations
        if not (runs and metric):
            return pd.DataFrame()
        if self.compare_axis.value == "time":
            return metric_over_time(runs, metric, TIME_WINDOW)
        return metric_by_step(runs, metric)

    def _draw_coverage(self) -> None:
        level = self.coverage_level.value
        over_time = self.compare_axis.value == "time"
        frame = self._compared(f"coverage_{level}" if level else None)
        if not level:
            title = "Coverage over time" if over_time else "Coverage by step"
        elif over_time:
            title = f"Coverage of the {level}% intervals over time (last {TIME_WINDOW} origins)"
        else:
            title = f"Coverage of the {level}% intervals by step"
        self.coverage_chart.update(metric_by_step_figure(
            frame, metric_label="coverage", percent=True,
            reference=(level / 100.0) if level else None,
            reference_label=f"nominal {level}%" if level else "", title=title,
        ))

    def _fill_run_picker(self, runs: Sequence[ModelRun]) -> None:
        options = [(run_label(r), r.id) for r in runs]
        previous = self.run_picker.value
        # prefer an evaluation run: its details include out-of-sample metrics
        default = next((r.id for r in runs if r.kind == "walk_forward"),
                       runs[0].id if runs else None)
        self._suspended = True
        try:
            self.run_picker.options = options
            ids = [o[1] for o in options]
            self.run_picker.value = previous if previous in ids else default
        finally:
            self._suspended = False
        self._show_run()

    def _show_run(self) -> None:
        run_id = self.run_picker.value
        self.diagnostics = None
        self._diag_token += 1  # a refit still running for the previous run is not drawn
        self.diagnostics_progress.layout.display = "none"
        self._clear_diagnostics()
        if run_id is None:
            self.details.value = '<div style="color:#555">No run to show.</div>'
            self.diagnostics_button.disabled = True
            return
        self.diagnostics_button.disabled = False
        run = self.registry.get(run_id)
        self.details.value = run_details_html(run)
        if self.auto_diagnostics or run_id in self._diag_cache:
            self.show_diagnostics()

    def _clear_diagnostics(self) -> None:
        self.diagnostics_summary.value = ""
        self.diagnostics_charts.layout.display = "none"
        self.diagnostics_button.description = "Residual diagnostics"
        self.residual_chart.update(residuals_figure(pd.Series(dtype=float)))
        self.acf_chart.update(acf_figure(pd.Series(dtype=float), 0.0))
        self.histogram_chart.update(residual_histogram_figure(pd.DataFrame()))

    def show_diagnostics(self) -> None:
        """Show the selected run's residual diagnostics: saved ones at once, else refit.

        The page's own results come first, then the diagnostics cache on disk (drawn at once,
        no refit); on a miss the run's model is refitted in a worker process
        (:mod:`energy_nb.service.diagnostics_worker`: the model libraries never load into this
        kernel), which saves the result there. With ``background=True`` a thread waits for the
        worker (the page stays usable; the indicator shows meanwhile);
        :meth:`wait_for_diagnostics` waits for it.
        """
        run_id = self.run_picker.value
        if run_id is None:
            return
        if run_id in self._diag_cache:
            self._draw_diagnostics(self._diag_cache[run_id])
            return
        run = self.registry.get(run_id)
        key = self._diagnostics_key(run)
        saved = self.diagnostics_cache.load(key) if key is not None else None
        if saved is not None:
            self._diag_cache[run_id] = saved
            self._draw_diagnostics(saved)
            return
        self._diag_token += 1
        token = self._diag_token
        self.diagnostics_progress.value = (
            f'<span class="enb-progress-text">Refitting {html.escape(run.name)} on '
            f"{html.escape(run.commodity)} {run.train_start} – {run.train_end} for its "
            "residual diagnostics …</span>")
        self.diagnostics_progress.layout.display = ""
        if self.background:
            self._diag_thread = threading.Thread(
                target=self._compute_diagnostics, args=(run, token, key), daemon=True,
                name=f"diagnostics-{run_id}")
            self._diag_thread.start()
        else:
            self._compute_diagnostics(run, token, key)

    def _diagnostics_key(self, run: ModelRun) -> DiagnosticsKey | None:
        """The run's key in the diagnostics cache; ``None`` (logged) when the store fails."""
        try:
            return self.diagnostics_cache.key(self.store, run)
        except Exception:  # no cache then: the refit reports what is wrong with the store
            log.warning("cannot key the residual diagnostics of run %s", run.id, exc_info=True)
            return None

    def wait_for_diagnostics(self, timeout: float | None = None) -> None:
        """Block until a background diagnostics refit has finished (for tests and scripts).

        Args:
            timeout: seconds to wait at most (default: the worker's own timeout,
                ``diagnostics_timeout``, plus 10 s, by when the thread has reported either way).
        """
        thread = self._diag_thread
        if thread is not None:
            thread.join(self.diagnostics_timeout + 10.0 if timeout is None else timeout)

    def _compute_diagnostics(self, run: ModelRun, token: int, key: DiagnosticsKey | None) -> None:
        try:
            result: ResidualDiagnostics | str = diagnostics_in_worker(
                self.store, run, self.diagnostics_cache, key, timeout=self.diagnostics_timeout)
        except DiagnosticsTimeout as exc:  # not kept: picking the run again retries
            result = str(exc)
        except DiagnosticsError as exc:
            result = str(exc)
            self._diag_cache[run.id] = result
        except Exception as exc:  # a failing refit must not leave the indicator spinning
            log.exception("residual diagnostics of run %s failed", run.id)
            result = f"unexpected error: {exc}"
        else:
            self._diag_cache[run.id] = result  # the worker saved it for later pages
        if token != self._diag_token:
            return  # the user picked another run meanwhile
        self.diagnostics_progress.layout.display = "none"
        try:
            self._draw_diagnostics(result)
        except Exception as exc:
            log.exception("drawing residual diagnostics failed")
            self.messages.show(f"Cannot draw the residual diagnostics: {exc}", "error")

    def _draw_diagnostics(self, result: ResidualDiagnostics | str) -> None:
        # the button has done its work for this run: say where the result is
        self.diagnostics_button.disabled = True
        self.diagnostics_button.description = "Diagnostics shown below"
        if isinstance(result, str):
            self.diagnostics = None
            self.diagnostics_summary.value = (
                f'<div class="enb-msg enb-msg-warning">Residual diagnostics unavailable: '
                f"{html.escape(result)}</div>")
            return
        self.diagnostics = result
        self.diagnostics_summary.value = diagnostics_html(result)
        self.residual_chart.update(residuals_figure(result.residuals))
        self.acf_chart.update(acf_figure(result.acf, result.acf_band))
        self.histogram_chart.update(residual_histogram_figure(result.histogram))
        self.diagnostics_charts.layout.display = ""

    def run_quick_evaluation(self) -> dict[str, int]:
        """Run and record the quick evaluation of the selected commodity (progress bar).

        Returns:
            ``{model: run id}`` (empty when no commodity is selected or it failed).
        """
        code = self.selected_code
        if code is None:
            self.messages.show("Choose one commodity to evaluate.", "warning")
            return {}
        bar = self.evaluate_progress
        bar.value, bar.max = 0, 1
        bar.description = f"Evaluating {code}"
        bar.layout.display = ""
        self.evaluate_button.disabled = True

        def progress(done: int, total: int, model: str) -> None:
            bar.max = max(total, 1)
            bar.value = done
            bar.description = f"{model} {done}/{total}"

        try:
            ids = quick_evaluation(self.store, code, self.quick_models, progress=progress,
                                   **self.quick_settings)
        except Exception as exc:  # shown in the page
            log.exception("quick evaluation failed")
            self.messages.show(f"The quick evaluation of {code} failed: {exc}", "error")
            return {}
        finally:
            bar.layout.display = "none"
            self.evaluate_button.disabled = False
        self.refresh()
        self.messages.show(
            f"Recorded a quick evaluation of {code}: {len(ids)} models "
            f"({', '.join(ids)}).", "info")
        return ids


# ----------------------------------------------------------------------------------------------
# HTML


def run_label(run: ModelRun) -> str:
    """Picker label of a run, e.g. ``#12 arima · WTI · walk_forward · to 2026-07-07``."""
    return f"#{run.id} {run.name} · {run.commodity} · {run.kind or '?'} · to {run.train_end}"


def _cell(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return fmt_num(value, digits)
    return html.escape(str(value))


def runs_table_html(frame: pd.DataFrame) -> str:
    """HTML of the runs table (:func:`energy_nb.service.diagnostics.runs_table`)."""
    if frame.empty:
        return '<div style="color:#555">No model runs recorded for this filter.</div>'
    head = ["Id", "Model", "Commodity", "Kind", "Training window", "Data version", "Created",
            "Origins", "Mean rMAE"]
    rows = []
    for _, r in frame.iterrows():
        cells = [str(r["id"]), html.escape(r["model"]), html.escape(r["commodity"]),
                 html.escape(r["kind"] or "?"), f"{r['train_start']} – {r['train_end']}",
                 html.escape(str(r["data_version"])), html.escape(str(r["created_at"])),
                 _cell(None if pd.isna(r["origins"]) else int(r["origins"])),
                 _cell(r["mean_rmae"])]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable enb-runs-rows">'
            f'{header}{"".join(rows)}</table></div>')


def comparison_table_html(table: pd.DataFrame) -> str:
    """HTML of the metric comparison (:func:`energy_nb.service.diagnostics.comparison_table`)."""
    if table.empty:
        return ""
    labels = {"mean_rmae": "rMAE mean", "mae_1": "MAE step 1", "origins": "Origins",
              "run_id": "Run"}
    head = ["Model"]
    for column in table.columns:
        if column.startswith("rmae_"):
            head.append(f"rMAE step {column[5:]}")
        elif column.startswith("coverage_"):
            head.append(f"Coverage {column[9:]}%")
        elif column.startswith("width_"):
            head.append(f"Mean width {column[6:]}%")
        else:
            head.append(labels.get(column, column))
    rows = []
    for name, r in table.iterrows():
        cells = [f"<b>{html.escape(str(name))}</b>"]
        for column in table.columns:
            value = r[column]
            if column.startswith("coverage_"):
                cells.append(fmt_pct(float(value) * 100, 1, signed=False))
            elif column in ("origins", "run_id"):
                cells.append(_cell(None if pd.isna(value) else int(value)))
            else:
                cells.append(_cell(float(value)))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{term(h)}</th>" for h in head) + "</tr>"
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable '
            f'enb-comparison-rows">{header}{"".join(rows)}</table></div>')


def run_details_html(run: ModelRun) -> str:
    """HTML of one run: metadata, parameters, library versions, settings and headline metrics."""
    params = "".join(
        f'<tr><td title="{html.escape(k)}">{html.escape(model_param_label(k))}</td>'
        f"<td>{html.escape(plain_value(v))}</td></tr>"
        for k, v in sorted(run.params.items())
    ) or '<tr><td colspan="2">(no parameters)</td></tr>'
    versions = ", ".join(f"{html.escape(k)} {html.escape(str(v))}"
                         for k, v in run.versions.items()) or "—"
    m = run.metrics
    lines = [
        (f"<b>#{run.id} {html.escape(run.name)}</b> on {html.escape(run.commodity)} "
         f"({html.escape(run.kind or '?')})"),
        (f'Training window: <span class="enb-train-window">{run.train_start} – '
         f"{run.train_end}</span>"),
        (f"Data version: {html.escape(str(run.data_version))} · "
         f"created {html.escape(run.created_at)}"),
        f"Libraries: {versions}",
    ]
    if run.kind == "walk_forward":
        overall = m.get("mean_over_steps") or {}
        lines.append(
            f"Evaluation: {m.get('n_origins')} origins from {m.get('start')} every "
            f"{m.get('step')} trading days, steps 1–{m.get('horizon')}, refit every "
            f"{m.get('refit_every')} · {m.get('fits')} fits in {fmt_num(m.get('seconds'), 1)} s"
            f" · mean rMAE {_cell(overall.get('rmae'))}, mean MAE {_cell(overall.get('mae'))}")
        if m.get("failures"):
            lines.append(f"Failures: {len(m['failures'])} origins (e.g. "
                         f"{html.escape(str(m['failures'][0]))})")
    elif run.kind == "fit":
        lines.append(f"Fit: {m.get('n_obs', '?')} prices in {fmt_num(m.get('fit_seconds'), 3)} s")
    body = "".join(f"<div>{line}</div>" for line in lines)
    return (f'<div class="enb-run">{body}<table class="enb-stats enb-params">'
            f"<tr><th>Parameter</th><th>Value</th></tr>{params}</table></div>")


def diagnostics_html(diag: ResidualDiagnostics) -> str:
    """One line summarising residual diagnostics."""
    verdict = ("no significant autocorrelation" if diag.ljung_box_pvalue >= 0.05
               else "autocorrelated (the model misses some structure)")
    return (
        f'<div class="enb-diag-line">Residuals of <b>{html.escape(diag.model)}</b>: '
        f"{len(diag.residuals)} one-step rolling-origin errors, scaled by volatility "
        f"({diag.residuals.index[0]:%Y-%m-%d} – {diag.residuals.index[-1]:%Y-%m-%d}) · "
        f"mean {fmt_num(diag.mean, 3)} · std {fmt_num(diag.std, 3)} · skew "
        f"{fmt_num(diag.skew, 2)} · excess kurtosis {fmt_num(diag.kurtosis, 2)} · Ljung-Box "
        f"p({len(diag.acf)}) = <span class=\"enb-ljung-box\">{diag.ljung_box_pvalue:.3f}</span>"
        f" ({verdict})</div>"
    )


def build_models_page(store: Any = None, **kwargs: Any) -> widgets.Widget:
    """Build the Models page widget (what ``notebooks/models.ipynb`` displays).

    Args:
        store: a PriceStore; default ``PriceStore.from_settings()``.
        **kwargs: passed to :class:`ModelsPage`.

    Returns:
        The page's root widget (the :class:`ModelsPage` is at ``widget.page``).
    """
    page = ModelsPage(store, **kwargs)
    # a preheated Voilà kernel rebuilds the page if the store changed before the visit
    return page_root(page, rebuild=lambda: ModelsPage(page.store, **kwargs))
