"""energy_nb: forecast, compare, backtest and stream energy prices."""

__version__ = "0.2.0"
