"""The widget manager served to pages waits for a busy kernel (energy_nb.appserver.widget_state)."""

from __future__ import annotations

import re

from voila.utils import get_voila_labextensions_path

from energy_nb.appserver.widget_state import (
    CONTROL_COMM_TIMEOUT_MS,
    find_patched_chunks,
    patch_chunk,
    patched_chunk_handlers,
)

#: as Voilà's widgets-manager8 and JupyterLab's jupyterlab-manager bundles minify the call
MINIFIED = ('r.send({method:"request_states"},{}),setTimeout((()=>i("Control comm did not '
            'respond in time")),4e3)})),r.close()')
MINIFIED_LAB = ('o.send({method:"request_states"},{}),setTimeout(()=>l("Control comm did not '
                'respond in time"),4e3)}),o.close()')


def test_the_timeout_call_is_raised_and_nothing_else_changes() -> None:
    for minified in (MINIFIED, MINIFIED_LAB):
        patched = patch_chunk("a" + minified + "b", 300_000)
        assert patched == "a" + minified.replace("4e3)", "300000)") + "b"


def test_a_chunk_without_exactly_one_such_timeout_is_not_patched() -> None:
    assert patch_chunk("setTimeout(f, 4e3)") is None
    assert patch_chunk(MINIFIED + MINIFIED) is None


def test_the_installed_managers_are_found_and_patched() -> None:
    """Fails when an upgrade changes a chunk: then pages would wait 4 s again."""
    chunks = find_patched_chunks(get_voila_labextensions_path())
    assert sorted(c.url_path.split("/static/")[0] for c in chunks) == [
        "@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8"]
    for chunk in chunks:
        original = chunk.source.read_bytes()
        assert original.count(b"Control comm did not respond in time") == 1
        assert b",4e3)" in original
        assert re.search(rb'in time"\)\)?,' + str(CONTROL_COMM_TIMEOUT_MS).encode() + rb"\)",
                         chunk.body)
        assert len(chunk.body) == len(original) + len(str(CONTROL_COMM_TIMEOUT_MS)) - 3


def test_handlers_route_the_chunk_below_the_base_url() -> None:
    handlers = patched_chunk_handlers("/team/", get_voila_labextensions_path())
    routes = sorted(route for route, _, _ in handlers)
    assert len(routes) == 2
    prefix = "/team/voila/labextensions/"
    assert routes[0].startswith(prefix + "@jupyter\\-widgets/jupyterlab\\-manager/static/")
    assert routes[1].startswith(prefix + "@voila\\-dashboards/widgets\\-manager8/static/")
