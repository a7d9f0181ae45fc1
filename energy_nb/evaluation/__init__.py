"""Walk-forward evaluation and forecast accuracy metrics.

Usage::

    from energy_nb.evaluation import walk_forward
    result = walk_forward(series, ["random_walk", "arima"], start="2025-01-01", horizon=30)
"""

from energy_nb.evaluation.walk_forward import (
    BASELINE,
    EvaluationError,
    WalkForwardResult,
    metric_columns,
    select_origins,
    walk_forward,
)

__all__ = [
    "BASELINE",
    "EvaluationError",
    "WalkForwardResult",
    "metric_columns",
    "select_origins",
    "walk_forward",
]
