"""Plain words for the dashboards' metrics and parameters: tooltips and a help panel.

Usage::

    >>> from energy_nb.ui.glossary import term, param_label
    >>> 'title="' in term("rMAE")
    True
    >>> param_label("entry_z")
    'Entry threshold (z-score)'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

#: Metric -> one-sentence meaning (shown as tooltip and in the help panel).
GLOSSARY: dict[str, str] = {
    "rMAE": "Relative mean absolute error: the model's average forecast error divided by the "
            "random walk's (tomorrow = today) on the same dates. Below 1 beats the random walk.",
    "MAE": "Mean absolute error: the average size of the forecast error, in price units.",
    "Coverage": "Share of actual prices that fell inside the forecast interval. A good 80 % "
                "interval covers about 80 % of them.",
    "Width": "Average width of the forecast interval, in price units: narrower is sharper, if "
             "the coverage holds.",
    "Sharpe": "Sharpe ratio: annualised return divided by annualised volatility of daily "
              "returns. Above 1 is good, above 2 very good.",
    "Sortino": "Sortino ratio: like Sharpe, but only the downside volatility counts as risk.",
    "Calmar": "Calmar ratio: annualised return divided by the maximum drawdown.",
    "SQN": "System Quality Number: mean trade result divided by its standard deviation, times "
           "the square root of the number of trades (above 2 is good, above 3 very good).",
    "Max drawdown": "The largest fall from a peak of equity (or price) to a later low, in percent.",
    "Trading days": "Days the exchange is open: weekends and exchange holidays are not counted.",
    # the Forecast table's columns (after the metrics above, which win a shared word)
    "Step": "Trading days after the start (origin) of the forecast: step 1 is the next "
            "trading day.",
    "Forecast": "The model's central (point) forecast of the price on that trading day.",
    "Interval": "The range the price should fall in with that probability: an 80 % interval "
                "should hold about 8 prices out of 10 (see Coverage); its width is the "
                "uncertainty.",
    "Actual": "The price later observed for that step (known only for a start in the past).",
    "Error": "Actual price minus the forecast: positive when the price came out higher.",
    "RMSE": "Root mean squared error: like MAE, but large errors count more.",
    "MAPE": "Mean absolute percentage error: the average error as a percent of the price.",
    "Bias": "The average error (actual minus forecast): near 0 when the forecast is not "
            "systematically too high or too low.",
}

#: Strategy parameter -> plain label (the help text stays as the tooltip).
PARAM_LABELS: dict[str, str] = {
    "fast": "Fast average (trading days)",
    "slow": "Slow average (trading days)",
    "short": "Go short on sell signals",
    "window": "Window (trading days)",
    "entry_z": "Entry threshold (z-score)",
    "exit_z": "Exit threshold (z-score)",
    "model": "Forecast model",
    "horizon": "Horizon (trading days)",
    "threshold": "Minimum forecast move",
    "refit_every": "Refit every (trading days)",
    "rebalance_every": "Trade every (trading days)",
    "min_history": "Prices needed first",
    "train_window": "Training window (trading days)",
    "model_params": "Model settings",
    "level": "Interval level (%)",
}

#: Forecast model constructor parameter -> plain label (the Backtest page's "Model settings";
#: the tooltip is the model's own docstring line, see :mod:`energy_nb.ui.model_settings`).
MODEL_PARAM_LABELS: dict[str, str] = {
    "calibration_window": "Interval calibration (origins)",
    "vol_halflife": "Volatility half-life (trading days)",
    "window": "Estimation window (trading days)",
    "shrink": "Drift shrinkage (0–1)",
    "max_p": "Largest AR order",
    "max_q": "Largest MA order",
    "allow_mean": "Allow a mean return",
    "trend": "Trend",
    "damped": "Damped trend",
    "theta": "Theta coefficient",
    "estimator": "Estimator",
    "alpha": "Regularisation strength",
    "max_steps": "Directly modelled steps",
    "max_abs_z": "Largest predicted move (z)",
    "members": "Member models",
    "combine": "Combine by",
    "candidates": "Candidate models",
    "include_ensemble": "Also try their average",
    "validation_window": "Validation origins (trading days)",
    "validation_steps": "Validated steps",
    "margin": "Required gain over no change",
    "smooth": "Score smoothing (steps)",
}


def param_label(name: str) -> str:
    """The plain label of a strategy parameter (``refit_every`` -> ``Refit every (trading days)``).

    Args:
        name: the parameter's name.

    Returns:
        Its label; unknown names are spelled out (underscores to spaces, first letter capital).
    """
    return (PARAM_LABELS.get(name) or MODEL_PARAM_LABELS.get(name)
            or name.replace("_", " ").capitalize())


def model_param_label(name: str) -> str:
    """The plain label of a forecast model's constructor parameter (``max_p`` -> ``Largest AR
    order``); names that are not model parameters fall back to :func:`param_label`.

    Args:
        name: the parameter's name.

    Returns:
        Its label.
    """
    return MODEL_PARAM_LABELS.get(name) or param_label(name)


def plain_value(value: object) -> str:
    """A parameter value as a person reads it: ``[1, 1, 1]`` -> ``1, 1, 1``; ``None`` -> ``—``.

    Args:
        value: any JSON-like value.

    Returns:
        The text (mappings as ``key: value`` pairs, booleans as yes / no).
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{param_label(str(k))}: {plain_value(v)}"
                         for k, v in value.items()) or "—"
    return str(value)


def definition(key: str) -> str | None:
    """The glossary entry whose key starts ``key`` (case-insensitive), e.g. ``"Sharpe Ratio"``.

    Args:
        key: a metric label as shown in a table.

    Returns:
        The definition, or ``None``.
    """
    low = key.lower().replace(".", "")
    for name, text in GLOSSARY.items():
        if re.search(rf"\b{re.escape(name.lower())}\b", low):
            return text
    return None


def term(label: str, key: str | None = None) -> str:
    """``label`` as HTML with its definition as a tooltip (plain text when it has none).

    Args:
        label: the text to show (e.g. a table header ``"rMAE"``).
        key: the glossary entry to use when the label does not name it (``"covered"`` ->
            ``"Coverage"``); default: found from the label.

    Returns:
        HTML text.
    """
    text = definition(key or label)
    if text is None:
        return html.escape(label)
    return (f'<abbr class="enb-term" title="{html.escape(text)}" '
            f'style="text-decoration:underline dotted;cursor:help">{html.escape(label)}</abbr>')


def glossary_html(keys: Iterable[str] | None = None) -> str:
    """A folded help panel listing the glossary entries.

    Args:
        keys: entries to list (default: all).

    Returns:
        HTML text (``<details class="enb-glossary">``).
    """
    names = list(keys) if keys is not None else list(GLOSSARY)
    items = "".join(f"<dt><b>{html.escape(n)}</b></dt><dd style='margin:0 0 0.4em 1.2em'>"
                    f"{html.escape(GLOSSARY[n])}</dd>" for n in names if n in GLOSSARY)
    return ('<details class="enb-glossary" style="margin:0.4em 0"><summary style="cursor:pointer">'
            f"<b>Glossary</b> — what the numbers mean</summary><dl>{items}</dl></details>")
