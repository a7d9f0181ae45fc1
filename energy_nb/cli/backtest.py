"""``energy-nb backtest``: run a strategy on one commodity's stored prices and store the run.

Usage::

    energy-nb backtest --commodity BRENT --strategy sma-cross --fast 10 --slow 40 \\
        --capital 100000 --commission 0.001 --slippage-bps 2 --start 2015-01-01 --json run.json
    energy-nb backtest --commodity WTI --strategy forecast --model drift --horizon 5 \\
        --threshold 0.01 --refit-every 20 --start 2015-01-01 --progress

    energy-nb backtest-optimize --commodity BRENT --strategy sma-cross \
        --grid fast=5,10,20 --grid slow=40,80,120 --train-days 504 --test-days 126 \
        --objective "Sharpe Ratio" --commission 0.001 --json wf.json

The JSON (``--json`` for stdout, ``--json PATH`` for a file) holds ``stats`` (backtesting.py names
as keys), ``trades`` and ``equity``, plus the parameters and the stored run's ``id``;
``backtest-optimize`` adds ``windows`` (chosen parameters per out-of-sample window).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_nb.backtest.run import DEFAULT_COMMISSION
from energy_nb.cli._common import CliError, add_db_flag, open_store
from energy_nb.cli._forecast_args import (
    add_json_output,
    commodity_arg,
    date_arg,
    output_json,
    strategy_arg,
)

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.backtest.strategies import ParamSpec

def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _grid_arg(value: str) -> tuple[str, list[Any]]:
    key, sep, raw = value.partition("=")
    values = [_json_or_text(v.strip()) for v in raw.split(",") if v.strip()]
    if not sep or not key.strip() or not values:
        raise argparse.ArgumentTypeError(f"expected PARAM=V1,V2,..., got {value!r}")
    return key.strip(), values


def _set_arg(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected PARAM=VALUE, got {value!r}")
    return key.strip(), _json_or_text(raw.strip())


def _key_value(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = raw
    return key.strip(), parsed


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backtest`` command."""
    from energy_nb.backtest.strategies import STRATEGY_NAMES

    p = subparsers.add_parser(
        "backtest",
        help="backtest a strategy on one commodity (signal at t, trade at t+1's price)",
        description="Backtest a strategy on stored prices. A position decided with data up to "
                    "day t is executed at day t+1's price. Each run is stored in the store.",
    )
    p.add_argument("--commodity", type=commodity_arg, required=True, help="WTI, BRENT or NG")
    p.add_argument("--strategy", default="buy-and-hold", type=strategy_arg,
                   choices=STRATEGY_NAMES, help="strategy (default: buy-and-hold)")
    _add_money_args(p)
    p.add_argument("--start", type=date_arg, help="first day simulated (earlier data = history)")
    p.add_argument("--end", type=date_arg, help="last day simulated")
    add_strategy_flags(p)
    add_db_flag(p)
    p.add_argument("--no-save", action="store_true", help="do not store the run")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr for walk-forward strategies (default: shown "
                        "when stderr is a terminal)")
    add_json_output(p)
    p.set_defaults(func=cmd_backtest)

    from energy_nb.backtest.optimize import OBJECTIVES

    o = subparsers.add_parser(
        "backtest-optimize",
        help="walk-forward parameter optimisation; reports the out-of-sample result only",
        description="Optimise a strategy's parameters on a rolling training window and trade "
                    "them on the next window; only the out-of-sample result is reported.",
    )
    o.add_argument("--commodity", type=commodity_arg, required=True, help="WTI, BRENT or NG")
    o.add_argument("--strategy", required=True, type=strategy_arg, choices=STRATEGY_NAMES)
    o.add_argument("--grid", type=_grid_arg, action="append", required=True,
                   metavar="PARAM=V1,V2", help="values to try for a parameter (repeatable)")
    o.add_argument("--set", type=_set_arg, action="append", dest="fixed", metavar="PARAM=VALUE",
                   help="a parameter held fixed (repeatable; VALUE is JSON, e.g. false)")
    o.add_argument("--train-days", type=_int, default=504, help="training window (trading days)")
    o.add_argument("--test-days", type=_int, default=126, help="test window (trading days)")
    o.add_argument("--objective", default="Sharpe Ratio", choices=OBJECTIVES, metavar="STAT",
                   help="statistic to optimise (default: 'Sharpe Ratio')")
    o.add_argument("--minimize", action="store_true", help="minimise the objective")
    _add_money_args(o)
    o.add_argument("--start", type=date_arg, help="earliest start of the first test window")
    o.add_argument("--end", type=date_arg, help="last day used")
    add_db_flag(o)
    o.add_argument("--no-save", action="store_true", help="do not store the run")
    o.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: shown when stderr is a terminal)")
    add_json_output(o)
    o.set_defaults(func=cmd_optimize)


def _add_money_args(parser: argparse.ArgumentParser) -> None:
    """The account and cost options both backtest commands take."""
    money = parser.add_argument_group("money")
    money.add_argument("--capital", type=_float, default=100_000.0, help="initial cash ($)")
    money.add_argument("--commission", type=_float, default=DEFAULT_COMMISSION,
                       help="commission as a fraction of traded value (default "
                            f"{DEFAULT_COMMISSION:g} = {DEFAULT_COMMISSION * 100:g} %%, as on "
                            "the Backtest page)")
    money.add_argument("--fixed-commission", type=_float, default=0.0,
                       help="fixed commission per order ($)")
    money.add_argument("--slippage-bps", type=_float, default=0.0, help="slippage (basis points)")


def strategy_param_specs() -> dict[str, list[tuple[str, ParamSpec]]]:
    """Every strategy parameter by name, with the strategies that take it.

    Returns:
        ``{param name: [(strategy name, its ParamSpec), ...]}``, in the strategies' order.
    """
    from energy_nb.backtest.strategies import STRATEGIES

    out: dict[str, list[tuple[str, ParamSpec]]] = {}
    for name, cls in STRATEGIES.items():
        for spec in cls.param_specs:
            out.setdefault(spec.name, []).append((name, spec))
    return out


def strategy_flag(spec: ParamSpec) -> str:
    """The flag of a strategy parameter: ``refit_every`` -> ``--refit-every``."""
    return "--" + spec.name.replace("_", "-")


def _limits(spec: ParamSpec) -> str:
    parts = []
    if spec.choices:
        parts.append("one of " + ", ".join(spec.choices))
    if spec.low is not None or spec.high is not None:
        low = "" if spec.low is None else f"{spec.low:g}"
        high = "" if spec.high is None else f"{spec.high:g}"
        parts.append(f"{low}..{high}")
    if spec.kind != "dict":
        parts.append(f"default {json.dumps(spec.default)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _spec_type(label: str, specs: list[ParamSpec]) -> Any:
    """An argparse type: the text as the parameter's kind, checked by its ParamSpec when every
    strategy taking it has the same rule (otherwise the chosen strategy checks it)."""
    spec = specs[0]
    same_rule = all((s.kind, s.low, s.high, s.choices) == (spec.kind, spec.low, spec.high,
                                                           spec.choices) for s in specs)

    def parse(text: str) -> Any:
        from energy_nb.backtest.strategies import StrategyError

        value: Any = {"int": _int, "float": _float}.get(spec.kind, str)(text)
        if same_rule:
            try:
                value = spec.check(label, value)
            except StrategyError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    parse.__name__ = spec.kind
    return parse


def add_strategy_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per strategy parameter, generated from the strategies' ParamSpecs.

    Numbers and strings take ``--name VALUE`` (type and limits from the ParamSpec), booleans
    ``--name`` / ``--no-name``, mappings ``--name KEY=VALUE`` (repeatable; a plural name also
    answers to its singular: ``--model-param``). Every flag defaults to None: only the flags given
    reach the strategy, whose own defaults fill the rest. A new ParamSpec needs no CLI edit.

    Args:
        parser: the ``backtest`` parser.
    """
    group = parser.add_argument_group("strategy parameters (defaults: the strategy's own)")
    for name, taken in strategy_param_specs().items():
        spec = taken[0][1]
        strategies = ", ".join(strategy for strategy, _ in taken)
        help_text = f"{strategies}: {spec.help}{_limits(spec)}".replace("%", "%%")
        flag = strategy_flag(spec)
        if spec.kind == "bool":
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        elif spec.kind == "dict":
            flags = [flag] + ([flag[:-1]] if flag.endswith("s") else [])
            group.add_argument(*flags, dest=name, type=_key_value, action="append",
                               metavar="KEY=VALUE", default=None,
                               help=f"{help_text}; repeatable, VALUE is JSON (e.g. window=250)")
        else:
            group.add_argument(flag, dest=name, type=_spec_type(strategies, [s for _, s in taken]),
                               choices=spec.choices, metavar=spec.name.upper(), help=help_text)


def strategy_params(args: argparse.Namespace) -> dict[str, Any]:
    """The strategy parameters given on the command line, checked against the strategy.

    Args:
        args: parsed arguments.

    Returns:
        ``{param: value}`` for the flags given.

    Raises:
        CliError: a flag does not apply to the chosen strategy.
    """
    from energy_nb.backtest.strategies import STRATEGIES

    valid = {spec.name for spec in STRATEGIES[args.strategy].param_specs}
    params: dict[str, Any] = {}
    for name, taken in strategy_param_specs().items():
        value = getattr(args, name, None)
        if value is None:
            continue
        spec = taken[0][1]
        flag = strategy_flag(spec)
        if spec.kind == "dict":
            value = dict(value)
            flag = flag[:-1] if flag.endswith("s") else flag
        if name not in valid:
            if spec.kind == "bool" and value is False:
                flag = "--no-" + flag[2:]
            raise CliError(
                f"{flag} does not apply to strategy {args.strategy} "
                f"(its parameters: {', '.join(sorted(valid)) or 'none'})"
            )
        params[name] = value
    return params


def _text(result: Any) -> str:
    title = (f"{result.strategy} on {result.commodity}, {result.start.date()} to "
             f"{result.end.date()}  params: {json.dumps(result.params)}")
    lines = [title]
    width = max(len(k) for k in result.stats)
    for key, value in result.stats.items():
        if isinstance(value, float):
            shown = f"{value:,.4f}" if abs(value) < 1e15 else str(value)
        else:
            shown = str(value)
        lines.append(f"  {key:<{width}}  {shown}")
    lines.append(f"run id: {result.run_id}" if result.run_id is not None else "run not stored")
    return "\n".join(lines)


def _check_json_path(args: argparse.Namespace) -> None:
    if args.json not in (None, "-"):
        folder = Path(args.json).expanduser().parent
        if not folder.is_dir():
            raise CliError(f"cannot write {args.json}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise CliError(f"cannot write {args.json}: folder {folder} is not writable")


def _load_prices(args: argparse.Namespace) -> Any:
    store = open_store(args)
    prices = store.load(args.commodity)
    if prices.empty:
        raise CliError(
            f"no prices stored for {args.commodity}; import them first with "
            f"'energy-nb data import FILE --commodity {args.commodity}'"
        )
    args.store = store
    return prices


def _progress(args: argparse.Namespace, unit: str) -> Any:
    """A tqdm bar on stderr: with ``--progress``, or by default when stderr is a terminal;
    ``--no-progress`` (or a pipe / file) gives a no-op context."""
    show = args.progress if args.progress is not None else _is_terminal(sys.stderr)
    if not show:
        return nullcontext(None)
    from energy_nb.backtest.progress import tqdm_progress

    return tqdm_progress(f"{args.strategy} {args.commodity}", unit=unit, file=sys.stderr)


def cmd_optimize(args: argparse.Namespace) -> int:
    """Run a walk-forward optimisation and print or write the out-of-sample result.

    Args:
        args: parsed arguments.

    Returns:
        0 on success.

    Raises:
        CliError: bad grid, windows, parameters or no data.
    """
    from energy_nb.backtest import BacktestError, StrategyError
    from energy_nb.backtest.optimize import walk_forward_optimize

    grid: dict[str, list[Any]] = {}
    for key, values in args.grid:
        if key in grid:
            raise CliError(f"--grid {key} given twice")
        grid[key] = values
    fixed = dict(args.fixed or [])
    _check_json_path(args)
    prices = _load_prices(args)
    try:
        with _progress(args, "step") as progress:
            wf = walk_forward_optimize(
                prices, args.strategy, grid, fixed=fixed, train_days=args.train_days,
                test_days=args.test_days, objective=args.objective, maximize=not args.minimize,
                capital=args.capital, commission=args.commission,
                fixed_commission=args.fixed_commission, slippage_bps=args.slippage_bps,
                start=args.start, end=args.end, progress=progress,
                store=None if args.no_save else args.store,
            )
    except (BacktestError, StrategyError) as exc:
        raise CliError(str(exc)) from None
    if not output_json(args.json, wf.to_dict()):
        lines = [_text(wf.result), "", f"chosen parameters per window ({args.objective}):"]
        for row in wf.windows.itertuples(index=False):
            lines.append(f"  train {row.train_start.date()}..{row.train_end.date()}  test "
                         f"{row.test_start.date()}..{row.test_end.date()}  "
                         f"{json.dumps(row.params)}  score {row.train_score:.4g}  "
                         f"test return {row.test_return_pct:.2f} %")
        for note in wf.skipped:
            lines.append(f"  skipped {note}")
        print("\n".join(lines))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run the backtest and print or write the result.

    Args:
        args: parsed arguments.

    Returns:
        0 on success.

    Raises:
        CliError: bad parameters, no data, or an unwritable output path.
    """
    from energy_nb.backtest import BacktestError, StrategyError, run_backtest
    from energy_nb.backtest.notes import result_payload

    params = strategy_params(args)
    _check_json_path(args)
    prices = _load_prices(args)
    try:
        with _progress(args, "forecast") as progress:
            result = run_backtest(
                prices, args.strategy, params, capital=args.capital, commission=args.commission,
                fixed_commission=args.fixed_commission, slippage_bps=args.slippage_bps,
                start=args.start, end=args.end, progress=progress,
                store=None if args.no_save else args.store,
            )
    except (BacktestError, StrategyError) as exc:
        raise CliError(str(exc)) from None
    payload = result_payload(result)
    to_stdout = output_json(args.json, payload)
    if not to_stdout:
        print(_text(result))
        for note in payload["notes"]:
            print(f"{note['level']}: {note['text']}")
    return 0


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (a progress bar then helps)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False
