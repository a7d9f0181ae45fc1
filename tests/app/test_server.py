"""The app server over real HTTP: front door, page allowlist, admission, kernel release."""

from __future__ import annotations

import re
import time

import pytest

from tests.app.conftest import http_get, visitors, wait_for

pytestmark = pytest.mark.slow

KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


@pytest.fixture(scope="module")
def app(app_factory, small_notebooks):
    """Preheated pools, one visitor at most, the packaged release timings."""
    return app_factory(small_notebooks, preheat=True, max_visitors=1)


def test_only_the_dashboards_are_served_and_no_file_list(app):
    for path in ("voila/render/explore.ipynb", "voila/render/report.ipynb",
                 "voila/render/sub/nested.ipynb", "voila/render/../dash.ipynb",
                 "voila/render/..%2f..%2fetc%2fpasswd", "voila/render/%2e%2e/index.ipynb",
                 "voila/render/missing.ipynb", "voila/tree", "voila/tree/sub",
                 "voila/api/contents", "voila/api/contents/sub", "explore.ipynb",
                 "voila/files/explore.ipynb", "voila/files/../../etc/passwd"):
        status = http_get(app + path, timeout=30)[0]
        assert status in (403, 404), (path, status)
    status, headers, _ = http_get(app + "dash.ipynb", timeout=30)
    assert status == 302 and headers["Location"] == "/voila/render/dash.ipynb"
    assert visitors(app)["visitors"] == 0  # refused requests never took a slot


def test_pool_kernels_waiting_for_visitors_are_never_culled(app_factory, small_notebooks):
    app = app_factory(small_notebooks, preheat=True, idle_timeout=1, extra_args=(
        "--MappingKernelManager.cull_idle_timeout=2", "--MappingKernelManager.cull_interval=1",
        "--VisitorKernelManager.release_interval=1"))
    # index, dash and sub/nested (Voila preheats every notebook the denylist lets through)
    wait_for(lambda: visitors(app)["pooled"] == 3, timeout=120)
    time.sleep(6)  # three cull rounds past the 2 s idle limit
    counts = visitors(app)
    assert counts["pooled"] == 3 and counts["kernels"] == 3, counts


def test_a_page_nobody_connects_to_is_released_within_60_s_and_frees_its_slot(app):
    wait_for(lambda: visitors(app)["pooled"] == 3, timeout=120)
    status, _, body = http_get(app)  # the landing page, at the root URL, like curl would
    served = time.monotonic()
    assert status == 200 and "to-dash" in body
    [kernel] = set(KERNEL_ID.findall(body))
    assert http_get(app + f"api/kernels/{kernel}", timeout=30)[0] == 200

    # the one slot is taken: the next visitor is told at once to come back later
    asked = time.monotonic()
    status, headers, body = http_get(app + "voila/render/dash.ipynb", timeout=30)
    assert time.monotonic() - asked < 1.0
    assert status == 503 and 5 <= int(headers["Retry-After"]) <= 60
    assert "The dashboards are busy" in body and "try again" in body

    wait_for(lambda: http_get(app + f"api/kernels/{kernel}", timeout=30)[0] == 404,
             timeout=60 - (time.monotonic() - served))
    counts = visitors(app)
    assert counts["visitors"] == 0 and counts["released"]["never-connected"] >= 1, counts
    assert http_get(app + "voila/render/dash.ipynb")[0] == 200  # the slot is free again


def test_with_require_api_key_only_visitors_with_the_key_get_a_page(app_factory, small_notebooks):
    """What a non-loopback --ip with ENERGY_NB_API_KEY turns on (tested here on loopback)."""
    app = app_factory(small_notebooks, preheat=False, env={"ENERGY_NB_API_KEY": "k-123"},
                      extra_args=("--EnergyVoila.require_api_key=True",))
    status, headers, _ = http_get(app + "voila/render/dash.ipynb", timeout=30)
    assert status in (302, 403) and "enb-slider" not in _
    assert http_get(app + "voila/render/dash.ipynb?token=wrong", timeout=30)[0] in (302, 403)
    status, _, body = http_get(app + "voila/render/dash.ipynb?token=k-123")
    assert status == 200 and "kernelId" in body


def test_require_api_key_without_a_key_refuses_to_start(app_factory, small_notebooks):
    from energy_nb.app import AppError

    with pytest.raises(AppError, match="exited"):
        app_factory(small_notebooks, preheat=False, env={"ENERGY_NB_API_KEY": ""},
                    extra_args=("--EnergyVoila.require_api_key=True",))


LOADING_URL = re.compile(r'fetch\("(/energy_nb/api/loading/[\w-]+)"')


def test_a_page_loading_in_a_browser_keeps_its_kernel_past_the_connect_timeout(
        app_factory, small_notebooks):
    app = app_factory(small_notebooks, preheat=False, extra_args=(
        "--VisitorKernelManager.connect_timeout=2", "--VisitorKernelManager.load_timeout=12",
        "--VisitorKernelManager.release_interval=1"))
    status, _, body = http_get(app + "voila/render/dash.ipynb")
    served = time.monotonic()
    assert status == 200
    [kernel] = set(KERNEL_ID.findall(body))
    [signal] = LOADING_URL.findall(body)  # what the page's <head> script fetches at once
    assert http_get(app.rstrip("/") + signal, timeout=30)[0] == 204
    assert http_get(app + "energy_nb/api/loading/no-such-visit", timeout=30)[0] == 404
    time.sleep(max(0.0, served + 6 - time.monotonic()))  # well past the 2 s connect timeout
    assert http_get(app + f"api/kernels/{kernel}", timeout=30)[0] == 200
    wait_for(lambda: http_get(app + f"api/kernels/{kernel}", timeout=30)[0] == 404,
             timeout=30)  # ... and released after the 12 s load timeout
    assert time.monotonic() - served >= 11
