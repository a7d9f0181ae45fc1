"""One rule, one answer: every face gives the same message for the same bad input.

The rules live in :mod:`energy_nb.service.requests`. For each rule (horizon, interval levels,
model name, commodity, date) the test feeds the same bad value to the CLI (``energy-nb forecast``,
in-process: exit 2 and argparse's message), the socket protocol (``protocol.parse``: an ``error``
with its code), the report parameters (``validate_parameters``) and the HTTP API (a real live
server on loopback: 422 with the error shape), and checks that each face's message carries the
rule's own message.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from energy_nb.cli import main as cli_main
from energy_nb.data.store import PriceStore
from energy_nb.stream import protocol
from energy_nb.live.http_api import ApiSettings, build_api
from energy_nb.live.server import LiveConfig, LiveServer
from energy_nb.reports.parameters import ReportParameterError, validate_parameters
from energy_nb.service import requests as rules


@pytest.fixture(scope="module")
def api_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server with the HTTP API on a free loopback port (an empty store: every request
    below is refused before the data is read)."""
    store = PriceStore(tmp_path_factory.mktemp("rules") / "energy_nb.sqlite")
    server = LiveServer(lambda c, h: {"model": "stub", "points": []}, LiveConfig(port=0),
                        http_app=build_api(store, ApiSettings()))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def rule_message(rule: Callable[..., Any], *args: Any) -> str:
    with pytest.raises(rules.RequestError) as info:
        rule(*args)
    return info.value.message


def cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        cli_main(["forecast", *args])
    assert info.value.code == 2
    return capsys.readouterr().err


def protocol_error(action: dict[str, Any]) -> protocol.ProtocolError:
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.parse(json.dumps(action))
    return info.value


def report_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ReportParameterError) as info:
        validate_parameters(raw)
    return str(info.value)


def api_error(base: str, query: dict[str, str], status: int = 422) -> str:
    res = httpx.get(f"{base}/api/v1/forecast", params=query, timeout=30)
    assert res.status_code == status, res.text
    body = res.json()
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]["message"]


def test_horizon_rule_is_one_answer(api_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.check_horizon, 31)
    assert message == "horizon must be between 1 and 30 trading days, got 31"
    assert message in cli_error(["--commodity", "WTI", "--horizon", "31"], capsys)
    error = protocol_error({"action": "subscribe", "commodity": "WTI", "horizon": 31})
    assert (error.code, error.message) == ("invalid_horizon", message)
    assert report_error({"horizon": 31}) == message
    assert api_error(api_base, {"commodity": "WTI", "horizon": "31"}) == message
    # not an integer: the same words everywhere too (400 from the API: unreadable, not a range)
    text = rule_message(rules.parse_horizon, "x")
    assert text in cli_error(["--commodity", "WTI", "--horizon", "x"], capsys)
    assert api_error(api_base, {"commodity": "WTI", "horizon": "x"}, status=400) == text
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.topic_from_query("WTI", "x")  # the socket's URL query
    assert (info.value.code, info.value.message) == ("invalid_horizon", text)


def test_levels_rule_is_one_answer(api_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.parse_levels, "80,100")
    assert message == "interval level must be between 0 and 100 (exclusive), got 100"
    assert message in cli_error(["--commodity", "WTI", "--levels", "80,100"], capsys)
    assert report_error({"levels": [80, 100]}) == f"levels: {message}"
    assert api_error(api_base, {"commodity": "WTI", "levels": "80,100"}) == message


def test_model_rule_is_one_answer(api_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.model_name, "prophet")
    assert message.startswith("unknown model 'prophet'; expected one of random_walk")
    assert message in cli_error(["--commodity", "WTI", "--model", "prophet"], capsys)
    assert report_error({"model": "prophet"}) == f"model: {message}"
    assert api_error(api_base, {"commodity": "WTI", "model": "prophet"}) == message
    # the clean-up is one too: every face accepts the same spellings
    assert rules.model_name(" Random-Walk ") == "random_walk"
    assert validate_parameters({"model": " Random-Walk "}).model == "random_walk"


def test_commodity_rule_is_one_answer(api_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.commodity_code, "GOLD")
    assert message == "unknown commodity 'GOLD'; expected one of WTI, BRENT, NG"
    assert message in cli_error(["--commodity", "GOLD"], capsys)
    error = protocol_error({"action": "subscribe", "commodity": "GOLD", "horizon": 5})
    assert (error.code, error.message) == ("unknown_commodity", message)
    assert report_error({"commodities": ["GOLD"]}) == f"commodities: {message}"
    assert api_error(api_base, {"commodity": "GOLD"}) == message


def test_date_rule_is_one_answer(api_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.date, "2024-13-01", None)
    assert message == "not a valid date: '2024-13-01' (use YYYY-MM-DD)"
    assert f"argument --start: {message}" in cli_error(
        ["--commodity", "WTI", "--start", "2024-13-01"], capsys)
    assert report_error({"as_of": "2024-13-01"}) == f"as_of is {message}"
    assert api_error(api_base, {"commodity": "WTI", "start": "2024-13-01"},
                     status=400) == f"start is {message}"


def api_post_error(base: str, body: dict[str, Any]) -> str:
    res = httpx.post(f"{base}/api/v1/backtests", json=body, timeout=30)
    assert res.status_code == 422, res.text
    return res.json()["error"]["message"]


def test_strategy_name_rule_is_one_answer(api_base: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    message = rule_message(rules.strategy_name, "yolo")
    assert message.startswith("unknown strategy 'yolo'; known: buy-and-hold, sma-cross")
    with pytest.raises(SystemExit):
        cli_main(["backtest", "--commodity", "WTI", "--strategy", "yolo"])
    assert f"argument --strategy: {message}" in capsys.readouterr().err
    assert report_error({"strategy": "yolo"}) == f"strategy: {message}"
    assert api_post_error(api_base, {"commodity": "WTI", "strategy": "yolo"}) == message
    assert rules.strategy_name(" SMA_Cross ") == "sma-cross"
    assert validate_parameters({"strategy": " SMA_Cross "}).strategy == "sma-cross"


def test_strategy_parameter_rule_is_one_answer(api_base: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The strategy's ParamSpec rules its parameters: the CLI flag and the API body agree."""
    from energy_nb.backtest.strategies import StrategyError, make_strategy

    with pytest.raises(StrategyError) as info:
        make_strategy("sma-cross", fast=0)
    message = str(info.value)
    assert message == "sma-cross: parameter 'fast' must be >= 1, got 0"
    with pytest.raises(SystemExit):
        cli_main(["backtest", "--commodity", "WTI", "--strategy", "sma-cross", "--fast", "0"])
    assert f"argument --fast: {message}" in capsys.readouterr().err
    assert api_post_error(api_base, {"commodity": "WTI", "strategy": "sma-cross",
                                     "params": {"fast": 0}}) == message
