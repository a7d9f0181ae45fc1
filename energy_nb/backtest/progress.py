"""A tqdm progress bar as a ``progress(done, total)`` callback for walk-forward runs.

Usage::

    with tqdm_progress("forecast BRENT") as progress:
        run_backtest(prices, "forecast", {"model": "arima"}, progress=progress)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from energy_nb.backtest.strategies import ProgressCallback

__all__ = ["tqdm_progress"]


@contextmanager
def tqdm_progress(desc: str = "", *, unit: str = "forecast",
                  file: IO[str] | None = None) -> Iterator[ProgressCallback]:
    """Yield a callback that drives a tqdm bar; the bar is closed on exit.

    Args:
        desc: label in front of the bar.
        unit: what one step is.
        file: stream to draw on (default: stderr).

    Yields:
        ``progress(done, total)``.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=0, desc=desc, unit=unit, file=file, mininterval=0.5)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()
