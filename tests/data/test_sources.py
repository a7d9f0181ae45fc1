"""FRED and EIA download code against a real local HTTP server in their real formats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from energy_nb.config import Settings
from energy_nb.data.sources import SourceError, fetch_eia, fetch_fred
from energy_nb.data.store import PriceStore
from tests.data.fake_sources import SourceServer, source_server

OBS = [("2026-08-13", 62.1), ("2026-08-14", None), ("2026-08-17", 63.4), ("2026-08-18", 64.0)]


@pytest.fixture()
def server() -> Iterator[SourceServer]:
    with source_server() as srv:
        yield srv


def settings_for(server: SourceServer, tmp_path: Path, key: str | None = "test-key") -> Settings:
    return Settings(home=tmp_path, fred_base_url=f"{server.base}/fred",
                    eia_base_url=f"{server.base}/eia", eia_api_key=key)


def test_fred_csv_download(server: SourceServer, tmp_path: Path) -> None:
    server.routes["fred:DCOILWTICO"] = OBS
    series = fetch_fred("wti", settings=settings_for(server, tmp_path))
    assert series.commodity == "WTI" and series.source == "fred:DCOILWTICO"
    assert series.dates[0] == date(2026, 8, 13) and series.prices == [62.1, None, 63.4, 64.0]
    assert [f.kind for f in series.flags] == ["missing"]
    later = fetch_fred("WTI", start="2026-08-17", settings=settings_for(server, tmp_path))
    assert len(later) == 2 and "cosd=2026-08-17" in server.requests[-1]


def test_eia_paged_download(server: SourceServer, tmp_path: Path) -> None:
    server.page_size = 3
    server.routes["eia:RNGWHHD"] = [("2026-08-1%d" % i, 2.0 + i / 10) for i in range(8)]
    series = fetch_eia("ng", settings=settings_for(server, tmp_path))
    assert len(series) == 8 and series.prices[-1] == pytest.approx(2.7)
    assert sum("natural-gas/pri/fut/data/" in r for r in server.requests) == 3  # 3 pages


@pytest.mark.parametrize(
    ("reply", "pattern"),
    [
        ((500, "text/plain", b"Internal error", 0), r"HTTP 500.*Internal error"),
        ((429, "application/json", b'{"error": "Too many requests"}', 0),
         r"HTTP 429.*Too many requests"),
        ((200, "text/html", b"<!DOCTYPE html><p>maintenance</p>", 0),
         "expected CSV, got an HTML page"),
        ((200, "text/csv", b"observation_date,DCOILBRENTEU\n2026-01-02,abc\n", 0),
         r"malformed CSV: .*line 2: cannot read price 'abc'"),
        ((200, "text/csv", b"", 0), "malformed CSV: .*file is empty"),
        ((200, "text/csv", b"x,y,z\n1,2,3\n", 0), "malformed CSV: .*no date column"),
    ],
)
def test_fred_errors(server: SourceServer, tmp_path: Path, reply, pattern: str) -> None:
    server.routes["fred:DCOILBRENTEU"] = reply
    with pytest.raises(SourceError, match=rf"FRED DCOILBRENTEU: {pattern}"):
        fetch_fred("BRENT", settings=settings_for(server, tmp_path))


def test_fred_not_found_and_timeout(server: SourceServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch_fred("BRENT", settings=settings_for(server, tmp_path))
    server.routes["fred:DCOILBRENTEU"] = (200, "text/csv", b"DATE,DCOILBRENTEU\n", 3.0)
    with pytest.raises(SourceError, match=r"no answer within 0.5 s \(timeout\)"):
        fetch_fred("BRENT", settings=settings_for(server, tmp_path), timeout=0.5)


def test_connection_refused(tmp_path: Path) -> None:
    with source_server() as srv:
        base = srv.base
    settings = Settings(home=tmp_path, fred_base_url=f"{base}/fred")
    with pytest.raises(SourceError, match="cannot connect"):
        fetch_fred("WTI", settings=settings, timeout=2)


@pytest.mark.parametrize(
    ("reply", "pattern"),
    [
        ((200, "application/json", b"{not json", 0), r"malformed response \(not JSON\)"),
        ((200, "application/json", b"[1, 2]", 0), r"malformed response \(not a JSON object\)"),
        ((200, "application/json", b'{"response": {"total": 1}}', 0),
         r"malformed response \(no response.data list\)"),
        ((200, "application/json", b'{"response": {"total": 1, "data": [{"value": 3}]}}', 0),
         r"record 0 has no period"),
        ((200, "application/json",
          b'{"response": {"total": 1, "data": [{"period": "2026-01-02", "value": "n/a!"}]}}', 0),
         r"record 0 \(2026-01-02\) has a bad value"),
        ((200, "application/json", b'{"response": {"total": 0, "data": []}}', 0),
         "the API returned no data"),
        ((503, "application/json", b'{"error": "Service Unavailable"}', 0),
         r"HTTP 503.*Service Unavailable"),
    ],
)
def test_eia_errors(server: SourceServer, tmp_path: Path, reply, pattern: str) -> None:
    server.routes["eia:RWTC"] = reply
    with pytest.raises(SourceError, match=rf"EIA RWTC: {pattern}"):
        fetch_eia("WTI", settings=settings_for(server, tmp_path))


def test_eia_key_required_and_checked(server: SourceServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no API key; set ENERGY_NB_EIA_API_KEY"):
        fetch_eia("WTI", settings=settings_for(server, tmp_path, key=None))
    server.routes["eia:RWTC"] = OBS
    with pytest.raises(SourceError, match="HTTP 403.*invalid api_key") as info:
        fetch_eia("WTI", settings=settings_for(server, tmp_path, key="secret-wrong-key"))
    assert "secret-wrong-key" not in str(info.value)  # keys never end up in messages


def test_download_imports_only_new_dates(server: SourceServer, tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "s.sqlite")
    settings = settings_for(server, tmp_path)
    server.routes["fred:DHHNGSP"] = OBS[:2]
    assert store.import_series(fetch_fred("NG", settings=settings)).added == 2
    server.routes["fred:DHHNGSP"] = OBS
    report = store.import_series(fetch_fred("NG", start="2026-08-14", settings=settings))
    assert (report.added, report.unchanged) == (2, 1)
    assert len(store.load("NG")) == 4


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (b"observation_date,DCOILBRENTEU\n2026-01-02,61\n9999-12-31,50\n",
         r"line 3: date 9999-12-31 is in the future"),
        (b"observation_date,DCOILBRENTEU\n2026-01-02,6_1.18\n", r"line 2: cannot read price"),
        (b"observation_date,DCOILBRENTEU\n2030111,61\n", r"line 2: cannot read date '2030111'"),
    ],
)
def test_fred_impossible_data_is_refused(server: SourceServer, tmp_path: Path, body: bytes,
                                         pattern: str) -> None:
    server.routes["fred:DCOILBRENTEU"] = (200, "text/csv", body, 0)
    with pytest.raises(SourceError, match=rf"FRED DCOILBRENTEU: malformed CSV: .*{pattern}"):
        fetch_fred("BRENT", settings=settings_for(server, tmp_path))


@pytest.mark.parametrize(
    ("record", "pattern"),
    [
        ({"period": "9999-12-31", "value": 50}, r"record 0: date 9999-12-31 is in the future"),
        ({"period": "1850-01-02", "value": 50}, r"record 0: date 1850-01-02 is before 1900-01-01"),
        ({"period": "2026-01-02garbage", "value": 5}, r"record 0 has a bad period"),
        ({"period": "2026-01-02", "value": "6_1.18"}, r"record 0 \(2026-01-02\) has a bad value"),
        ({"period": "2026-01-02", "value": True}, r"record 0 \(2026-01-02\) has a bad value"),
    ],
)
def test_eia_impossible_data_is_refused(server: SourceServer, tmp_path: Path,
                                        record: dict, pattern: str) -> None:
    body = json.dumps({"response": {"total": 1, "data": [record]}}).encode()
    server.routes["eia:RWTC"] = (200, "application/json", body, 0)
    with pytest.raises(SourceError, match=rf"EIA RWTC: {pattern}"):
        fetch_eia("WTI", settings=settings_for(server, tmp_path))


def test_huge_bodies_give_short_messages(server: SourceServer, tmp_path: Path) -> None:
    server.routes["fred:DCOILBRENTEU"] = (200, "text/csv", b"x," * 1_000_000, 0)
    with pytest.raises(SourceError, match="FRED DCOILBRENTEU: malformed CSV") as fred:
        fetch_fred("BRENT", settings=settings_for(server, tmp_path))
    big_error = json.dumps({"error": "e" * 2_000_000}).encode()
    server.routes["eia:RWTC"] = (200, "application/json", big_error, 0)
    with pytest.raises(SourceError, match="EIA RWTC: API error: eee") as eia:
        fetch_eia("WTI", settings=settings_for(server, tmp_path))
    assert len(str(fred.value)) < 1000 and len(str(eia.value)) < 1000
