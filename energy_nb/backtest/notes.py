"""What a backtest result should tell people besides its numbers: ruin, and why no trade.

The Backtest page shows these sentences as messages and ``energy-nb backtest`` prints them (and
puts them in its JSON as ``notes``), so both say the same thing.

Usage::

    from energy_nb.backtest.notes import result_notes
    for text, level in result_notes(result):
        print(f"{level}: {text}")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["no_trade_reason", "result_notes"]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def no_trade_reason(strategy: str, params: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    """Why a strategy made no trade, from what it recorded while deciding.

    Args:
        strategy: the strategy's name.
        params: its parameters.
        info: ``BacktestResult.info["strategy"]`` (forecast strategies count their signals).

    Returns:
        One sentence for people.
    """
    forecasts = int(info.get("forecasts") or 0)
    signals: Mapping[str, int] = info.get("signals") or {}
    if strategy not in ("forecast", "forecast-band") or not signals:
        return (f"No trade: the {strategy} strategy's signal stayed flat over the whole period "
                "(check its parameters and the dates).")
    if forecasts == 0:
        return ("No trade: no forecast was made — the window ends before the strategy has "
                f"{params.get('min_history', 'enough')} prices of history.")
    skipped = int(info.get("n_skipped") or 0)
    if skipped >= forecasts:
        return (f"No trade: the model failed at all {_plural(forecasts, 'rebalance date')} "
                "(see the warning), so the strategy stayed flat.")
    used: Mapping[str, int] = info.get("models_used") or {}
    model = str(params.get("model", "the model"))
    ranked = sorted(used.items(), key=lambda kv: -kv[1])
    names = ranked[0][0] if len(ranked) == 1 else ", ".join(f"{name} {n:,}×"
                                                             for name, n in ranked)
    chose = f" ({model} chose {names})" if model == "auto" and names else ""
    flat = int(signals.get("flat_forecast", 0))
    inside = int(signals.get("inside_threshold", 0))
    short_off = int(signals.get("short_off", 0))
    if flat and flat >= forecasts - skipped:
        return (f"No trade: all {_plural(flat, 'forecast')}{chose} predicted no change — a "
                "random walk forecasts today's price — so the strategy never had a direction. "
                "Pick a model that forecasts a change (drift, theta, arima…).")
    parts = []
    if flat:
        parts.append(f"{_plural(flat, 'forecast')} predicted no change")
    if inside:
        what = ("the interval included today's price" if strategy == "forecast-band"
                else f"the forecast return was within ±{params.get('threshold', 0)}")
        parts.append(f"for {_plural(inside, 'forecast')} {what}")
    if short_off:
        parts.append(f"{_plural(short_off, 'forecast')} pointed down but shorting is off")
    detail = "; ".join(parts) or "no forecast gave a direction"
    return f"No trade: {detail}{chose}."


def result_notes(result: Any) -> list[tuple[str, str]]:
    """Sentences about a backtest result that its statistics do not say.

    Args:
        result: a :class:`~energy_nb.backtest.run.BacktestResult`.

    Returns:
        ``[(text, level)]`` with level ``"warning"`` or ``"info"``: the day the account was
        ruined (the backtest stopped there; losses are capped at the capital, so return and
        drawdown are -100 %), and why no trade was made when there was none.
    """
    notes: list[tuple[str, str]] = []
    info = dict(result.info or {})
    ruined = info.get("ruined_at")
    if ruined:
        notes.append((f"The account was ruined on {ruined}: equity reached zero, the position was "
                      "closed there and the backtest stopped (an account cannot lose more than "
                      "its capital, so Return and Max. drawdown are −100 %).", "warning"))
    if len(result.trades) == 0:
        notes.append((no_trade_reason(str(result.strategy), dict(result.params or {}),
                                      dict(info.get("strategy") or {})), "info"))
    return notes


def result_payload(result: Any) -> dict[str, Any]:
    """A backtest result as ``energy-nb backtest --json`` and the HTTP API give it.

    Args:
        result: a :class:`~energy_nb.backtest.run.BacktestResult`.

    Returns:
        ``result.to_dict()`` plus ``notes``: ``[{"text", "level"}]`` from :func:`result_notes`.
    """
    payload = result.to_dict()
    payload["notes"] = [{"text": text, "level": level} for text, level in result_notes(result)]
    return payload
