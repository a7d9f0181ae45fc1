"""The launcher's policy (energy_nb.app): visitor cap, exposure check, reachable URLs, flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from energy_nb.app import (
    MEMORY_PER_VISITOR_MIB,
    RESERVED_MEMORY_MIB,
    AppError,
    AppOptions,
    app_urls,
    check_exposure,
    default_max_visitors,
    is_loopback,
    machine_memory_mib,
    voila_command,
)

ENB = [str(Path(sys.executable).with_name("energy-nb"))]


def test_default_max_visitors_divides_memory_less_the_reserve_by_the_per_visitor_figure():
    assert MEMORY_PER_VISITOR_MIB == 350 and RESERVED_MEMORY_MIB == 2048
    assert default_max_visitors(24 * 1024) == (24 * 1024 - 2048) // 350 == 64
    assert default_max_visitors(1024) == 1  # a small machine still serves one visitor
    assert machine_memory_mib() > 0
    assert default_max_visitors() >= 1


def test_the_command_passes_the_visitor_policy_and_the_tree_flag(tmp_path):
    argv = voila_command(AppOptions(notebooks=tmp_path, max_visitors=3, idle_timeout=20), 9)
    assert "--VisitorKernelManager.max_visitors=3" in argv
    assert "--VisitorKernelManager.idle_timeout=20.0" in argv
    assert "--EnergyVoila.tree=True" not in argv
    assert "--EnergyVoila.tree=True" in voila_command(AppOptions(notebooks=tmp_path, tree=True), 9)
    default = voila_command(AppOptions(notebooks=tmp_path), 9)
    assert f"--VisitorKernelManager.max_visitors={default_max_visitors()}" in default


@pytest.mark.parametrize("ip, loopback", [
    ("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("myhost.example", False),
])
def test_is_loopback(ip, loopback):
    assert is_loopback(ip) is loopback


def test_a_public_address_needs_an_api_key_or_insecure(tmp_path):
    public = AppOptions(notebooks=tmp_path, ip="0.0.0.0")
    with pytest.raises(AppError, match="set ENERGY_NB_API_KEY .* or pass --insecure"):
        check_exposure(public, environ={})
    with pytest.raises(AppError):
        check_exposure(public, environ={"ENERGY_NB_API_KEY": "  "})
    [warning] = check_exposure(public, environ={"ENERGY_NB_API_KEY": "s3cret"})
    assert warning.startswith("warning: serving on 0.0.0.0") and "s3cret" not in warning
    [warning] = check_exposure(AppOptions(notebooks=tmp_path, ip="0.0.0.0", insecure=True),
                               environ={})
    assert "WITHOUT an API key" in warning
    assert check_exposure(AppOptions(notebooks=tmp_path), environ={}) == []
    # with the key, the dashboards require it as their login token
    argv = voila_command(AppOptions(notebooks=tmp_path, ip="0.0.0.0"), 9)
    assert "--EnergyVoila.require_api_key=True" in argv
    assert not any("s3cret" in a for a in argv)  # the key never appears on a command line


def test_urls_never_say_0_0_0_0():
    for ip in ("0.0.0.0", "", "::"):
        urls = app_urls(ip, 8866)
        assert all("0.0.0.0" not in u and "//:" not in u and "[::]" not in u
                   for u in urls.values()), urls
        assert urls["local"] == "http://localhost:8866/"
    assert app_urls("127.0.0.1", 8866)["landing"] == "http://localhost:8866/"
    assert app_urls("127.0.0.1", 8866, tree=True)["files"] == "http://localhost:8866/voila/tree/"


@pytest.mark.parametrize("args, message", [
    (["--max-visitors", "0"], "--max-visitors: expected a positive integer, got 0"),
    (["--max-visitors", "many"], "--max-visitors: expected a positive integer, got 'many'"),
    (["--idle-timeout", "-5"], "--idle-timeout: must be a finite number >= 0"),
    (["--idle-timeout", "nan"], "--idle-timeout: must be a finite number >= 0"),
    (["--feed", "sometimes"], "argument --feed: invalid choice"),
    (["--ip", "0.0.0.0"], "set ENERGY_NB_API_KEY"),
])
def test_cli_refuses_bad_flags_and_an_unprotected_public_address(args, message):
    env = {k: v for k, v in os.environ.items() if k != "ENERGY_NB_API_KEY"}
    done = subprocess.run([*ENB, "app", "--no-browser", "--no-live", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_bad_options_are_refused_in_python_too(tmp_path):
    with pytest.raises(AppError, match="max_visitors must be at least 1"):
        AppOptions(notebooks=tmp_path, max_visitors=0)
    with pytest.raises(AppError, match="feed must be one of poll, replay, none"):
        AppOptions(notebooks=tmp_path, feed="rss")
