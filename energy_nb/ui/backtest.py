"""The Backtest dashboard: run a trading strategy on stored prices and judge it after costs.

The page is a widget shell around :func:`energy_nb.backtest.run_backtest`. The controls for a
strategy's parameters are generated from the strategy's own :class:`ParamSpec` list, and the
values are validated by the strategy itself (``make_strategy``) and the engine's settings
(``EngineConfig``): an invalid choice shows the strategy's message in the page, never a
traceback. A run happens in a background thread (walk-forward forecast strategies take seconds
to minutes), reporting progress through the strategy's ``progress(done, total)`` callback to a
progress bar; the Run button is disabled meanwhile and a Cancel button stops the run. Every run
is stored in the ``backtests`` table, and the last runs are shown side by side.

Shown after a run: equity against buy & hold, drawdown, the statistics (backtesting.py names),
the trades, and data-URL CSV links to the trades and the daily equity.

"Optimise parameters walk-forward" runs :func:`energy_nb.backtest.optimize.walk_forward_optimize`
instead: candidate values per parameter, training and test window lengths and the statistic to
maximise; the page shows the stitched out-of-sample run and the parameters chosen per window.

Helpers: :mod:`energy_nb.ui.backtest_params` (parameter controls from the strategies'
``ParamSpec``) and :mod:`energy_nb.ui.backtest_tables` (statistics, trades, comparison, CSV).

Usage (the whole of ``notebooks/backtest.ipynb``)::

    from energy_nb.ui.backtest import build_backtest_page
    build_backtest_page()

From Python (tests, scripts)::

    page = BacktestPage(store, background=False)
    page.strategy.value = "mean-reversion"
    page.param_widgets["mean-reversion"]["window"].value = 30
    result = page.run()
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from energy_nb.backtest import (
    STRATEGIES,
    STRATEGY_NAMES,
    BacktestError,
    BacktestResult,
    EngineConfig,
    EngineError,
    StrategyError,
    list_backtests,
    make_strategy,
    run_backtest,
)
from energy_nb.backtest.optimize import (
    OBJECTIVES,
    WalkForwardResult,
    walk_forward_optimize,
)
from energy_nb.backtest.notes import result_notes
from energy_nb.backtest.run import DEFAULT_COMMISSION
from energy_nb.backtest.strategies import ParamSpec
from energy_nb.ui.backtest_params import (
    MODEL_PARAMS,
    BacktestInputError,
    link_model_settings,
    optimisable,
    param_widget,
    parse_grid,
    read_param,
)
from energy_nb.ui.backtest_tables import (
    comparison_frame,
    comparison_html,
    csv_basename,
    equity_csv,
    params_summary,
    stats_table_html,
    trades_csv,
    trades_table_html,
    windows_table_html,
)
from energy_nb.viz.charts import StaticChart, drawdown_figure, equity_curve_figure, to_widget
from energy_nb.ui.controls import (
    CsvDownloadLink,
    DateRange,
    FreshnessLine,
    MessageArea,
    commodity_picker,
    load_current,
    open_page_store,
    page_root,
)
from energy_nb.ui.glossary import glossary_html, param_label
from energy_nb.ui.model_settings import ModelSettings
from energy_nb.ui.nav import page_header
from energy_nb.ui.urlstate import apply_query, query_from_env

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_START",
    "BacktestPage",
    "BacktestRequest",
    "ChartSlot",
    "build_backtest_page",
]

#: Default first day of the simulated window (fast default: BRENT sma-cross 10/40 from 2015).
DEFAULT_START = date(2015, 1, 1)








class _Cancelled(Exception):
    """Raised from the progress callback to stop a run the user cancelled."""


@dataclass(frozen=True)
class BacktestRequest:
    """Everything one run needs, read from the controls and validated.

    Attributes:
        commodity: commodity code.
        strategy: strategy name.
        params: the strategy's validated parameters.
        config: validated money settings.
        start, end: the simulated window (``None`` = from the first / to the last price).
        optimise: for a walk-forward optimisation, the keyword arguments of
            :func:`~energy_nb.backtest.optimize.walk_forward_optimize` (``grid``, ``fixed``,
            ``train_days``, ``test_days``, ``objective``); ``None`` for a single run.
    """

    commodity: str
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    config: EngineConfig = field(default_factory=EngineConfig)
    start: date | None = None
    end: date | None = None
    optimise: dict[str, Any] | None = None



class ChartSlot:
    """A place in the page for one chart: a note until there is a figure, then a FigureWidget.

    Every :meth:`set` builds a new ``FigureWidget`` carrying the figure in its initial state
    (rather than updating one created empty at page load): anywidget gives a widget model 2 s
    to initialise in the browser, and on a busy machine a chart whose model missed that window
    still draws its initial state but ignores later updates.

    Args:
        css_class: class of the container (``.css_class .js-plotly-plot`` finds the chart).
        placeholder: text shown before the first figure.
        static: show a :class:`~energy_nb.viz.charts.StaticChart` (plotly mimebundle in an
            ``Output``) instead of a ``FigureWidget``: no copy of plotly.js travels with it, so
            secondary charts cost the page little.

    Attributes:
        widget: the container; ``figure``: the figure on display (a ``FigureWidget``, or the
        ``go.Figure`` of a static slot) or ``None``.
    """

    def __init__(self, css_class: str, placeholder: str, static: bool = False) -> None:
        self.css_class = css_class
        self.placeholder = placeholder
        self.static = static
        self.figure: go.Figure | go.FigureWidget | None = None
        self._shown: widgets.Widget | None = None
        self.widget = widgets.VBox(layout=widgets.Layout(width="100%"))  # column: chart stretches
        self.widget.add_class(css_class)
        self.clear()

    def set(self, fig: go.Figure) -> go.Figure | go.FigureWidget:
        """Show ``fig`` (replacing and closing the previous chart)."""
        old = self._shown
        if self.static:
            chart = StaticChart(fig, f"{self.css_class}-chart")
            self.figure, self._shown = fig, chart.widget
        else:
            self.figure = self._shown = to_widget(fig)
            self.figure.add_class(f"{self.css_class}-chart")
        self.widget.children = (self._shown,)
        if old is not None:
            old.close()
        return self.figure

    def clear(self) -> None:
        """Show the placeholder instead of a chart."""
        old = self._shown
        self.figure = self._shown = None
        self.widget.children = (widgets.HTML(
            f'<div style="color:#888;padding:1em 0">{html.escape(self.placeholder)}</div>'),)
        if old is not None:
            old.close()


# -- the page ------------------------------------------------------------------------------------


class BacktestPage:
    """The Backtest page: controls, Run with progress, charts, statistics, trades, comparison.

    Args:
        store: a :class:`energy_nb.data.store.PriceStore`; default
            ``PriceStore.from_settings()`` (``ENERGY_NB_HOME``).
        commodity: initial commodity.
        strategy: initial strategy.
        start: initial first day of the window.
        compare_last: how many stored runs the comparison table shows.
        background: run backtests in a thread (the page stays responsive); ``False`` runs them
            in the caller's thread (tests, scripts).

    Attributes:
        commodity, strategy, dates, capital, commission, fixed_commission, slippage: controls.
        param_widgets: per strategy, ``{parameter: widget}``.
        run_button, cancel_button, progress, status: running.
        equity_slot, drawdown_slot: :class:`ChartSlot`; ``equity_chart`` / ``drawdown_chart``
            are their current ``go.FigureWidget`` (``None`` before a result).
        stats_table, trades_table, comparison_table: ``HTML``; params_line: the run's parameters
            by their plain labels.
        trades_download, equity_download: :class:`CsvDownloadLink`.
        messages, freshness: see :mod:`energy_nb.ui.controls`.
        result: the :class:`BacktestResult` on display (``None`` before the first run).
        widget: the whole page.
    """

    def __init__(
        self,
        store: Any = None,
        *,
        commodity: str = "BRENT",
        strategy: str = "sma-cross",
        start: date | None = DEFAULT_START,
        compare_last: int = 8,
        background: bool = True,
        preview: bool = False,
    ) -> None:
        self.store = store
        self.background = background
        self.compare_last = compare_last
        self.result: BacktestResult | None = None
        self.optimised: WalkForwardResult | None = None
        self._series: dict[str, tuple[str, pd.Series]] = {}
        self._status: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._last_pct = -1

        self.messages = MessageArea()
        self.freshness = FreshnessLine()
        store_problem = self._open_store()

        self.commodity = commodity_picker((commodity,), multiple=False)
        self.commodity.add_class("enb-bt-commodity")
        self.strategy = widgets.Dropdown(
            options=[(f"{n} — {STRATEGIES[n].description}", n) for n in STRATEGY_NAMES],
            value=make_strategy(strategy).name, description="Strategy",
            layout=widgets.Layout(width="560px"), style={"description_width": "initial"},
        )
        self.strategy.add_class("enb-bt-strategy")
        self.param_widgets: dict[str, dict[str, widgets.ValueWidget]] = {
            name: {spec.name: param_widget(spec) for spec in cls.param_specs}
            for name, cls in STRATEGIES.items()
        }
        for controls in self.param_widgets.values():
            link_model_settings(controls)
        self._settings_folds: dict[str, widgets.Accordion] = {}
        self.params_box = widgets.VBox()
        self.params_box.add_class("enb-bt-params")

        self.optimise = widgets.Checkbox(value=False, indent=False,
                                         description="Optimise parameters walk-forward")
        self.optimise.add_class("enb-bt-optimise")
        self.grid_widgets: dict[str, dict[str, widgets.Text]] = {
            name: {spec.name: self._grid_widget(spec) for spec in cls.param_specs
                   if optimisable(spec)}
            for name, cls in STRATEGIES.items()
        }
        opt_style = {"description_width": "190px"}
        self.train_days = widgets.IntText(value=504, description="Train window [trading days]",
                                          style=opt_style, layout=widgets.Layout(width="300px"))
        self.test_days = widgets.IntText(value=126, description="Test window [trading days]",
                                         style=opt_style, layout=widgets.Layout(width="300px"))
        self.objective = widgets.Dropdown(options=OBJECTIVES, value="Sharpe Ratio",
                                          description="Best", style=opt_style,
                                          layout=widgets.Layout(width="360px"))
        self.optimise_box = widgets.VBox()
        self.optimise_box.add_class("enb-bt-optimise-box")
        self.windows_table = widgets.HTML(value="")
        self.windows_table.add_class("enb-bt-windows")

        money_style = {"description_width": "150px"}
        money_layout = widgets.Layout(width="300px")
        self.capital = widgets.FloatText(value=100_000.0, description="Capital [$]",
                                         style=money_style, layout=money_layout)
        self.commission = widgets.FloatText(
            value=DEFAULT_COMMISSION, description="Commission (rate)", style=money_style,
            layout=money_layout,
            tooltip="fraction of traded value, 0.001 = 0.1 %")
        self.fixed_commission = widgets.FloatText(
            value=0.0, description="Fee per order [$]", style=money_style, layout=money_layout)
        self.slippage = widgets.FloatText(value=0.0, description="Slippage [bp]",
                                          style=money_style, layout=money_layout)
        for w, cls in ((self.capital, "capital"), (self.commission, "commission"),
                       (self.fixed_commission, "fee"), (self.slippage, "slippage")):
            w.add_class(f"enb-bt-{cls}")
        first_last = self._store_last()
        self.dates = DateRange(start, first_last)

        self.run_button = widgets.Button(description="Run backtest", button_style="primary",
                                         icon="play")
        self.run_button.add_class("enb-bt-run")
        self.cancel_button = widgets.Button(description="Cancel", disabled=True, icon="stop")
        self.cancel_button.add_class("enb-bt-cancel")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="Progress",
                                            layout=widgets.Layout(width="320px"))
        self.progress.add_class("enb-bt-progress")
        self.status = widgets.HTML(value="")
        self.status.add_class("enb-bt-status")

        self.equity_slot = ChartSlot("enb-bt-equity",
                                     "The equity curve against buy & hold appears here "
                                     "after a run.")
        self.drawdown_slot = ChartSlot("enb-bt-drawdown", "", static=True)
        # the run's parameters by their plain labels, above the charts (too long for a title)
        self.params_line = widgets.HTML(value="")
        self.params_line.add_class("enb-bt-params-line")
        self.stats_table = widgets.HTML(value="")
        self.stats_table.add_class("enb-bt-stats")
        self.trades_table = widgets.HTML(value="", layout=widgets.Layout(
            max_height="320px", overflow="auto"))
        self.trades_table.add_class("enb-bt-trades")
        self.trades_download = CsvDownloadLink("Download trades CSV")
        self.equity_download = CsvDownloadLink("Download equity CSV")
        self.trades_download.widget.add_class("enb-bt-trades-csv")
        self.equity_download.widget.add_class("enb-bt-equity-csv")
        self.comparison_table = widgets.HTML(value="")
        self.comparison_table.add_class("enb-bt-compare")
        self.compare_commodity_only = widgets.Checkbox(
            value=False, description="this commodity only", indent=False,
            layout=widgets.Layout(margin="0 0 0 16px"))

        # a shared link's selection (Voilà's query string), applied before anything is computed
        self.link_problems = apply_query(self.link_fields(), query_from_env())
        self.widget = self._layout()
        self.widget.add_class("enb-backtest-page")
        self._show_params()
        self.strategy.observe(self._on_strategy, names="value")
        self.run_button.on_click(lambda _b: self.run(wait=False))
        self.cancel_button.on_click(lambda _b: self.cancel())
        for w in self._validated_widgets():
            w.observe(self._on_change, names="value")
        self.commodity.observe(self._on_commodity, names="value")
        self.compare_commodity_only.observe(lambda _c: self.refresh_comparison(), names="value")
        self.optimise.observe(self._on_optimise, names="value")

        if store_problem:
            self.messages.show(store_problem, "error")
            self.run_button.disabled = True
            self.trades_download.disable("no data")
            self.equity_download.disable("no data")
            return
        self.freshness.update(self._status, [self.commodity.value])
        self.status.value = "Choose a strategy and press <b>Run backtest</b>."
        self.refresh_comparison()
        if preview:
            self.run_preview()

    # -- layout --------------------------------------------------------------------------------

    def _layout(self) -> widgets.VBox:
        label = lambda text: widgets.HTML(f"<b>{html.escape(text)}</b>")
        left = widgets.VBox([label("Market and strategy"), self.commodity, self.strategy,
                             self.params_box, self.dates.widget, self.optimise,
                             self.optimise_box])
        right = widgets.VBox([label("Money"), self.capital, self.commission,
                              self.fixed_commission, self.slippage])
        run_row = widgets.HBox([self.run_button, self.cancel_button, self.progress, self.status])
        self.trades_download.widget.layout.margin = "0 16px 0 0"
        downloads = widgets.HBox([self.trades_download.widget, self.equity_download.widget])
        results = widgets.HBox(
            [
                # side by side on wide windows; below 900 px the statistics wrap under
                widgets.VBox([self.params_line, self.equity_slot.widget,
                              self.drawdown_slot.widget],
                             layout=widgets.Layout(flex="3 1 560px", min_width="0")),
                widgets.VBox([label("Statistics"), self.stats_table, widgets.HTML(glossary_html(
                    ["Sharpe", "Sortino", "Calmar", "SQN", "Max drawdown", "Trading days"]))],
                             layout=widgets.Layout(flex="1 1 300px", min_width="0")),
            ],
            layout=widgets.Layout(width="100%"),
        )
        return widgets.VBox(
            [
                widgets.HTML(page_header(
                    "Backtest",
                    "Would trading on these signals have made money after costs? A signal "
                    "decided with data up to day t trades at day t+1's price.",
                    page="backtest.ipynb",
                )),
                self.freshness.widget,
                widgets.HBox([left, right], layout=widgets.Layout(justify_content="space-between",
                                                                  max_width="1200px")),
                run_row,
                self.messages.widget,
                results,
                downloads,
                self.windows_table,
                label("Trades"),
                self.trades_table,
                widgets.HBox([label("Last runs side by side"), self.compare_commodity_only],
                             layout=widgets.Layout(justify_content="flex-start")),
                self.comparison_table,
            ]
        )

    def link_fields(self) -> dict[str, widgets.ValueWidget]:
        """The controls the page's URL carries (:mod:`energy_nb.ui.urlstate`)."""
        return {"commodity": self.commodity, "strategy": self.strategy,
                "start": self.dates.start, "end": self.dates.end}

    def _show_params(self) -> None:
        name = self.strategy.value
        specs = STRATEGIES[name].param_specs
        boxes: list[widgets.Widget] = []
        model_specs = [s for s in specs if s.name in MODEL_PARAMS]
        other_specs = [s for s in specs if s.name not in MODEL_PARAMS]

        def row(spec: ParamSpec) -> widgets.Widget:
            control = self.param_widgets[name][spec.name]
            if isinstance(control, ModelSettings):  # folded: the model's own settings
                return self._settings_fold(name, control)
            return widgets.HBox([control, widgets.HTML(
                f'<span style="color:#666">{html.escape(spec.help)}</span>')])

        def rows(group: list[ParamSpec]) -> list[widgets.Widget]:
            return [row(s) for s in group]

        if model_specs:
            boxes.append(widgets.HTML("<i>Forecast model</i>"))
            boxes += rows(model_specs)
        if other_specs:
            boxes.append(widgets.HTML("<i>Parameters</i>"))
            boxes += rows(other_specs)
        if not specs:
            boxes.append(widgets.HTML('<span style="color:#666">No parameters.</span>'))
        self.params_box.children = tuple(boxes)
        self._show_optimise()

    def _settings_fold(self, strategy: str, settings: ModelSettings) -> widgets.Accordion:
        """The "Model settings" fold of a strategy (built once, so it keeps its open state)."""
        folds = self._settings_folds
        if strategy not in folds:
            fold = widgets.Accordion(children=[settings], titles=("Model settings",),
                                     selected_index=None, layout=widgets.Layout(width="100%"))
            fold.add_class("enb-bt-model-settings")
            folds[strategy] = fold
        return folds[strategy]

    def _grid_widget(self, spec: ParamSpec) -> widgets.Text:
        widget = widgets.Text(value="", placeholder="e.g. 5, 10, 20 (blank: fixed)",
                              description=param_label(spec.name),
                              style={"description_width": "190px"},
                              layout=widgets.Layout(width="360px"))
        widget.add_class(f"enb-grid-{spec.name.replace('_', '-')}")
        return widget

    def _show_optimise(self) -> None:
        grid = self.grid_widgets[self.strategy.value]
        self.optimise.disabled = not grid
        if not self.optimise.value or not grid:
            self.optimise_box.children = ()
            return
        self.optimise_box.children = (
            widgets.HTML('<span style="color:#666">For each test window, every combination of '
                         "the values below is backtested on the training window just before "
                         "it; the best one trades the test window. Only the out-of-sample result "
                         "is shown and stored.</span>"),
            *grid.values(), self.train_days, self.test_days, self.objective,
        )

    def _validated_widgets(self) -> list[widgets.Widget]:
        out: list[widgets.Widget] = [self.capital, self.commission, self.fixed_commission,
                                     self.slippage, self.dates.start, self.dates.end,
                                     self.train_days, self.test_days, self.objective]
        for per_strategy in (*self.param_widgets.values(), *self.grid_widgets.values()):
            out += list(per_strategy.values())
        return out

    # -- data ----------------------------------------------------------------------------------

    def _open_store(self) -> str | None:
        self.store, self._status, problem = open_page_store(self.store)
        return problem

    def _store_last(self) -> date | None:
        lasts = [r["last"] for r in self._status if r.get("last")]
        return date.fromisoformat(max(lasts)) if lasts else None

    def _load(self, code: str) -> pd.Series:
        """The full stored series of a commodity, cached per data version."""
        return load_current(self.store, self._series, code)

    # -- events --------------------------------------------------------------------------------

    def _on_strategy(self, _change: dict) -> None:
        self._show_params()
        self.validate()

    def _on_change(self, _change: dict) -> None:
        self.validate()

    def _on_optimise(self, _change: dict) -> None:
        self._show_optimise()
        self.validate()

    def _on_commodity(self, _change: dict) -> None:
        self.freshness.update(self._status, [self.commodity.value])
        if self.compare_commodity_only.value:
            self.refresh_comparison()

    # -- validation ----------------------------------------------------------------------------

    def request(self) -> BacktestRequest:
        """Read and validate the controls.

        Returns:
            The :class:`BacktestRequest`.

        Raises:
            BacktestInputError, StrategyError, BacktestError: with a message for the user.
        """
        name = self.strategy.value
        raw = {spec.name: read_param(spec, self.param_widgets[name][spec.name], name)
               for spec in STRATEGIES[name].param_specs}
        optimise = None
        if self.optimise.value and self.grid_widgets[name]:
            optimise = self._optimise_request(name, raw)
            # the grid's own combinations are checked by the optimiser (invalid ones skipped)
            strategy = make_strategy(name, **optimise["fixed"])
        else:
            strategy = make_strategy(name, **raw)
        try:
            config = EngineConfig(capital=self.capital.value, commission=self.commission.value,
                                  fixed_commission=self.fixed_commission.value,
                                  slippage_bps=self.slippage.value,
                                  allow_short=True)
        except EngineError as exc:
            raise BacktestError(str(exc)) from None
        start, end = self.dates.value
        if start is not None and end is not None and start >= end:
            raise BacktestError(f"The start date {start} must be before the end date {end}.")
        return BacktestRequest(commodity=self.commodity.value, strategy=strategy.name,
                               params=dict(strategy.params), config=config, start=start, end=end,
                               optimise=optimise)

    def _optimise_request(self, name: str, raw: dict[str, Any]) -> dict[str, Any]:
        specs = {s.name: s for s in STRATEGIES[name].param_specs}
        grid = {}
        for param, widget in self.grid_widgets[name].items():
            values = parse_grid(widget.value, specs[param], name)
            if values:
                grid[param] = values
        if not grid:
            raise BacktestInputError(
                f"{name}: enter the values to try for at least one parameter "
                f"({', '.join(self.grid_widgets[name])}) or untick the optimisation")
        return {"grid": grid, "fixed": {k: v for k, v in raw.items() if k not in grid},
                "train_days": int(self.train_days.value), "test_days": int(self.test_days.value),
                "objective": self.objective.value}

    def validate(self) -> BacktestRequest | None:
        """Validate the controls and show the problem, if any, in the page.

        Returns:
            The request, or ``None`` when a value is invalid (the message is shown).
        """
        try:
            req = self.request()
        except (BacktestInputError, StrategyError, BacktestError) as exc:
            self.messages.show(_sentence(str(exc)), "error")
            return None
        if self.messages.level == "error" and not self.running:
            self.messages.clear()
        return req

    # -- running -------------------------------------------------------------------------------

    @property
    def equity_chart(self) -> go.FigureWidget | None:
        """The equity chart on display (``None`` before the first result)."""
        return self.equity_slot.figure

    @property
    def drawdown_chart(self) -> go.Figure | None:
        """The drawdown chart on display (``None`` before the first result)."""
        return self.drawdown_slot.figure

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def run(self, wait: bool = True) -> BacktestResult | None:
        """Run a backtest with the current control values (what the Run button does).

        Args:
            wait: with ``background=True``, block until the run ends; the button does not wait.

        Returns:
            The result shown (``None`` when the input was invalid, the run failed, was
            cancelled, or is still running).
        """
        if self.running:
            self.messages.show("A backtest is already running; wait or press Cancel.", "warning")
            return None
        req = self.validate()
        if req is None:
            return None
        self._cancel.clear()
        self._set_running(True)
        if not self.background:
            return self._execute(req)
        self._thread = threading.Thread(target=self._execute, args=(req,),
                                        name="backtest-run", daemon=True)
        self._thread.start()
        if wait:
            self.wait()
            return self.result
        return None

    def run_preview(self) -> None:
        """Run the current settings without storing the run, so that the page opens with a chart.

        The preview runs in the caller's thread (widgets are built where the page is built; a
        default SMA crossover takes about 0.1 s). Walk-forward strategies (``forecast``...) fit
        models date by date and are not previewed: the page waits for Run as before.
        """
        if self.running or STRATEGIES[self.strategy.value].walk_forward:
            return
        req = self.validate()
        if req is None:
            return
        self._cancel.clear()
        self._set_running(True)
        self._execute(req, store_run=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end.

        Args:
            timeout: seconds (``None`` = no limit).

        Returns:
            True when no run is in progress any more.
        """
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def cancel(self) -> None:
        """Ask the running backtest to stop (at the next walk-forward step)."""
        if self.running or not self.background:
            self._cancel.set()
            self.status.value = "Cancelling…"

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.cancel_button.disabled = not running
        if running:
            self._last_pct = -1
            self.progress.value = 0
            self.progress.bar_style = "info"
            self.status.value = "Running…"
            self.messages.clear()

    def _on_progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise _Cancelled()
        pct = int(100 * done / total) if total else 100
        if pct != self._last_pct:  # at most 101 widget updates per run
            self._last_pct = pct
            self.progress.value = pct
            self.status.value = f"Walk-forward steps: {done:,} / {total:,}"

    def _execute(self, req: BacktestRequest, store_run: bool = True) -> BacktestResult | None:
        try:
            prices = self._load(req.commodity)
            if prices.empty:
                raise BacktestError(
                    f"No {req.commodity} prices in the store. Import them with "
                    f"`energy-nb data import PATH --commodity {req.commodity}`.")
            money = {"capital": req.config.capital, "commission": req.config.commission,
                     "fixed_commission": req.config.fixed_commission,
                     "slippage_bps": req.config.slippage_bps}
            optimised: WalkForwardResult | None = None
            if req.optimise is not None:
                optimised = walk_forward_optimize(
                    prices, req.strategy, **req.optimise, **money, start=req.start, end=req.end,
                    progress=self._on_progress, store=self.store if store_run else None)
                result = optimised.result
            else:
                result = run_backtest(
                    prices, req.strategy, req.params, **money, start=req.start, end=req.end,
                    progress=self._on_progress, store=self.store if store_run else None,
                )
        except _Cancelled:
            self.progress.bar_style = "warning"
            self.status.value = "Cancelled."
            self.messages.show("The run was cancelled; nothing was stored.", "info")
            return None
        except (StrategyError, BacktestError) as exc:
            self.progress.bar_style = "danger"
            self.status.value = "Failed."
            self.messages.show(_sentence(str(exc)), "error")
            return None
        except Exception as exc:  # last resort: a message in the page, the traceback in the log
            log.exception("backtest run failed")
            self.progress.bar_style = "danger"
            self.status.value = "Failed."
            self.messages.show(f"Unexpected error while running the backtest: {exc}", "error")
            return None
        finally:
            self._set_running(False)
        self.progress.value = 100
        self.progress.bar_style = "success"
        self.show(result, optimised)
        if not store_run:
            self.status.value += (" Preview of the default settings, not stored: change them and "
                                  "press <b>Run backtest</b>.")
        return result

    # -- results -------------------------------------------------------------------------------

    def show(self, result: BacktestResult, optimised: WalkForwardResult | None = None) -> None:
        """Display a result: charts, statistics, trades, downloads, comparison.

        Args:
            result: the run (for an optimisation, its stitched out-of-sample run).
            optimised: the optimisation, whose windows and chosen parameters are listed.
        """
        self.result = result
        self.optimised = optimised
        self.windows_table.value = (
            "<b>Walk-forward windows (parameters chosen on each training window)</b>"
            + windows_table_html(optimised.windows)) if optimised is not None else ""
        title = f"{result.strategy} on {result.commodity}"
        self.params_line.value = (
            f'<div style="color:#555"><b>Parameters</b>: '
            f"{html.escape(params_summary(result.params, result.strategy))}</div>")
        # no fixed width: the charts take their box's width and follow the window
        self.equity_slot.set(equity_curve_figure(result.equity, title=title))
        self.drawdown_slot.set(drawdown_figure(result.equity))
        self.stats_table.value = stats_table_html(result.stats)
        self.trades_table.value = trades_table_html(result.trades)
        base = csv_basename(result)
        self.trades_download.set_csv(trades_csv(result.trades), f"{base}_trades.csv")
        self.equity_download.set_csv(equity_csv(result.equity), f"{base}_equity.csv")
        stored = f" · stored as run #{result.run_id}" if result.run_id is not None else ""
        skipped = (result.info.get("strategy") or {}).get("n_skipped", 0)
        self.status.value = (
            f"Done: {result.start:%Y-%m-%d} – {result.end:%Y-%m-%d}, "
            f"{len(result.trades)} trades{stored}."
        )
        notes = []
        if skipped:
            text = f"The model failed on {skipped} rebalance date(s); the strategy was flat there."
            notes.append((text, "warning"))
        notes.extend(result_notes(result))  # ruin, and why no trade
        if optimised is not None and optimised.skipped:
            text = (f"{len(optimised.skipped)} parameter combination(s) were skipped as "
                    f"invalid, e.g. {optimised.skipped[0]}")
            notes.append((text, "info"))
        self.messages.show_many(notes)
        self.refresh_comparison()

    def refresh_comparison(self) -> None:
        """Reload the table of the last stored runs."""
        try:
            code = self.commodity.value if self.compare_commodity_only.value else None
            runs = list_backtests(self.store, commodity=code, limit=self.compare_last)
        except Exception as exc:  # an old store without the table, a locked file...
            log.exception("cannot list stored backtests")
            self.comparison_table.value = (
                f'<div class="enb-bt-no-runs">Cannot read the stored runs: '
                f"{html.escape(str(exc))}</div>")
            return
        highlight = self.result.run_id if self.result is not None else None
        self.comparison_table.value = comparison_html(comparison_frame(runs), highlight)




def _sentence(text: str) -> str:
    """Capitalise a message unless it starts with a strategy or parameter name."""
    first_word = text.split(" ", 1)[0] if text else ""
    if not text or text.split(":", 1)[0] in STRATEGY_NAMES or "_" in first_word:
        return text  # keep names as the code spells them (``slippage_bps must be ...``)
    return text[:1].upper() + text[1:]


def build_backtest_page(store: Any = None, **kwargs: Any) -> widgets.Widget:
    """Build the Backtest page widget (what ``notebooks/backtest.ipynb`` displays).

    Args:
        store: a PriceStore; default ``PriceStore.from_settings()``.
        **kwargs: passed to :class:`BacktestPage` (``commodity``, ``strategy``, ``start``, ...);
            ``preview`` defaults to True here: the page opens with the default strategy's run
            (not stored) on its chart.

    Returns:
        The page's root widget (the :class:`BacktestPage` is at ``widget.page``).
    """
    kwargs.setdefault("preview", True)
    page = BacktestPage(store, **kwargs)
    # a preheated Voilà kernel rebuilds the page if the store changed before the visit
    return page_root(page, rebuild=lambda: BacktestPage(page.store, **kwargs))
