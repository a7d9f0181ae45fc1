"""The warm pool over real HTTP: a page whose preheated kernel is taken renders in a warm one."""

from __future__ import annotations

import contextlib
import re
import time

import pytest

from tests.app.conftest import http_get, visitors, wait_for

pytestmark = pytest.mark.slow

KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


def test_crowd_beyond_the_preheated_kernel_gets_warm_kernels(app_factory, small_notebooks):
    app = app_factory(small_notebooks, preheat=True, warm_kernels=2, max_visitors=8,
                      extra_args=("--MappingKernelManager.cull_idle_timeout=2",
                                  "--MappingKernelManager.cull_interval=1"))
    wait_for(lambda: visitors(app)["pooled"] == 3 and visitors(app)["warm"] == 2, timeout=180)
    time.sleep(4)  # cull rounds past the 2 s idle limit: waiting kernels are never culled
    counts = visitors(app)
    assert counts["warm"] == 2 and counts["kernels"] == 3 + 2, counts

    kernels = []
    for _ in range(3):  # one preheated kernel for dash.ipynb, then the two warm ones
        status, _, body = http_get(app + "voila/render/dash.ipynb", timeout=120)
        assert status == 200 and "application/vnd.jupyter.widget-view+json" in body
        kernels.extend(KERNEL_ID.findall(body))
    assert len(set(kernels)) == 3  # three visitors, three kernels
    # the first took the page's preheated kernel; its refill was still starting, so the two
    # visitors after it were served by warm kernels rather than waiting for it
    assert visitors(app)["warm_used"] == 2
    # the pool refills in the background, back to two warm kernels
    wait_for(lambda: visitors(app)["warm"] == 2, timeout=180)


def test_the_pool_refills_for_the_next_crowd_only_as_visitors_leave(app_factory,
                                                                     small_notebooks):
    """Open pages hold kernels already: while three pages are open (their kernels connected, as
    a browser connects them), a pool of three refills to its reserve (one), and back to three
    once the pages are closed and their kernels released."""
    from websockets.sync.client import connect

    app = app_factory(small_notebooks, preheat=True, warm_kernels=3, max_visitors=8,
                      extra_args=("--WarmPoolKernelManager.warm_reserve=1",
                                  "--WarmPoolKernelManager.warm_quiet=0.5",
                                  "--VisitorKernelManager.disconnect_grace=1",
                                  "--VisitorKernelManager.release_interval=1"))
    wait_for(lambda: visitors(app)["pooled"] == 3 and visitors(app)["warm"] == 3, timeout=240)
    with contextlib.ExitStack() as tabs:
        for _ in range(3):  # the preheated kernel, then two warm ones
            status, _, body = http_get(app + "voila/render/dash.ipynb", timeout=120)
            assert status == 200
            kernel_id = KERNEL_ID.findall(body)[0]
            tabs.enter_context(connect(app.replace("http", "ws", 1)
                                       + f"api/kernels/{kernel_id}/channels", open_timeout=30))
        wait_for(lambda: visitors(app)["connected"] == 3, timeout=60)
        counts = visitors(app)
        assert counts["visitors"] == 3 and counts["warm_used"] == 2, counts
        # three pages open: the pool of three refills to max(reserve 1, 3 - 3) = 1 only
        time.sleep(10)  # long enough for the refill of two kernels, were it to happen
        counts = visitors(app)
        assert counts["warm"] == 1 and counts["visitors"] == 3, counts
    # the tabs closed: their kernels are released and the pool refills to its full size
    wait_for(lambda: visitors(app)["visitors"] == 0, timeout=120)
    wait_for(lambda: visitors(app)["warm"] == 3, timeout=240)
