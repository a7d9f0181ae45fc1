"""Voilà's widget manager, patched to wait for a busy kernel's widget states.

When a dashboard page connects to its kernel, the widget manager (ipywidgets' ``ManagerBase``,
bundled in Voilà's and JupyterLab's widget manager extensions) asks the kernel for every
widget's state in one message over the ``jupyter.widget.control`` comm, and gives it **4 s**. A
kernel still running its page, on a machine serving a crowd, answers later. The manager then
falls back to ``_loadFromKernelModels``: it lists the kernel's comms, asks each widget for its
state, and waits for every answer with no timeout. A widget closed in between (a page replacing
a figure, a preheated page swapping in its visitor's view) never answers, and the page never
draws. In ``benchmarks/bench_visitors.py`` (32 visitors at once over the four pages, quiet
2-core machine) 20 of 32 visitors saw no chart within 180 s (12 with this patch: the rest is the
saturated machine); a connected page that never draws was also seen in the browser tests under
load.

The one-message answer is complete and atomic, so the cure is to wait for it: this module finds
the manager's chunks among Voilà's lab extensions and serves them with the 4 s raised to
:data:`CONTROL_COMM_TIMEOUT_MS`. Everything else in the chunk is byte for byte Voilà's. If a
Voilà upgrade changes the chunk so that the timeout is not found, nothing is patched and a
warning says so (``tests/appserver/test_widget_state.py`` fails first).

Usage (the app server does this; see :mod:`energy_nb.appserver.server`)::

    for route, handler, kwargs in patched_chunk_handlers(server_url, labextensions_path):
        handlers.append((route, handler, kwargs))     # before Voilà's /voila/labextensions/
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado.web import RequestHandler

__all__ = ["CONTROL_COMM_TIMEOUT_MS", "PatchedChunk", "PatchedChunkHandler", "find_patched_chunks",
           "patched_chunk_handlers"]

logger = logging.getLogger(__name__)

#: How long a page waits for its kernel's widget states (ipywidgets' default: 4,000 ms). As long
#: as a page may take to connect under load (the release rule's ``load_timeout``, 300 s).
CONTROL_COMM_TIMEOUT_MS = 300_000
#: The extensions whose chunks carry ipywidgets' manager (relative to a labextensions folder):
#: the page runs the copy of ``@jupyter-widgets/base-manager`` that module federation picks,
#: JupyterLab's widget manager extension's or Voilà's own manager's for ipywidgets 8 (the
#: version energy_nb requires), so both are patched.
MANAGERS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8")
#: ``setTimeout(() => reject("Control comm did not respond in time"), 4000)``, as either
#: bundle minifies it.
TIMEOUT_CALL = re.compile(
    r'(setTimeout\(\(?\(\)=>\w+\("Control comm did not respond in time"\)\)?,)4e3(\))')


@dataclass(frozen=True)
class PatchedChunk:
    """One widget-manager chunk with the control comm's timeout raised.

    Attributes:
        url_path: its path below ``/voila/labextensions/`` (e.g.
            ``@voila-dashboards/widgets-manager8/static/324.ee1c7d64c48a4b927622.js``).
        source: the file it was read from.
        body: the patched JavaScript.
    """

    url_path: str
    source: Path
    body: bytes


def patch_chunk(text: str, timeout_ms: int = CONTROL_COMM_TIMEOUT_MS) -> str | None:
    """The chunk with its control-comm timeout set to ``timeout_ms``, or None when the chunk has
    no such timeout (exactly one is expected).

    Args:
        text: a chunk's JavaScript.
        timeout_ms: the new timeout.

    Returns:
        The patched text, or None.
    """
    patched, count = TIMEOUT_CALL.subn(rf"\g<1>{int(timeout_ms)}\g<2>", text)
    return patched if count == 1 else None


def find_patched_chunks(labextensions_path: Iterable[str],
                        timeout_ms: int = CONTROL_COMM_TIMEOUT_MS) -> list[PatchedChunk]:
    """Patch the widget managers' chunks found in the lab extension folders.

    As Voilà's file handler does, the first folder holding a manager wins.

    Args:
        labextensions_path: Voilà's lab extension folders, in its search order.
        timeout_ms: the new timeout.

    Returns:
        The patched chunks (empty when none holds the timeout: see the module docstring).
    """
    chunks: list[PatchedChunk] = []
    for manager in MANAGERS:
        folder = next((Path(p) / manager / "static" for p in labextensions_path
                       if (Path(p) / manager / "static").is_dir()), None)
        if folder is None:
            continue
        for path in sorted(folder.glob("*.js")):
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            if "Control comm did not respond in time" not in text:
                continue
            patched = patch_chunk(text, timeout_ms)
            if patched is None:
                logger.warning("%s: the widget manager's control-comm timeout was not found; "
                               "pages may stall under load (see energy_nb.appserver."
                               "widget_state)", path)
                continue
            chunks.append(PatchedChunk(f"{manager}/static/{path.name}", path,
                                       patched.encode("utf-8", errors="surrogateescape")))
    return chunks


class PatchedChunkHandler(RequestHandler):
    """Serves one :class:`PatchedChunk` (no caching, like Voilà's lab extension files)."""

    def initialize(self, chunk: PatchedChunk) -> None:
        self.chunk = chunk

    def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.chunk.body)


def patched_chunk_handlers(server_url: str, labextensions_path: Iterable[str],
                           timeout_ms: int = CONTROL_COMM_TIMEOUT_MS,
                           ) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """Tornado handlers serving the patched chunks at their Voilà URLs.

    They must come before Voilà's ``/voila/labextensions/(.*)`` handler.

    Args:
        server_url: the server's base URL.
        labextensions_path: Voilà's lab extension folders.
        timeout_ms: the new timeout.

    Returns:
        ``(route, handler, kwargs)`` per patched chunk.
    """
    return [(url_path_join(server_url, "/voila/labextensions/", re.escape(chunk.url_path)),
             PatchedChunkHandler, {"chunk": chunk})
            for chunk in find_patched_chunks(labextensions_path, timeout_ms)]
