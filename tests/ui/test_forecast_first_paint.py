"""The default Forecast page's first paint in a real kernel: the stored forecast, no model library.

A dashboard kernel is what each visitor costs the server. When the store already holds the
forecast the default page asks for (the same commodity, model, origin, horizon, levels and
prices), rendering the page reads it: the kernel imports neither statsmodels, scipy nor
scikit-learn, and the page shows the very numbers a fresh fit of that request gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.forecasting import ForecastService
from energy_nb.models import make_model

REPO = Path(__file__).resolve().parents[2]
MODEL_LIBRARIES = ("statsmodels", "scipy", "sklearn")

#: After the notebook's cell: what the kernel imported and what the page shows.
PROBE = """
import json as _json, sys as _sys
_page = _.page
print("ENB" + _json.dumps({
    "imported": [m for m in %r if m in _sys.modules],
    "stored_at": _page.run.stored_at, "model": _page.run.model,
    "origin": str(_page.run.origin.date()), "messages": _page.messages.level,
    "table": _page.table_frame.to_dict(orient="list")}))
""" % (MODEL_LIBRARIES,)


def notebook_code(name: str) -> str:
    cells = json.loads((REPO / "notebooks" / name).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def run_in_kernel(home: Path, *codes: str) -> str:
    """Run ``codes`` in a fresh python3 kernel with ``ENERGY_NB_HOME=home``; its stdout."""
    from jupyter_client.manager import KernelManager

    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "VOILA_"))}
    env["ENERGY_NB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(REPO / "notebooks"))
    client = manager.client()
    client.start_channels()
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["header"]["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["header"]["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    try:
        client.wait_for_ready(timeout=120)
        for code in codes:
            reply = client.execute_interactive(code, timeout=180, output_hook=hook)
            assert reply["content"]["status"] == "ok", "".join(out)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(out)


@pytest.mark.slow
def test_default_forecast_page_renders_the_stored_forecast_without_model_libraries(
        eia_dir, tmp_path):
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    for code, name in (("WTI", "wti-daily.csv"), ("BRENT", "brent-daily.csv")):
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    # `energy-nb forecast --commodity WTI` (defaults: auto, 7 days, 80/95 %) stores the forecast
    # the page shows by default, as an earlier visitor's page would
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get(
               "PYTHONPATH")])])}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from energy_nb.cli import main; sys.exit(main())",
         "forecast", "--commodity", "WTI"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    origin = store.load("WTI").index[-1]

    output = run_in_kernel(tmp_path, notebook_code("forecast.ipynb"), PROBE)
    line = next(x for x in output.splitlines() if x.startswith("ENB"))
    shown = json.loads(line[3:])

    assert shown["imported"] == [], f"the first paint imported {shown['imported']}"
    assert shown["stored_at"] and shown["model"] == "auto" and shown["messages"] is None
    assert shown["origin"] == str(origin.date())
    # the same numbers as a fresh fit of the same request, on the prices up to the origin only
    train = store.load("WTI").loc[:origin]
    fresh = make_model("auto").fit(train).predict(horizon=7, levels=(80, 95))
    table = shown["table"]
    assert table["step"] == list(range(1, 8))
    assert table["date"] == [d.strftime("%Y-%m-%d") for d in fresh.dates]
    np.testing.assert_allclose(table["mean"], fresh.mean, rtol=1e-12)
    for level in (80, 95):
        np.testing.assert_allclose(table[f"lower_{level}"], fresh.lower[level], rtol=1e-12)
        np.testing.assert_allclose(table[f"upper_{level}"], fresh.upper[level], rtol=1e-12)


@pytest.mark.slow
def test_forecast_page_without_a_stored_forecast_fits_as_before(eia_dir, tmp_path):
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    # a stored forecast of another request (horizon 5) is not shown for the default (7)
    ForecastService(store).forecast("WTI", "auto", horizon=5, levels=(80, 95))

    output = run_in_kernel(tmp_path, notebook_code("forecast.ipynb"), PROBE)
    shown = json.loads(next(x for x in output.splitlines() if x.startswith("ENB"))[3:])

    assert shown["stored_at"] is None and len(shown["table"]["step"]) == 7
    assert "statsmodels" in shown["imported"]  # it fitted (auto's candidates), as before
