"""The sections of the daily report, computed from the store (no notebook, no widgets).

``notebooks/report.ipynb`` is a thin shell: one cell per section, each calling one method of
:class:`ReportBuilder` and displaying the result. Every section is a small dataclass holding the
numbers (DataFrames), static plotly ``go.Figure`` objects built with the same builders as the
dashboards (:mod:`energy_nb.viz.charts`), and an HTML rendering (``_repr_html_``) that shows in
Jupyter, in papermill's executed notebook and in the HTML/PDF export.

No look-ahead: everything in a report dated ``as_of`` uses prices up to ``as_of`` only. The one
exception is labelled as such: when ``as_of`` lies in the past, the forecast chart also shows the
prices that were observed afterwards ("actual"), for comparison; they are never used to compute
anything.

Usage::

    from energy_nb.reports.content import ReportBuilder
    report = ReportBuilder.from_parameters({"commodities": ["WTI"], "horizon": 5})
    report.header()
    report.prices()
    report.forecast("WTI")
    report.accuracy("WTI")
    report.backtest("WTI")
    report.freshness()
"""

from __future__ import annotations

import html
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from energy_nb.service.analytics import PriceStats, price_stats
from energy_nb.commodities import get_commodity
from energy_nb.reports.parameters import (
    ReportParameterError,
    ReportParameters,
    check_against_data,
    validate_parameters,
)
from energy_nb.viz.charts import (
    equity_curve_figure,
    forecast_figure,
    price_history_figure,
)
from energy_nb.viz.theme import PAGE_CSS, fmt_num, fmt_pct

#: Business days after which the newest stored price counts as stale in the freshness section.
STALE_AFTER_BUSINESS_DAYS = 3

#: Report stylesheet (with the header): tables sized by their content, never breaking a value
#: ("2025-06-30" stays on one line; headers may wrap between words), and, when the page is
#: printed, sections starting on a new page where marked, charts kept whole, no plotly toolbar.
REPORT_CSS = """
<style>
.enb-report-section table.enb-stats, .enb-page table.enb-stats { table-layout: auto;
  width: auto; }
table.enb-stats td, table.enb-stats tbody th { white-space: nowrap; }
table.enb-stats thead th { white-space: normal; overflow-wrap: normal; word-break: keep-all; }
@media print {
  .enb-new-page { break-before: page; }
  .enb-report-section h2 { break-after: avoid; }
  .enb-figure { break-inside: avoid; }
  table.enb-stats tr { break-inside: avoid; }
  .modebar, .modebar-container { display: none !important; }
}
</style>
"""


class ReportContentError(RuntimeError):
    """A report section could not be computed (the message names the section and commodity)."""


# ----------------------------------------------------------------------------------------------
# rendering helpers


class FigureRenderer:
    """Turns figures into static HTML snippets (a ``<div>`` and the script that draws it).

    plotly.js itself is not embedded in every figure: the HTML export puts it once into the
    page's ``<head>`` (see :func:`plotlyjs_tag`), which keeps the executed notebook small. When
    the notebook is run interactively (JupyterLab), where no page-level plotly.js exists, each
    figure's script loads plotly.js from the CDN before drawing.
    """

    def html(self, fig: go.Figure) -> str:
        """The figure as an HTML ``<div>``, its JSON, and a script drawing it (no widget state).

        The figure and its plotly config travel in a ``<script type="application/json"
        class="enb-figure-spec">`` naming the plot ``<div>`` (``data-target``), so that the
        print version of the page (:func:`energy_nb.reports.printing.print_html`) can lay the
        same chart out for paper.

        Args:
            fig: the figure.

        Returns:
            HTML text.
        """
        from plotly.offline import get_plotlyjs_version

        from energy_nb.reports.printing import FIGURE_SPEC_CLASS

        div_id = f"enb-fig-{uuid.uuid4().hex[:12]}"
        height = int(fig.layout.height or 450)
        spec = json.loads(fig.to_json())
        spec["config"] = {"displaylogo": False, "responsive": True}
        text = json.dumps(spec).replace("</", "<\\/")  # no "</script>" inside the script
        cdn = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
        return (
            f'<div class="enb-figure"><div id="{div_id}" class="plotly-graph-div" '
            f'style="height:{height}px; width:100%;"></div>\n'
            f'<script type="application/json" class="{FIGURE_SPEC_CLASS}" '
            f'data-target="{div_id}">{text}</script>\n'
            f'<script type="text/javascript">(function () {{\n'
            f'var spec = JSON.parse(document.querySelector(\'script[data-target="{div_id}"]\')'
            f".textContent);\n"
            f'function draw() {{ window.Plotly.newPlot("{div_id}", spec.data, spec.layout, '
            f"spec.config); }}\n"
            f"if (window.Plotly) {{ draw(); return; }}\n"
            f'var s = document.createElement("script"); s.src = "{cdn}"; s.onload = draw;\n'
            f"document.head.appendChild(s);\n}})();</script></div>"
        )


def plotlyjs_tag(mode: str = "inline") -> str:
    """The ``<script>`` that loads plotly.js for a report page.

    Args:
        mode: ``"inline"`` (the whole library, so the page works offline and prints to PDF) or
            ``"cdn"`` (a reference to the plotly CDN matching the installed plotly version).

    Returns:
        HTML text.
    """
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if mode == "cdn":
        return (f'<script src="https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js" '
                'charset="utf-8"></script>')
    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def _table_html(frame: pd.DataFrame, index: bool = True) -> str:
    return frame.to_html(classes="enb-stats", border=0, index=index, escape=True, na_rep="—")


def _heading(text: str, level: int = 2) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


@dataclass
class Section:
    """Base of every section: a title, notes, tables and figures rendered as HTML.

    Attributes:
        title: section heading.
        notes: short sentences shown under the heading.
        html_body: the rendered tables and figures.
        new_page: on paper, the section starts a new page (CSS class ``enb-new-page``).
    """

    title: str
    notes: list[str] = field(default_factory=list)
    html_body: str = ""
    new_page: bool = False

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        page = " enb-new-page" if self.new_page else ""
        return (f'<div class="enb-page enb-report-section{page}">{_heading(self.title)}{notes}'
                f'{self.html_body}</div>')


# ----------------------------------------------------------------------------------------------
# the sections


@dataclass
class HeaderSection(Section):
    """Title block: report title, as-of date, generation time and the parameters used.

    Attributes:
        parameters: the validated parameters.
        generated_at: UTC time the report was computed.
    """

    parameters: ReportParameters | None = None
    generated_at: datetime | None = None

    def _repr_html_(self) -> str:
        p = self.parameters
        assert p is not None and self.generated_at is not None
        rows = {
            "Commodities": ", ".join(p.commodities),
            "Data up to": p.as_of or "latest stored price",
            "Model": p.model,
            "Horizon": f"{p.horizon} trading days",
            "Interval levels": ", ".join(f"{lv} %" for lv in p.levels),
            "Backtest strategy": p.strategy,
            "Generated": self.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                        for k, v in rows.items())
        return (f'{PAGE_CSS}{REPORT_CSS}<div class="enb-page"><div class="enb-title">'
                f'{html.escape(self.title)}</div><table class="enb-stats">{table}</table></div>')


@dataclass
class PricesSection(Section):
    """Latest prices and their changes.

    Attributes:
        table: one row per commodity: unit, date, last price, changes over 1 day / 1 month /
            1 year (absolute and percent).
        stats: per commodity the :class:`~energy_nb.service.analytics.PriceStats` (up to ``as_of``).
        figure: the last ``history_days`` of prices (same builder as the History page).
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    stats: dict[str, PriceStats] = field(default_factory=dict)
    figure: go.Figure | None = None


@dataclass
class ForecastSection(Section):
    """The forecast of one commodity.

    Attributes:
        commodity: code.
        run: the :class:`~energy_nb.service.forecasting.ForecastRun` (forecast, origin, actuals
            after it).
        table: the forecast table (date, mean, bounds per level).
        figure: recent history, forecast mean and interval bands (and later actuals, if any).
    """

    commodity: str = ""
    run: Any = None
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: go.Figure | None = None


@dataclass
class AccuracySection(Section):
    """Recent out-of-sample accuracy of the report's model against simple baselines.

    Attributes:
        commodity: code.
        table: one row per model: MAE at step 1 and at the horizon, mean rMAE over the steps
            (below 1 beats the random walk), interval coverage per level.
        origins: the forecast origins evaluated (all their actuals are on or before ``as_of``).
        result: the :class:`~energy_nb.evaluation.WalkForwardResult`.
    """

    commodity: str = ""
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    origins: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))
    result: Any = None


@dataclass
class BacktestSection(Section):
    """Backtest of the report's strategy over the trailing window, beside buy & hold.

    Attributes:
        commodity: code.
        table: key statistics, one column per strategy (the strategy and buy & hold).
        stats: the full statistic set of the strategy.
        equity: the daily frame of :class:`~energy_nb.backtest.BacktestResult` (``Equity``,
            ``BuyHold``, drawdowns ...).
        figure: equity curves.
    """

    commodity: str = ""
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    stats: dict[str, Any] = field(default_factory=dict)
    equity: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: go.Figure | None = None


@dataclass
class FreshnessSection(Section):
    """How current the stored data is.

    Attributes:
        table: per commodity: first and last date, rows, sources, last update of the store,
            business days since the last price, and whether that counts as stale.
        stale: the commodities whose last price is older than
            :data:`STALE_AFTER_BUSINESS_DAYS` business days at report time.
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    stale: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# the builder


class ReportBuilder:
    """Compute the report's sections for validated parameters.

    Args:
        params: validated :class:`ReportParameters` (see :func:`validate_parameters`).
        store: the :class:`~energy_nb.data.store.PriceStore` (default: ``params.db`` or the
            store of ``ENERGY_NB_HOME``).
        now: the report time (UTC; default: now). Used only for the freshness section.

    Raises:
        ReportParameterError: when ``as_of`` is outside the stored data.

    Usage::

        report = ReportBuilder.from_parameters({"commodities": ["NG"], "as_of": "2025-06-30"})
        report.forecast("NG").table
    """

    def __init__(self, params: ReportParameters, store: Any = None,
                 now: datetime | None = None) -> None:
        from energy_nb.data.store import PriceStore
        from energy_nb.service.forecasting import ForecastService

        if store is None:
            store = (PriceStore(params.db, create=False) if params.db  # a report only reads
                     else PriceStore.from_settings(create=False))
        self.params = check_against_data(params, store)
        self.store = store
        self.now = now or datetime.now(UTC)
        self.service = ForecastService(store, cache_size=8)
        self.renderer = FigureRenderer()
        self._series: dict[str, pd.Series] = {}

    @classmethod
    def from_parameters(cls, raw: Mapping[str, Any] | None = None, store: Any = None,
                        now: datetime | None = None, **overrides: Any) -> ReportBuilder:
        """Validate raw parameters (e.g. the notebook's variables) and create the builder.

        Args:
            raw: parameters by name.
            store: optional store.
            now: optional report time.
            **overrides: further parameter values.

        Returns:
            The builder.

        Raises:
            ReportParameterError: naming the invalid parameter.
        """
        return cls(validate_parameters(raw, **overrides), store=store, now=now)

    # -- data -------------------------------------------------------------------------------

    def series(self, code: str) -> pd.Series:
        """Stored prices of ``code`` up to ``as_of`` (never later).

        Args:
            code: commodity code.

        Returns:
            The price series ending on or before ``as_of``.
        """
        code = get_commodity(code).code
        if code not in self._series:
            self._series[code] = self.store.load(code, end=self.params.as_of)
        return self._series[code]

    def _check_code(self, code: str) -> str:
        c = get_commodity(code).code
        if c not in self.params.commodities:
            raise ReportParameterError(f"{c} is not one of the report's commodities "
                                       f"({', '.join(self.params.commodities)})")
        return c

    # -- sections ---------------------------------------------------------------------------

    def header(self) -> HeaderSection:
        """The title block."""
        return HeaderSection(title=self.params.title, parameters=self.params,
                             generated_at=self.now)

    def prices(self) -> PricesSection:
        """Latest price of each commodity and its changes, with a chart of recent prices."""
        rows = []
        stats: dict[str, PriceStats] = {}
        frames = {}
        for code in self.params.commodities:
            s = self.series(code)
            st = price_stats(s)
            stats[code] = st
            rows.append({
                "Commodity": code,
                "Unit": get_commodity(code).unit,
                "Date": st.last_date.strftime("%Y-%m-%d"),
                "Last": round(st.last, 3),
                "1 day": fmt_num(st.change_1d.abs),
                "1 day %": fmt_pct(st.change_1d.pct),
                "1 month %": fmt_pct(st.change_1m.pct),
                "1 year %": fmt_pct(st.change_1y.pct),
            })
            frames[code] = s.iloc[-self.params.history_days * 3:]
        table = pd.DataFrame(rows).set_index("Commodity")
        frame = pd.concat(frames, axis=1, sort=True)  # union of dates, in order
        frame.index.name = "date"
        fig = price_history_figure(frame, range_slider=False, title="Recent prices", height=360)
        section = PricesSection(
            title="Latest prices",
            notes=[(f"Changes are against the last price on or before one day, one month and one "
                   f"year earlier. Data up to {self.params.as_of or 'the latest stored date'}.")],
            table=table, stats=stats, figure=fig,
        )
        section.html_body = _table_html(table) + self.renderer.html(fig)
        return section

    def forecast(self, code: str) -> ForecastSection:
        """The forecast of one commodity from ``as_of`` with its intervals.

        Args:
            code: one of the report's commodities.

        Returns:
            The section.

        Raises:
            ReportContentError: the model failed.
        """
        from energy_nb.service.forecasting import ForecastFitError, ForecastRequestError

        code = self._check_code(code)
        p = self.params
        try:
            run = self.service.forecast(code, p.model, origin=p.as_of, horizon=p.horizon,
                                        levels=p.levels, record=False)
        except (ForecastFitError, ForecastRequestError) as exc:
            raise ReportContentError(f"forecast section, {code}: {exc}") from exc
        fc = run.forecast
        table = fc.to_frame()
        table["date"] = pd.DatetimeIndex(table["date"]).strftime("%Y-%m-%d")
        table = table.set_index("date").round(3)
        history = self.series(code).loc[:run.origin].iloc[-p.history_days:]
        fig = forecast_figure(history, fc.to_frame(), commodity=code,
                              actuals=run.actuals if len(run.actuals) else None,
                              model_label=fc.model, height=400,
                              title=f"{code}: {p.horizon}-day forecast ({fc.model})")
        top = max(p.levels)
        chosen = fc.info.get("chosen") if isinstance(fc.info, Mapping) else None
        reason = fc.info.get("reason") if isinstance(fc.info, Mapping) else None
        notes = [
            f"Model {p.model}" + (f" (chose {chosen})" if chosen and chosen != p.model else "")
            + f", fitted on prices up to {run.origin.date()}." + (f" {reason}." if reason else ""),
            (f"In {p.horizon} trading days ({fc.dates[-1].date()}): {fmt_num(float(fc.mean[-1]))} "
            f"{get_commodity(code).unit}, {top} % interval {fmt_num(float(fc.lower[top][-1]))} – "
            f"{fmt_num(float(fc.upper[top][-1]))}."),
        ]
        if len(run.actuals):
            notes.append("Dots: prices observed after the report date, shown for comparison only.")
        notes.extend(run.calendar_notes())  # exchange trading days; what the calendar can't know
        section = ForecastSection(title=f"Forecast: {code}", notes=notes, commodity=code,
                                  run=run, table=table, figure=fig, new_page=True)
        section.html_body = self.renderer.html(fig) + _table_html(table)
        return section

    def accuracy(self, code: str) -> AccuracySection:
        """Walk-forward accuracy over the last few origins before ``as_of``.

        The origins are the last ``eval_origins`` trading days, ``eval_step`` apart, whose
        ``horizon`` following prices are all on or before ``as_of``; each model is fitted on the
        prices up to its origin only.

        Args:
            code: one of the report's commodities.

        Returns:
            The section.
        """
        from energy_nb.evaluation import EvaluationError, walk_forward

        code = self._check_code(code)
        p = self.params
        series = self.series(code)
        n = len(series)
        first_pos = n - 1 - p.horizon - (p.eval_origins - 1) * p.eval_step
        if first_pos < 60:
            raise ReportContentError(f"accuracy section, {code}: too little data before as_of")
        models = list(dict.fromkeys(["random_walk", "drift", p.model]))
        try:
            result = walk_forward(series, models, start=series.index[first_pos], horizon=p.horizon,
                                  step=p.eval_step, levels=p.levels, progress=False)
        except EvaluationError as exc:
            raise ReportContentError(f"accuracy section, {code}: {exc}") from exc
        rows = []
        for name in result.models:
            m = result.metrics.loc[name]
            row = {
                "Model": name,
                "MAE step 1": round(float(m.loc[1, "mae"]), 3),
                f"MAE step {p.horizon}": round(float(m.loc[p.horizon, "mae"]), 3),
                "rMAE (mean)": round(float(np.nanmean(m["rmae"].to_numpy(dtype=float))), 3),
            }
            for level in p.levels:
                cov = float(np.nanmean(m[f"coverage_{level}"].to_numpy(dtype=float)))
                row[f"Coverage {level} %"] = fmt_pct(cov * 100 if cov <= 1.0 else cov, 0,
                                                     signed=False)
            failures = result.failures.get(name, [])
            row["Failures"] = len(failures)
            rows.append(row)
        table = pd.DataFrame(rows).set_index("Model")
        origins = result.origins
        notes = [
            (f"{len(origins)} origins from {origins[0].date()} to {origins[-1].date()}, every "
            f"{p.eval_step} trading days; every forecast compared with the prices that followed "
            f"(all on or before {series.index[-1].date()})."),
            ("rMAE is the MAE relative to the random walk: below 1 beats it. Coverage is the share "
            "of actual prices inside the interval."),
        ]
        section = AccuracySection(title=f"Recent accuracy: {code}", notes=notes, commodity=code,
                                  table=table, origins=origins, result=result,
                                  new_page=code == p.commodities[0])
        section.html_body = _table_html(table)
        return section

    def backtest(self, code: str) -> BacktestSection:
        """The strategy over the last ``backtest_days`` trading days up to ``as_of``.

        Indicators warm up on the prices before the window (still before ``as_of``); positions
        decided on day ``t`` execute on day ``t + 1`` (see :mod:`energy_nb.backtest.engine`).

        Args:
            code: one of the report's commodities.

        Returns:
            The section.
        """
        from energy_nb.backtest import BacktestError, StrategyError, run_backtest

        code = self._check_code(code)
        p = self.params
        series = self.series(code)
        window_start = series.index[max(0, len(series) - p.backtest_days)]
        try:
            result = run_backtest(series, p.strategy, start=window_start)
            hold = run_backtest(series, "buy-and-hold", start=window_start)
        except (StrategyError, BacktestError) as exc:
            raise ReportContentError(f"backtest section, {code}: {exc}") from exc
        keys = ["Return [%]", "Return (Ann.) [%]", "Volatility (Ann.) [%]", "Sharpe Ratio",
                "Max. Drawdown [%]", "# Trades", "Win Rate [%]", "Exposure Time [%]",
                "Equity Final [$]"]
        table = pd.DataFrame({
            p.strategy: [_stat(result.stats[k]) for k in keys],
            "buy-and-hold": [_stat(hold.stats[k]) for k in keys],
        }, index=pd.Index(keys, name="Statistic"))
        equity = result.equity
        fig = equity_curve_figure(equity, title=f"{code}: {p.strategy} vs buy & hold", height=340)
        notes = [
            (f"{p.strategy} with the dashboard's default parameters "
            f"({_params_text(result.params)}) from {equity.index[0].date()} to "
            f"{equity.index[-1].date()}, ${result.config.capital:,.0f} start, no costs. Signals "
            "use each day's close and trade at the next day's price; buy & hold for comparison."),
        ]
        section = BacktestSection(title=f"Backtest: {code}", notes=notes, commodity=code,
                                  table=table, stats=result.stats, equity=equity, figure=fig,
                                  new_page=True)
        section.html_body = _table_html(table) + self.renderer.html(fig)
        return section

    def freshness(self) -> FreshnessSection:
        """When each commodity was last priced and updated, and whether that is stale."""
        status = {row["commodity"]: row for row in self.store.status()}
        today = pd.Timestamp(self.now.astimezone(UTC).date())
        rows, stale = [], []
        for code in self.params.commodities:
            row = status.get(code, {})
            last = pd.Timestamp(row["last"]) if row.get("last") else None
            age = int(np.busday_count(last.date(), today.date())) if last is not None else None
            is_stale = age is None or age > STALE_AFTER_BUSINESS_DAYS
            if is_stale:
                stale.append(code)
            rows.append({
                "Commodity": code,
                "First": row.get("first") or "—",
                "Last": row.get("last") or "—",
                "Rows": row.get("rows", 0),
                "Sources": ", ".join(_short(s) for s in row.get("sources") or []) or "—",
                "Store updated (UTC)": (row.get("updated_at") or "—")[:16].replace("T", " "),
                "Business days old": "—" if age is None else age,
                "Stale": "yes" if is_stale else "no",
            })
        table = pd.DataFrame(rows).set_index("Commodity")
        notes = [(f"At {self.now:%Y-%m-%d %H:%M} UTC. A price older than "
                 f"{STALE_AFTER_BUSINESS_DAYS} business days counts as stale; refresh with "
                 "energy-nb data update.")]
        if stale:
            notes.append(f"Stale: {', '.join(stale)}.")
        section = FreshnessSection(title="Data freshness", notes=notes, table=table, stale=stale)
        section.html_body = _table_html(table)
        return section


def _stat(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "—" if not math.isfinite(float(value)) else f"{float(value):,.2f}"
    return str(value)


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "none"


def _short(source: str) -> str:
    text = str(source)
    return text.rsplit("/", 1)[-1] if "/" in text and "://" not in text else text


__all__ = [
    "STALE_AFTER_BUSINESS_DAYS",
    "AccuracySection",
    "BacktestSection",
    "FigureRenderer",
    "ForecastSection",
    "FreshnessSection",
    "HeaderSection",
    "PricesSection",
    "ReportBuilder",
    "REPORT_CSS",
    "ReportContentError",
    "Section",
    "plotlyjs_tag",
]
