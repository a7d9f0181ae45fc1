"""``energy-nb backtest``'s strategy flags are generated from the strategies' ParamSpecs: every
parameter has a flag with its type, limits and help, and a new parameter needs no CLI edit."""

from __future__ import annotations

import argparse

import pytest

from energy_nb.backtest import strategies
from energy_nb.backtest.strategies import STRATEGIES, ParamSpec, SmaCross, make_strategy
from energy_nb.cli import build_parser, main
from energy_nb.cli.backtest import strategy_flag, strategy_params


def backtest_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(["backtest", "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def parse(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(["backtest", "--commodity", "WTI", *args])


def test_every_param_spec_has_a_flag_with_its_help_and_limits(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = backtest_help(capsys)
    for cls in STRATEGIES.values():
        for spec in cls.param_specs:
            flag = strategy_flag(spec)
            assert flag in text, flag
            assert " ".join(spec.help.split()) in text, spec.help
            if spec.low is not None and spec.high is not None:
                assert f"{spec.low:g}..{spec.high:g}" in text, flag
    # the spellings of before still work, --model-param and --no-short included
    args = parse("--strategy", "forecast", "--model", "drift", "--refit-every", "20",
                 "--model-param", "window=250", "--no-short", "--threshold", "0.01")
    assert strategy_params(args) == {"model": "drift", "refit_every": 20, "short": False,
                                     "model_params": {"window": 250}, "threshold": 0.01}


def test_flag_limits_are_the_param_spec_s(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("--strategy", "sma-cross", "--fast", "0")
    assert info.value.code == 2
    assert "argument --fast: sma-cross: parameter 'fast' must be >= 1, got 0" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--level", "x")
    assert "argument --level: expected a whole number, got 'x'" in capsys.readouterr().err


def test_a_new_strategy_parameter_needs_no_cli_edit(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    class LaggedCross(SmaCross):
        name = "lagged-cross"
        param_specs = (*SmaCross.param_specs,
                       ParamSpec("signal_lag", "int", 0, "trade N days after the cross", 0, 10))

    monkeypatch.setitem(STRATEGIES, LaggedCross.name, LaggedCross)
    monkeypatch.setattr(strategies, "STRATEGY_NAMES", tuple(STRATEGIES))
    text = backtest_help(capsys)
    assert "--signal-lag SIGNAL_LAG lagged-cross: trade N days after the cross (0..10; " \
           "default 0)" in text
    args = parse("--strategy", "lagged-cross", "--signal-lag", "3", "--fast", "5")
    params = strategy_params(args)
    assert params == {"fast": 5, "signal_lag": 3}
    assert make_strategy("lagged-cross", **params).params["signal_lag"] == 3
    with pytest.raises(SystemExit):
        parse("--strategy", "lagged-cross", "--signal-lag", "11")
    assert "parameter 'signal_lag' must be <= 10, got 11" in capsys.readouterr().err
