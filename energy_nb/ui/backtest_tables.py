"""Pure text and table builders of the Backtest page (no widgets): statistics, trades,
CSV text, the comparison of stored runs and the walk-forward windows.

Usage::

    >>> stats_table_html(result.stats)             # the statistics panel
    >>> comparison_html(comparison_frame(list_backtests(store)))
    >>> trades_csv(result.trades)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from energy_nb.backtest import STAT_NAMES, STRATEGIES, BacktestResult
from energy_nb.ui.glossary import model_param_label, param_label, plain_value, term
from energy_nb.viz.theme import fmt_num

__all__ = [
    "COMPARISON_COLUMNS",
    "MAX_TRADE_ROWS",
    "comparison_frame",
    "comparison_html",
    "csv_basename",
    "equity_csv",
    "format_stat",
    "params_summary",
    "stats_table_html",
    "trades_csv",
    "trades_table_html",
    "windows_table_html",
]

#: Key statistics of the comparison table of the last runs.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "Return [%]",
    "Buy & Hold Return [%]",
    "CAGR [%]",
    "Sharpe Ratio",
    "Max. Drawdown [%]",
    "# Trades",
    "Win Rate [%]",
    "Commissions [$]",
)

#: Rows of the trades table shown in the page (the CSV always has every trade).
MAX_TRADE_ROWS = 200


def format_stat(name: str, value: Any) -> str:
    """Display text of one statistic.

    Args:
        name: a name from :data:`~energy_nb.backtest.STAT_NAMES`.
        value: its value (Timestamp, Timedelta, number, NaN/NaT/None).

    Returns:
        e.g. ``"2015-01-02"``, ``"37 days"``, ``"153.17"``, ``"112,345.68"``, ``"84"``, ``"—"``.
    """
    if value is None or value is pd.NaT:
        return "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, pd.Timedelta):
        days = value / pd.Timedelta(days=1)
        return f"{days:,.0f} days" if float(days).is_integer() else f"{days:,.1f} days"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)):
        return f"{int(value):,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(number):
        return "—"
    return fmt_num(number, 2)


def stats_table_html(stats: dict[str, Any]) -> str:
    """The statistics panel: one row per backtesting.py statistic.

    Args:
        stats: output of :func:`energy_nb.backtest.compute_stats`.

    Returns:
        HTML text of a two-column table (``<td data-stat="Return [%]">``-tagged values).
    """
    names = [n for n in STAT_NAMES if n in stats] + [n for n in stats if n not in STAT_NAMES]
    rows = "".join(
        f'<tr><td>{term(n)}</td><td data-stat="{html.escape(n)}">'
        f"{format_stat(n, stats[n])}</td></tr>"
        for n in names
    )
    return f'<table class="enb-stats enb-bt-stats-table">{rows}</table>'


def trades_csv(trades: pd.DataFrame) -> str:
    """The trades as CSV: dates ``YYYY-MM-DD``, ``Duration`` in days, every engine column.

    Args:
        trades: :attr:`BacktestResult.trades`.

    Returns:
        CSV text with a header row (header only when there were no trades).
    """
    frame = trades.copy()
    for col in ("EntryTime", "ExitTime"):
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d")
    if "Duration" in frame.columns:
        frame["Duration"] = pd.to_timedelta(frame["Duration"]) / pd.Timedelta(days=1)
    return frame.to_csv(index=False)


def equity_csv(equity: pd.DataFrame) -> str:
    """The daily equity frame as CSV (``date`` first, then the equity columns)."""
    return equity.to_csv(date_format="%Y-%m-%d", index_label="date")


def trades_table_html(trades: pd.DataFrame, max_rows: int = MAX_TRADE_ROWS) -> str:
    """The trades table of the page (the first ``max_rows`` round trips).

    Args:
        trades: :attr:`BacktestResult.trades`.
        max_rows: rows shown; a note says how many more the CSV holds.

    Returns:
        HTML text.
    """
    if trades.empty:
        return '<div class="enb-bt-no-trades">No trades in this window.</div>'
    head = ("<tr><th>#</th><th>Side</th><th>Entry</th><th>Exit</th><th>Entry price</th>"
            "<th>Exit price</th><th>Size</th><th>P&amp;L [$]</th><th>Return [%]</th>"
            "<th>Days</th><th>Costs [$]</th></tr>")
    rows = []
    for i, t in enumerate(trades.head(max_rows).itertuples(index=False), start=1):
        exit_time = "open" if bool(t.IsOpen) else f"{pd.Timestamp(t.ExitTime):%Y-%m-%d}"
        days = pd.Timedelta(t.Duration) / pd.Timedelta(days=1) if pd.notna(t.Duration) else math.nan
        rows.append(
            f'<tr class="enb-trade"><td>{i}</td><td>{html.escape(str(t.Side))}</td>'
            f"<td>{pd.Timestamp(t.EntryTime):%Y-%m-%d}</td><td>{exit_time}</td>"
            f"<td>{fmt_num(float(t.EntryPrice))}</td><td>{fmt_num(float(t.ExitPrice))}</td>"
            f"<td>{fmt_num(float(t.Size), 1)}</td><td>{fmt_num(float(t.PnL))}</td>"
            f"<td>{fmt_num(100.0 * float(t.ReturnPct))}</td><td>{fmt_num(days, 0)}</td>"
            f"<td>{fmt_num(float(t.Costs))}</td></tr>"
        )
    more = ""
    if len(trades) > max_rows:
        more = (f'<div class="enb-bt-more">Showing the first {max_rows} of {len(trades)} trades; '
                "the trades CSV has all of them.</div>")
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable '
            f'enb-bt-trades-table">{head}{"".join(rows)}</table></div>{more}')


def params_summary(params: dict[str, Any], strategy: str | None = None) -> str:
    """Plain text of a strategy's parameters, by their labels (:mod:`energy_nb.ui.glossary`),
    e.g. ``"Fast average (trading days): 10 · Slow average (trading days): 40"``.

    Args:
        params: parameter values.
        strategy: strategy name; parameters equal to its defaults are then left out, except
            the ones that define it (model, horizon, windows).

    Returns:
        The text (``"—"`` when empty).
    """
    if "grid" in params and isinstance(params.get("grid"), dict):  # a walk-forward optimisation
        grid = "; ".join(
            f"{param_label(k)} in {plain_value(list(vals))}" for k, vals in params["grid"].items())
        fixed = params_summary(params.get("fixed") or {}, (strategy or "").split(" ")[-1])
        text = (f"{grid}; train {params.get('train_days')} / test {params.get('test_days')} "
                f"trading days, best {params.get('objective')}")
        return text if fixed == "—" else f"{text} · {fixed}"
    specs = {s.name: s for s in STRATEGIES[strategy].param_specs} if strategy in STRATEGIES else {}
    keep = {"model", "horizon", "fast", "slow", "window", "entry_z", "exit_z", "threshold",
            "level"}
    parts = []
    for key, value in params.items():
        spec = specs.get(key)
        if spec is not None and key not in keep and value == spec.default:
            continue
        if value is None or value == {}:
            continue
        if key == "model_params" and isinstance(value, dict):  # the model's own settings
            text = "; ".join(f"{model_param_label(str(k))}: {plain_value(v)}"
                             for k, v in value.items())
            parts.append(f"{param_label(key)}: {text}")
        else:
            parts.append(f"{param_label(key)}: {plain_value(value)}")
    return " · ".join(parts) or "—"


def comparison_frame(runs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The last runs side by side: one row per stored run with its key statistics.

    Args:
        runs: dicts from :func:`energy_nb.backtest.list_backtests` (newest first).

    Returns:
        DataFrame indexed by run id with ``Commodity``, ``Strategy``, ``Parameters``, ``Window``,
        ``Costs`` and the :data:`COMPARISON_COLUMNS` (NaN where a statistic is undefined).
    """
    records = []
    for run in runs:
        stats = run.get("stats") or {}
        config = run.get("config") or {}
        record = {
            "Run": int(run["id"]),
            "Commodity": run.get("commodity", ""),
            "Strategy": run.get("strategy", ""),
            "Parameters": params_summary(run.get("params") or {}, run.get("strategy")),
            "Window": f"{run.get('start')} – {run.get('end')}",
            "Costs": (f"{100 * float(config.get('commission', 0.0)):g} % + "
                      f"${float(config.get('fixed_commission', 0.0)):g} + "
                      f"{float(config.get('slippage_bps', 0.0)):g} bp"),
        }
        for name in COMPARISON_COLUMNS:
            value = stats.get(name)
            record[name] = math.nan if value is None else float(value)
        records.append(record)
    columns = ["Run", "Commodity", "Strategy", "Parameters", "Window", "Costs",
               *COMPARISON_COLUMNS]
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.set_index("Run")


def comparison_html(frame: pd.DataFrame, highlight: int | None = None) -> str:
    """HTML of :func:`comparison_frame`, the row of run ``highlight`` in bold.

    Args:
        frame: the comparison frame.
        highlight: run id to emphasise (the one on display).

    Returns:
        HTML text (a note when there are no stored runs).
    """
    if frame.empty:
        return '<div class="enb-bt-no-runs">No stored backtests yet: press Run.</div>'
    text_cols = ["Commodity", "Strategy", "Parameters", "Window", "Costs"]
    head = "<tr><th>Run</th>" + "".join(
        f"<th>{term(c)}</th>" for c in [*text_cols, *COMPARISON_COLUMNS]) + "</tr>"
    rows = []
    for run_id, row in frame.iterrows():
        style = ' style="font-weight:600;background:#f3f9f1"' if run_id == highlight else ""
        cells = [f"<td>#{run_id}</td>"]
        cells += [f"<td>{html.escape(str(row[c]))}</td>" for c in text_cols]
        cells += [
            "<td>"
            f"{format_stat(c, row[c]) if c != '# Trades' or pd.isna(row[c]) else int(row[c])}"
            "</td>"
            for c in COMPARISON_COLUMNS]
        rows.append(f'<tr class="enb-bt-run" data-run="{run_id}"{style}>{"".join(cells)}</tr>')
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable '
            f'enb-bt-compare-table">{head}{"".join(rows)}</table></div>')



def windows_table_html(windows: pd.DataFrame) -> str:
    """The walk-forward optimisation windows: training and test dates, the parameters chosen.

    Args:
        windows: :attr:`WalkForwardResult.windows`.

    Returns:
        HTML text.
    """
    if windows.empty:
        return ""
    head = ("<tr><th>Train</th><th>Test</th><th>Chosen parameters</th><th>Train score</th>"
            "<th>Test return [%]</th></tr>")
    rows = "".join(
        f'<tr class="enb-bt-window"><td>{w.train_start:%Y-%m-%d} – {w.train_end:%Y-%m-%d}</td>'
        f"<td>{w.test_start:%Y-%m-%d} – {w.test_end:%Y-%m-%d}</td>"
        f"<td>{html.escape(params_summary(w.params))}</td>"
        f"<td>{format_stat('', w.train_score)}</td><td>{format_stat('', w.test_return_pct)}</td>"
        "</tr>"
        for w in windows.itertuples(index=False)
    )
    return (f'<div class="enb-table-wrap"><table class="enb-stats enb-sortable '
            f'enb-bt-windows-table">{head}{rows}</table></div>')


def csv_basename(result: BacktestResult) -> str:
    """Base file name of a run's downloads.

    For example ``backtest_12_BRENT_sma-cross_2015-01-02_2026-08-18``.
    """
    run = f"{result.run_id}_" if result.run_id is not None else ""
    return (f"backtest_{run}{result.commodity}_{result.strategy.replace(' ', '-')}_"
            f"{result.start:%Y-%m-%d}_{result.end:%Y-%m-%d}")
