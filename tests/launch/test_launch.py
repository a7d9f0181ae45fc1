"""``energy_nb.launch`` composes the faces from settings and options; its errors name what is
wrong and start nothing. (The commands that call it are tested through the CLI in tests/cli,
tests/live and tests/reports.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from energy_nb.config import Settings
from energy_nb.data.store import PriceStore
from energy_nb.launch import LaunchError
from energy_nb.launch.live import LiveServerOptions, build_live_server
from energy_nb.launch.report import check_report_options
from energy_nb.launch.schedule import load_schedule, schedule_listing


def _settings(home: Path) -> Settings:
    return Settings.from_env({"ENERGY_NB_HOME": str(home)})


def test_report_options_name_the_bad_option_and_create_nothing(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"^timeout must be a finite") as bad:
        check_report_options(0, tmp_path / "out")
    assert bad.value.option == "timeout"
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(LaunchError, match="is a file, not a folder") as bad:
        check_report_options(600, a_file / "reports")
    assert bad.value.option == "out"
    assert check_report_options("60", None, _settings(tmp_path / "home")) == (
        60.0, tmp_path / "home" / "reports")
    assert sorted(tmp_path.iterdir()) == [a_file]


def test_a_bad_broadcast_url_is_a_launch_error(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "s.sqlite", create=True)
    with pytest.raises(LaunchError, match="ftp://") as bad:
        build_live_server(LiveServerOptions(port=0, broadcast_url="ftp://host/x"), store,
                          _settings(tmp_path))
    assert bad.value.option == "broadcast_url"


def test_the_live_server_is_built_from_options_and_settings(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "s.sqlite", create=True)
    settings = Settings.from_env({"ENERGY_NB_HOME": str(tmp_path),
                                  "ENERGY_NB_API_KEY": "k" * 24})
    server, feed = build_live_server(LiveServerOptions(port=0, model="drift", http_api=False),
                                     store, settings)
    assert feed is None and server.http_app is None

    async def start_and_stop() -> int:
        await server.start()
        try:
            return server.port
        finally:
            await server.stop()

    assert asyncio.run(start_and_stop()) > 0
    assert server.config.api_key == "k" * 24


def test_a_missing_schedule_is_a_launch_error_and_a_good_one_lists(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="nope.toml"):
        load_schedule(tmp_path / "nope.toml")
    path = tmp_path / "s.toml"
    path.write_text('timezone = "UTC"\n[[jobs]]\nname = "u"\nkind = "data-update"\n'
                    'at = "18:30"\n')
    listing = schedule_listing(load_schedule(path))
    assert [job["name"] for job in listing["jobs"]] == ["u"] and listing["timezone"] == "UTC"
