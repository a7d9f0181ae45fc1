"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temporary folder, a free loopback
port, run as a non-root user (``postgres`` refuses root), stopped and removed afterwards.

Usage::

    cluster = PgCluster.start()
    url = cluster.new_database()     # postgresql://energy_nb:...@127.0.0.1:PORT/t_1
    cluster.stop()
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: the cluster's superuser and its password (scram: a wrong password is refused)
USER, PASSWORD = "energy_nb", "s3cret-pw"
#: the system account the server runs as when the tests run as root
SYSTEM_USER = "postgres"


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (no binaries, or the server failed)."""


def pg_bin() -> Path:
    """The folder holding ``initdb``/``pg_ctl`` (Debian's newest version first)."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PgUnavailable("no PostgreSQL binaries (initdb) found; install Debian's postgresql")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _account() -> tuple[int, int] | None:
    """``(uid, gid)`` to run the server as, or ``None`` when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


class PgCluster:
    """A running throwaway cluster.

    Attributes:
        folder: the temporary folder (data, socket, log).
        port: the loopback port.
    """

    def __init__(self, folder: Path, port: int, account: tuple[int, int] | None) -> None:
        self.folder, self.port, self.account = folder, port, account
        self._names = itertools.count(1)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.account:
            kwargs = {"user": self.account[0], "group": self.account[1], "extra_groups": []}
        return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                              cwd=self.folder, **kwargs)

    @classmethod
    def start(cls, *, durable: bool = False) -> PgCluster:
        """initdb + pg_ctl start; raises :class:`PgUnavailable` with the server's words.

        Args:
            durable: keep PostgreSQL's fsync and synchronous commit (benchmarks); the tests turn
                them off for speed.
        """
        binaries = pg_bin()
        folder = Path(tempfile.mkdtemp(prefix="energy-nb-pg-"))
        account = _account()
        if account:
            os.chown(folder, *account)
        cluster = cls(folder, _free_port(), account)
        (folder / "pw").write_text(PASSWORD)
        if account:
            os.chown(folder / "pw", *account)
        done = cluster._run(str(binaries / "initdb"), "-D", str(folder / "data"), "-U", USER,
                            "--pwfile", str(folder / "pw"), "--auth", "scram-sha-256",
                            "-E", "UTF8", "--locale", "C", "--no-sync")
        if done.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            raise PgUnavailable(f"initdb failed: {done.stderr or done.stdout}")
        options = (f"-p {cluster.port} -k {folder} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200")
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        done = cluster._run(str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-l",
                            str(folder / "log"), "-o", options, "-w", "-t", "60", "start")
        if done.returncode:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise PgUnavailable(f"pg_ctl start failed: {done.stderr or done.stdout}\n{log}")
        cluster.binaries = binaries
        return cluster

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """The URL of a database of this cluster."""
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        import psycopg

        name = f"t_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (closing what is still connected)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                  "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
