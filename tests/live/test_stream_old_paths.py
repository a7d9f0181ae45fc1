"""The socket's protocol and client moved to ``energy_nb.stream``; the documented old paths
``energy_nb.live.protocol`` and ``energy_nb.live.client`` give the very same objects."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def _public(module: ModuleType) -> dict[str, object]:
    return {name: value for name, value in vars(module).items() if not name.startswith("_")}


@pytest.mark.parametrize("name", ["protocol", "client"])
def test_the_old_path_gives_the_same_objects(name: str) -> None:
    old = importlib.import_module(f"energy_nb.live.{name}")
    new = importlib.import_module(f"energy_nb.stream.{name}")
    missing = sorted(set(_public(new)) - set(_public(old)))
    assert missing == [], f"energy_nb.live.{name} lacks {missing}"
    different = sorted(key for key, value in _public(new).items() if _public(old)[key] is not value)
    assert different == []


def test_the_documented_old_imports_still_work() -> None:
    from energy_nb.live import protocol as old_protocol
    from energy_nb.live.client import ForecastStream, StreamState
    from energy_nb.live.protocol import Topic
    from energy_nb.stream import client, protocol

    assert ForecastStream is client.ForecastStream and StreamState is client.StreamState
    assert Topic is protocol.Topic
    action = old_protocol.parse('{"action": "subscribe", "commodity": "wti", "horizon": 7}')
    assert action.topic == protocol.Topic("WTI", 7)
    assert isinstance(action, protocol.Action)
    with pytest.raises(protocol.ProtocolError):
        old_protocol.validate_horizon(0)
