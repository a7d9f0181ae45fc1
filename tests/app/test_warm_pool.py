"""The warm pool over real HTTP: a page whose preheated kernel is taken renders in a warm one."""

from __future__ import annotations

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
