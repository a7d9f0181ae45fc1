"""The app server's own pages: the busy page and the idle-release script."""

from __future__ import annotations

import pytest

from energy_nb.appserver.handlers import busy_page, duration_text, page_script
from energy_nb.appserver.kernels import IDLE_CLOSE_CODE


@pytest.mark.parametrize("seconds, text", [
    (900, "15 minutes"), (60, "1 minute"), (20, "20 seconds"), (1, "1 second"), (90, "90 seconds"),
])
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


def test_the_busy_page_says_when_to_retry_and_retries_by_itself():
    page = busy_page(open_visits=12, retry_after=30)
    assert "The dashboards are busy" in page and "12 people" in page
    assert "try again in 30 seconds" in page
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch


def test_the_page_script_watches_for_the_idle_close_code_and_names_the_idle_time():
    script = page_script(900)
    assert script.startswith("<script>") and script.endswith("</script>")
    assert f"IDLE_CODE = {IDLE_CLOSE_CODE}" in script
    assert "idle for 15 minutes" in script and "__IDLE_TEXT__" not in script
