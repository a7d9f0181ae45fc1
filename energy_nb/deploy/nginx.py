"""The nginx configuration in front of several ``energy-nb app`` instances (stock nginx only).

One file serves both the end-to-end test (``tests/deploy/test_team_deployment.py``, nginx run as
a child process on loopback) and ``deploy/compose.yaml`` (``deploy/nginx.conf``, written by
this module; a test checks it is up to date).

Routing:

* **Sticky by cookie.** A visitor's first request picks an instance (``split_clients`` on the
  request id: an even share each); nginx answers with ``Set-Cookie: enb_instance=<name>`` and
  every later request carrying that cookie (the page, its widgets' assets, its kernel's
  WebSocket) goes to the same instance. A page's kernel lives in one instance, so its socket
  must reach that one. (``ip_hash`` would send a whole office behind one NAT address to one
  instance; nginx-plus ``sticky`` is not in stock nginx.) An unknown cookie value (an instance
  since removed) is treated as a first visit.
* **Failover.** Each instance's upstream lists the other instances as ``backup``: when one is
  down its visitors are served by another (their open pages need a reload).
* **Two kinds of backend per instance:** the dashboards (Voilà: ``/``, ``/voila/...``,
  ``/api/kernels/...`` WebSockets) and its live server (``/api/v1/...``: the HTTP API and the
  live WebSocket ``/api/v1/ws/forecast``; ``/api/openapi.json``, ``/api/docs``, ``/healthz``).
  Both are proxied with HTTP/1.1 and the ``Upgrade``/``Connection`` headers, unbuffered
  (Voilà streams a page as it renders), with an hour's read timeout for idle sockets.
* Every response says which instance and which address served it
  (``X-Energy-Nb-Instance``, ``X-Energy-Nb-Upstream``), for operators and the tests.

Paths (pid, temp folders, the access log by default) are relative to nginx's prefix
(``nginx -p DIR/``; nginx creates the temp folders there), so the same file runs as a child
process in a temp folder or in a container (``-p /var/cache/nginx/``).

Usage::

    from energy_nb.deploy.nginx import Instance, render_config
    text = render_config([Instance("a", "127.0.0.1:8866", "127.0.0.1:8000"),
                          Instance("b", "127.0.0.1:8867", "127.0.0.1:8001")],
                         listen="127.0.0.1:8080")

or ``python -m energy_nb.deploy.nginx --listen 80 --instance a=app-a:8866,app-a:8000
--instance b=app-b:8866,app-b:8000 > deploy/nginx.conf``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

#: Cookie holding the instance a visitor sticks to.
COOKIE = "enb_instance"
#: Response headers naming the instance and the upstream address that served a request.
INSTANCE_HEADER = "X-Energy-Nb-Instance"
UPSTREAM_HEADER = "X-Energy-Nb-Upstream"
#: Paths served by an instance's live server (``energy-nb serve``); the rest go to Voilà.
LIVE_PREFIX = "/api/v1/"
LIVE_EXACT = ("/api/openapi.json", "/api/docs", "/healthz")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")


class NginxConfigError(ValueError):
    """An instance or address that cannot go into the configuration; the message says which."""


@dataclass(frozen=True)
class Instance:
    """One ``energy-nb app`` instance as nginx reaches it.

    Attributes:
        name: its cookie value: lower-case letters, digits, ``_`` (e.g. ``a``).
        app: ``host:port`` of its dashboards (``energy-nb app --port``).
        live: ``host:port`` of its live server (``energy-nb app --live-port``).
    """

    name: str
    app: str
    live: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise NginxConfigError(
                f"instance name {self.name!r} must be 1-32 lower-case letters, digits or _, "
                "starting with a letter or digit")
        for field, value in (("app", self.app), ("live", self.live)):
            match = _ADDRESS.match(value)
            if not match or not 1 <= int(match.group(2)) <= 65535:
                raise NginxConfigError(
                    f"instance {self.name!r}: {field} address {value!r} must be HOST:PORT "
                    "with a port in 1..65535")


def _upstream(name: str, primary: str, backups: Sequence[str]) -> list[str]:
    lines = [f"    upstream {name} {{", f"        server {primary};"]
    lines += [f"        server {address} backup;" for address in backups if address != primary]
    lines += ["        keepalive 16;", "    }"]
    return lines


def _shares(names: Sequence[str]) -> list[str]:
    """``split_clients`` lines giving each instance an even share (the last takes the rest)."""
    share = 100.0 / len(names)
    lines = [f"        {share:.2f}% {name};" for name in names[:-1]]
    return [*lines, f"        * {names[-1]};"]


def _listen(listen: str) -> str:
    text = str(listen)
    if text.isdigit() or _ADDRESS.match(text):
        return text
    raise NginxConfigError(f"listen {listen!r} must be PORT or HOST:PORT")


def render_config(instances: Sequence[Instance], listen: str = "80", *,
                  access_log: str = "logs/access.log", user: str | None = None,
                  worker_processes: int = 1) -> str:
    """The whole ``nginx.conf`` (run it with ``nginx -p PREFIX -c FILE -e ERROR_LOG``).

    Args:
        instances: the app instances, at least one, names unique.
        listen: ``PORT`` or ``HOST:PORT`` nginx listens on.
        access_log: access log path (relative to the prefix), or ``/dev/stdout``, or ``off``.
        user: the ``user`` directive (only meaningful when nginx starts as root; ``None``
            leaves nginx's default).
        worker_processes: nginx worker processes (``auto`` = one per core is not needed: the
            proxy is not the bottleneck; the instances are).

    Returns:
        The configuration text.

    Raises:
        NginxConfigError: no instance, a repeated name, or a bad ``listen``.
    """
    if not instances:
        raise NginxConfigError("at least one instance is needed")
    names = [i.name for i in instances]
    if len(set(names)) != len(names):
        raise NginxConfigError(f"instance names must be unique, got {names}")
    if worker_processes < 1:
        raise NginxConfigError(f"worker_processes must be at least 1, got {worker_processes}")
    listen = _listen(listen)
    lines = ["# energy_nb: sticky routing to the app instances. Written by",
             "# `python -m energy_nb.deploy.nginx`: regenerate it rather than edit it.",
             "# Run: nginx -p PREFIX/ -c THIS_FILE -e ERROR_LOG (relative paths: under PREFIX)"]
    if user:
        lines.append(f"user {user};")
    lines += [
        f"worker_processes {worker_processes};",
        "daemon off;",
        "pid nginx.pid;",
        "events {",
        "    worker_connections 4096;",
        "}",
        "http {",
        f"    access_log {access_log};",
        "    client_body_temp_path client_body_temp;",
        "    proxy_temp_path proxy_temp;",
        "    fastcgi_temp_path fastcgi_temp;",
        "    uwsgi_temp_path uwsgi_temp;",
        "    scgi_temp_path scgi_temp;",
        "    default_type application/octet-stream;",
        "    server_tokens off;",
        "    client_max_body_size 20m;",
        "",
        "    # WebSockets: pass the Upgrade handshake on; plain requests keep the upstream alive",
        "    map $http_upgrade $enb_connection {",
        "        default upgrade;",
        "        ''      '';",
        "    }",
        "    # a first visit picks an instance, evenly; the cookie keeps the visitor there",
        '    split_clients "${remote_addr}${request_id}" $enb_new_instance {',
        *_shares(names),
        "    }",
        f"    map $cookie_{COOKIE} $enb_instance {{",
        "        default $enb_new_instance;",
        *[f"        {name} {name};" for name in names],
        "    }",
        "",
    ]
    for instance in instances:
        lines += _upstream(f"enb_app_{instance.name}", instance.app, [i.app for i in instances])
        lines += _upstream(f"enb_live_{instance.name}", instance.live,
                           [i.live for i in instances])
    lines += [
        "",
        "    server {",
        f"        listen {listen};",
        "        server_name _;",
        f'        add_header Set-Cookie "{COOKIE}=$enb_instance; Path=/; HttpOnly; '
        'SameSite=Lax" always;',
        f"        add_header {INSTANCE_HEADER} $enb_instance always;",
        f"        add_header {UPSTREAM_HEADER} $upstream_addr always;",
        "        # every location: HTTP/1.1 with the WebSocket upgrade, unbuffered (Voila",
        "        # streams a page as it renders), an hour for idle sockets",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $http_host;",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $enb_connection;",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_buffering off;",
        "        proxy_request_buffering off;",
        "        proxy_read_timeout 3600s;",
        "        proxy_send_timeout 3600s;",
        "",
        "        # the instance's live server: HTTP API, live WebSocket, API docs, health",
        f"        location {LIVE_PREFIX} {{ proxy_pass http://enb_live_$enb_instance; }}",
        *[f"        location = {path} {{ proxy_pass http://enb_live_$enb_instance; }}"
          for path in LIVE_EXACT],
        "        # the dashboards (Voila): pages, assets, kernel WebSockets",
        "        location / { proxy_pass http://enb_app_$enb_instance; }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def parse_instance(text: str) -> Instance:
    """``NAME=APP_HOST:PORT,LIVE_HOST:PORT`` -> :class:`Instance`.

    Raises:
        NginxConfigError: the text is not in that form.
    """
    name, sep, rest = text.partition("=")
    app, comma, live = rest.partition(",")
    if not sep or not comma:
        raise NginxConfigError(
            f"--instance {text!r} must be NAME=APP_HOST:PORT,LIVE_HOST:PORT "
            "(e.g. a=app-a:8866,app-a:8000)")
    return Instance(name.strip(), app.strip(), live.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Print the configuration for the instances given on the command line.

    Returns:
        0, or 2 with a message on stderr for a bad argument.
    """
    parser = argparse.ArgumentParser(
        prog="python -m energy_nb.deploy.nginx",
        description="Print the nginx configuration for energy-nb app instances.")
    parser.add_argument("--instance", action="append", required=True,
                        metavar="NAME=APP_HOST:PORT,LIVE_HOST:PORT",
                        help="an app instance (repeat for each)")
    parser.add_argument("--listen", default="80", help="PORT or HOST:PORT (default 80)")
    parser.add_argument("--access-log", default="logs/access.log",
                        help="access log path, /dev/stdout or off (default logs/access.log)")
    args = parser.parse_args(argv)
    try:
        text = render_config([parse_instance(t) for t in args.instance], args.listen,
                             access_log=args.access_log)
    except NginxConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover - command line
    sys.exit(main())
