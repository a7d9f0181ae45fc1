"""Refit a recorded run for its residual diagnostics in a short-lived worker process.

The refit imports statsmodels, scipy and scikit-learn (about 130 MiB) for the rest of the life
of the interpreter that runs it. A dashboard kernel lives as long as its visitor, so the Models
page never refits in its own kernel: :func:`diagnostics_in_worker` starts a fresh
``python -m energy_nb.service.diagnostics_worker`` (a new ``sys.executable``, not a fork of the
kernel), which reopens the same store, refits the run, saves the diagnostics with
:meth:`~energy_nb.service.diagnostics_cache.DiagnosticsCache.save` and exits; the kernel then
reads them with :meth:`~energy_nb.service.diagnostics_cache.DiagnosticsCache.load`.

The protocol is one JSON line on the worker's stdout:

* ``{"ok": true, "saved": "<file>", "refitted": true}`` — saved in the cache under the key the
  kernel expects (``refitted`` is false when another worker had just saved them: workers of one
  run take :meth:`~energy_nb.service.diagnostics_cache.DiagnosticsCache.refit_lock` in turn);
* ``{"ok": true, "saved": null, "diagnostics": {...}}`` — not saved there (the folder is not
  writable, or the key differs, e.g. prices revised meanwhile): the diagnostics themselves
  (:func:`~energy_nb.service.diagnostics_cache.diagnostics_to_json`);
* ``{"error": "<reason>"}`` — a :class:`~energy_nb.service.diagnostics.DiagnosticsError` (or a
  missing run): why the run has no diagnostics, for people.

Anything else (a crash: non-zero exit, traceback on stderr) is a :class:`DiagnosticsWorkerError`
naming the exit code and the stderr's last line; a worker running longer than ``timeout`` is
killed (:class:`DiagnosticsTimeout`). The store's URL travels in the worker's environment
(``ENERGY_NB_DATABASE_URL``), never on its command line, where ``ps`` would show a password.

Usage::

    from energy_nb.service.diagnostics_worker import diagnostics_in_worker
    diag = diagnostics_in_worker(store, run, cache, cache.key(store, run), timeout=300)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_nb.service.diagnostics import DiagnosticsError, ResidualDiagnostics
from energy_nb.service.diagnostics_cache import (
    DiagnosticsCache,
    DiagnosticsKey,
    diagnostics_from_json,
    diagnostics_to_json,
)

if TYPE_CHECKING:  # pragma: no cover
    from energy_nb.data.store import PriceStore
    from energy_nb.service.registry import ModelRun

log = logging.getLogger(__name__)

#: Seconds a worker may refit before it is killed.
DEFAULT_TIMEOUT = 300.0
#: The environment variable carrying the store's URL (password included) to the worker.
STORE_URL_ENV = "ENERGY_NB_DATABASE_URL"
#: What ``python -m`` runs.
WORKER_MODULE = "energy_nb.service.diagnostics_worker"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class DiagnosticsWorkerError(RuntimeError):
    """The worker failed unexpectedly (crash, unreadable answer); the message says how."""


class DiagnosticsTimeout(DiagnosticsError):
    """The refit took longer than allowed and its worker was killed."""


def diagnostics_in_worker(store: PriceStore, run: ModelRun, cache: DiagnosticsCache,
                          key: DiagnosticsKey | None, *,
                          timeout: float = DEFAULT_TIMEOUT) -> ResidualDiagnostics:
    """Refit ``run`` in a worker process and return its residual diagnostics.

    Args:
        store: the open store (the worker reopens the same one from its URL).
        run: the recorded run.
        cache: where the worker saves the diagnostics (and this process reads them).
        key: the run's key in ``cache`` as this process computed it; ``None`` when it could not
            (the worker then sends the diagnostics themselves).
        timeout: seconds before the worker is killed.

    Returns:
        The diagnostics (read from ``cache``, or from the worker's answer when not saved there).

    Raises:
        DiagnosticsError: the run has no diagnostics (the reason, e.g. no stored prices).
        DiagnosticsTimeout: the worker ran longer than ``timeout`` seconds (it is killed).
        DiagnosticsWorkerError: the worker crashed or answered something unreadable.

    Usage::

        diag = diagnostics_in_worker(store, run, cache, cache.key(store, run))
    """
    command = worker_command(int(run.id), cache.folder, key.digest if key else None)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=worker_environment(store), stdin=subprocess.DEVNULL,
                              check=False)
    except subprocess.TimeoutExpired:
        raise DiagnosticsTimeout(
            f"refitting {run.name} (run {run.id}) took longer than {timeout:g} s and was "
            "stopped; try again later") from None
    answer = _answer(done)
    if "error" in answer:
        raise DiagnosticsError(str(answer["error"]))
    if key is not None and answer.get("saved"):
        saved = cache.load(key)
        if saved is not None:
            return saved
    if isinstance(answer.get("diagnostics"), dict):
        return diagnostics_from_json(answer["diagnostics"])
    raise DiagnosticsWorkerError(
        f"the diagnostics worker saved {answer.get('saved')} but they cannot be read back")


def worker_command(run_id: int, folder: Path, key: str | None) -> list[str]:
    """The worker's command line (nothing secret: ``ps`` shows it).

    Args:
        run_id: the run to refit.
        folder: the diagnostics cache folder.
        key: the key digest the caller will load, if known.

    Returns:
        ``[sys.executable, "-m", "energy_nb.service.diagnostics_worker", ...]``.

    Usage::

        subprocess.run(worker_command(3, cache.folder, None), env=worker_environment(store))
    """
    command = [sys.executable, "-m", WORKER_MODULE, "--run", str(run_id), "--cache", str(folder)]
    return command + (["--key", key] if key else [])


def worker_environment(store: PriceStore) -> dict[str, str]:
    """This process's environment plus what the worker needs to open ``store``.

    Args:
        store: the open store; its full URL (password included; a SQLite file made absolute)
            goes in ``ENERGY_NB_DATABASE_URL``, readable only by the same user.

    Returns:
        The environment; ``PYTHONPATH`` starts with this energy_nb's folder.

    Usage::

        env = worker_environment(store)
    """
    url = store.url
    if store.path is not None:  # an absolute file name: the worker's folder does not matter
        url = url.set(database=str(store.path.resolve()))
    env = dict(os.environ)
    env[STORE_URL_ENV] = url.render_as_string(hide_password=False)
    # the same energy_nb as this process, wherever the worker starts
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def _answer(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The worker's JSON line, or :class:`DiagnosticsWorkerError` naming what went wrong."""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            answer = None
        if isinstance(answer, dict) and ("ok" in answer or "error" in answer):
            return answer
    tail = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
    log.warning("the diagnostics worker failed (exit %s): %s", done.returncode,
                done.stderr[-4000:])
    raise DiagnosticsWorkerError(
        f"the diagnostics worker failed (exit code {done.returncode}): {tail}")


def refit_and_save(store: PriceStore, run_id: int, cache: DiagnosticsCache,
                   expected: str | None) -> dict[str, Any]:
    """The worker's job: refit run ``run_id``, save its diagnostics, say how it went.

    Args:
        store: the store.
        run_id: the recorded run.
        cache: where to save.
        expected: the key digest the caller will load; the diagnostics are also answered
            inline when it differs or the save fails.

    Returns:
        The answer (see the module's protocol).

    Usage::

        refit_and_save(PriceStore.from_settings(), 3, DiagnosticsCache.from_settings(), None)
    """
    from energy_nb.service.diagnostics import fit_run_model, residual_diagnostics
    from energy_nb.service.registry import ModelRegistry, RegistryError

    with cache.refit_lock(run_id):  # visitors of the same new run: one refit, the rest read it
        try:
            run = ModelRegistry(store).get(run_id)
            key = cache.key(store, run)
            diagnostics = cache.load(key)
            refitted = diagnostics is None
            if diagnostics is None:
                diagnostics = residual_diagnostics(fit_run_model(store, run))
        except (DiagnosticsError, RegistryError) as exc:
            return {"error": str(exc)}
        path = cache.save(key, diagnostics) if refitted else cache.path(key)
    answer: dict[str, Any] = {"ok": True, "saved": str(path) if path else None,
                              "refitted": refitted}
    if path is None or key.digest != expected:
        answer["diagnostics"] = diagnostics_to_json(diagnostics)
    return answer


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m energy_nb.service.diagnostics_worker``.

    Args:
        argv: ``--run ID --cache FOLDER [--key DIGEST]``; the store is ``ENERGY_NB_DATABASE_URL``
            (else the configured one).

    Returns:
        0 after printing the answer line (also for a reason the run has no diagnostics).

    Usage::

        ENERGY_NB_DATABASE_URL=sqlite:///var/energy_nb.sqlite \\
            python -m energy_nb.service.diagnostics_worker --run 3 --cache var/cache/diagnostics
    """
    from energy_nb.data.store import PriceStore

    parser = argparse.ArgumentParser(prog="python -m energy_nb.service.diagnostics_worker",
                                     description="Refit a run and save its residual "
                                                 "diagnostics.")
    parser.add_argument("--run", type=int, required=True, help="the run id")
    parser.add_argument("--cache", type=Path, required=True, help="the diagnostics cache folder")
    parser.add_argument("--key", default=None, help="the key digest the caller will load")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    store = PriceStore.from_settings(create=False)
    answer = refit_and_save(store, args.run, DiagnosticsCache(args.cache), args.key)
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the worker process
    sys.exit(main())
