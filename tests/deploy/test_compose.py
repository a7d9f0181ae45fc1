"""``deploy/`` stays in step with the end-to-end test (no Docker needed): compose.yaml runs the
topology and the commands ``tests/deploy/test_team_deployment.py`` proves, and nginx.conf is
what ``energy_nb.deploy.nginx`` writes for the compose services."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from energy_nb.cli import build_parser
from energy_nb.deploy.nginx import Instance, render_config
from tests.deploy.conftest import SHARED_ENV, app_arguments

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: Flags only the test passes: JSON URLs for the harness, no preheat and a visitor cap to spare
#: the shared test machine. Everything else the test runs, the compose file runs too.
TEST_ONLY_FLAGS = {"--json", "--no-preheat", "--max-visitors"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def app_services(compose: dict) -> dict[str, dict]:
    return {name: spec for name, spec in compose["services"].items()
            if spec.get("command", [])[:2] == ["energy-nb", "app"]}


def parse_app(argv: list[str]) -> argparse.Namespace:
    """Parse ``energy-nb ARGV`` with the real command-line parser (fails on an unknown flag)."""
    return build_parser().parse_args(argv)


def flags(argv: list[str]) -> set[str]:
    return {arg for arg in argv if arg.startswith("--")}


def test_the_topology_is_nginx_two_app_instances_redis_and_postgres(compose):
    services = compose["services"]
    assert {"nginx", "redis", "postgres"} <= set(services)
    assert sorted(app_services(compose)) == ["app-a", "app-b"]
    for name, spec in app_services(compose).items():
        assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
        assert spec["depends_on"]["store-init"]["condition"] == \
            "service_completed_successfully"
    assert services["store-init"]["command"] == ["energy-nb", "data", "init"]
    assert services["store-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # the same Redis as the tests' RedisProcess: append-only, so streams survive a restart
    assert services["redis"]["command"][:1] == ["redis-server"]
    assert "--appendonly" in services["redis"]["command"]


def test_app_instances_run_the_tests_command_and_share_store_and_fan_out(compose):
    test_args = parse_app(app_arguments())
    shared_values = []
    for name, spec in app_services(compose).items():
        argv = spec["command"][1:]
        args = parse_app(argv)  # every flag is one `energy-nb app` knows
        assert args.func is test_args.func
        assert flags(app_arguments()) - TEST_ONLY_FLAGS <= flags(argv), name
        assert not args.no_live and args.live_port and args.port
        assert args.ip == "0.0.0.0" and not args.insecure  # reached by nginx, behind a key
        env = spec["environment"]
        for var in (*SHARED_ENV, "ENERGY_NB_API_KEY"):
            assert var in env, f"{name} lacks {var}"
        assert env["ENERGY_NB_BROADCAST_URL"].startswith("redis://redis:")
        assert env["ENERGY_NB_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:" in env["ENERGY_NB_DATABASE_URL"]
        shared_values.append({var: env[var] for var in (*SHARED_ENV, "ENERGY_NB_DATABASE_URL")})
        assert "home:/var/lib/energy_nb" in spec["volumes"]
        assert args.notebooks == Path("/app/notebooks")
    assert all(v == shared_values[0] for v in shared_values), shared_values
    # one instance polls for new prices (each poll imports and broadcasts): never two
    feeds = [parse_app(s["command"][1:]).feed for s in app_services(compose).values()]
    assert feeds.count("poll") == 1 and set(feeds) <= {"poll", "none"}, feeds


def compose_instances(compose: dict) -> list[Instance]:
    instances = []
    for name, spec in sorted(app_services(compose).items()):
        args = parse_app(spec["command"][1:])
        instances.append(Instance(name.removeprefix("app-"), f"{name}:{args.port}",
                                  f"{name}:{args.live_port}"))
    return instances


def test_nginx_conf_is_the_packaged_config_for_the_compose_instances(compose):
    nginx = compose["services"]["nginx"]
    command = nginx["command"]
    conf_in_container = command[command.index("-c") + 1]
    assert f"./nginx.conf:{conf_in_container}:ro" in nginx["volumes"]
    assert command[0] == "nginx" and "-p" in command and "-e" in command  # as the test runs it
    published = nginx["ports"][0].rsplit(":", 1)[1]
    expected = render_config(compose_instances(compose), published, access_log="/dev/stdout")
    assert (DEPLOY / "nginx.conf").read_text() == expected, (
        "deploy/nginx.conf is out of date: regenerate it with the command in deploy/compose.yaml")
    for service in ("app-a", "app-b"):
        assert nginx["depends_on"][service]["condition"] == "service_healthy"


def test_the_regenerate_command_in_compose_yaml_writes_nginx_conf():
    text = (DEPLOY / "compose.yaml").read_text()
    match = re.search(r"^#\s+python -m energy_nb\.deploy\.nginx (.+) > deploy/nginx\.conf$",
                      text, re.M)
    assert match, "compose.yaml gives the command that writes nginx.conf"
    done = subprocess.run([sys.executable, "-m", "energy_nb.deploy.nginx",
                           *match.group(1).split()], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (DEPLOY / "nginx.conf").read_text()


def test_the_image_is_python_3_11_slim_with_the_package_installed():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"pip install \.(\s|$)", dockerfile)
    assert "COPY notebooks ./notebooks" in dockerfile and "WORKDIR /app" in dockerfile
