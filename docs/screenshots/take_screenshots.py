"""Take the README's screenshots of every page (real Voilà, real headless Chromium).

Usage (from the project root, with a store imported, e.g. ``energy-nb data init``)::

    python docs/screenshots/take_screenshots.py            # writes docs/screenshots/*.png
    python docs/screenshots/take_screenshots.py backtest.png forecast.png   # only these

Each page is opened at 1,100 x 760 px once it has drawn its chart; ``history-dark.png`` shows the
dark theme (the visitor's system setting, emulated). Chromium is the system one
(``/usr/bin/chromium``); no request leaves the machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

#: file name -> (notebook, selector to wait for, colour scheme)
SHOTS = {
    "landing.png": ("index.ipynb", ".enb-landing .enb-card", "light"),
    "history.png": ("history.ipynb?commodity=WTI,NG&start=2005-01-03&end=2006-12-29",
                    ".enb-history-chart .main-svg", "light"),
    "forecast.png": ("forecast.ipynb", ".enb-forecast-chart .main-svg", "light"),
    "models.png": ("models.ipynb", ".enb-models-page .enb-nav", "light"),
    "backtest.png": ("backtest.ipynb", ".enb-bt-equity .main-svg", "light"),
    "history-dark.png": ("history.ipynb", ".enb-history-chart .main-svg", "dark"),
}


def main(names: list[str] | None = None) -> int:
    """Start the app on a free port, take the screenshots (``names``: only these), stop it."""
    from playwright.sync_api import sync_playwright

    from energy_nb.app import AppOptions, start, stop

    process, urls = start(AppOptions(port=0, open_browser=False, preheat=False),
                          stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = urls["tree"].replace("localhost", "127.0.0.1")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])
            for name, (notebook, ready, scheme) in SHOTS.items():
                if names and name not in names:
                    continue
                context = browser.new_context(viewport={"width": 1100, "height": 760},
                                              color_scheme=scheme)
                page = context.new_page()
                page.goto(f"{base}voila/render/{notebook}", timeout=180_000)
                page.locator(ready).first.wait_for(timeout=180_000)
                page.wait_for_timeout(2500)  # let the charts settle
                page.screenshot(path=str(HERE / name))
                print(f"wrote {HERE / name}")
                context.close()
            browser.close()
    finally:
        stop(process)
    return 0


if __name__ == "__main__":
    unknown = sorted(set(sys.argv[1:]) - set(SHOTS))
    if unknown:
        sys.exit(f"unknown screenshot(s) {', '.join(unknown)}; known: {', '.join(SHOTS)}")
    sys.exit(main(sys.argv[1:]))
