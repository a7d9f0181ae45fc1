"""What a dashboard kernel imports for a page's first paint: no model library.

Every open page holds a kernel, and every module it imports is memory held per visitor (and per
pooled kernel). statsmodels, scipy and scikit-learn (about 100 MiB together) are needed to fit
models, never to show a page: the warm pool's preload and the first paint of every page must not
load them. Each case runs in a fresh interpreter on a store of the real snapshot.

The Models page shows the residual diagnostics of a recorded run, which need a refit the first
time: it runs in a worker process (:mod:`energy_nb.service.diagnostics_worker`), never in the
page's kernel, and saves them in ``$ENERGY_NB_HOME/cache/diagnostics``, from which later visitors
read them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv
from energy_nb.service.diagnostics import quick_evaluation

REPO = Path(__file__).resolve().parents[2]
MODEL_LIBRARIES = ("statsmodels", "scipy", "sklearn")
FILES = {"WTI": "wti-daily.csv", "BRENT": "brent-daily.csv", "NG": "henryhub-daily.csv"}

#: What each case runs, then the probe prints what got imported.
CASES = {
    "warm preload": "from energy_nb.ui.preload import preload\npreload()",
    "history": "from energy_nb.ui.history import build_history_page\nbuild_history_page()",
    "models": "from energy_nb.ui.models import build_models_page\nbuild_models_page()",
    "backtest": "from energy_nb.ui.backtest import build_backtest_page\nbuild_backtest_page()",
    "landing": "from energy_nb.ui.landing import build_landing_page\nbuild_landing_page()",
}
PROBE = ("\nimport json, sys\nprint('ENB' + json.dumps([m for m in %r if m in sys.modules]))\n"
         % (MODEL_LIBRARIES,))


@pytest.fixture(scope="module")
def home(eia_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("first-paint")
    store = PriceStore(folder / "energy_nb.sqlite")
    for code, name in FILES.items():
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    return folder


#: A Models page showing the selected run's residual diagnostics (the app's default).
MODELS_WITH_DIAGNOSTICS = (
    "from energy_nb.ui.models import build_models_page\n"
    "page = build_models_page().page\n"
    "page.wait_for_diagnostics()\n"
    "assert page.diagnostics is not None, page.diagnostics_summary.value\n"
    "print('ENBRUN', page.run_picker.value)\n"
)


def imported_model_libraries(home: Path, code: str) -> tuple[list[str], str]:
    """Run ``code`` then the probe in a fresh interpreter on ``home``: (libraries, stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "VOILA_"))}
    env["ENERGY_NB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, "-c", code + PROBE], capture_output=True,
                          text=True, timeout=180, env=env, cwd=str(REPO / "notebooks"))
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("ENB["))
    return json.loads(line[3:]), done.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_first_paint_imports_no_model_library(home: Path, case: str) -> None:
    imported, _ = imported_model_libraries(home, CASES[case])
    assert imported == [], f"{case} imported {imported}"


def evaluated_home(home: Path, folder: Path) -> Path:
    """A copy of ``home``'s store in ``folder`` with a small WTI evaluation, nothing cached."""
    folder.mkdir()
    shutil.copy(home / "energy_nb.sqlite", folder / "energy_nb.sqlite")
    quick_evaluation(PriceStore(folder / "energy_nb.sqlite"), "WTI", ("random_walk", "theta"),
                     n_origins=2, horizon=5, step=10)
    return folder


def saved_diagnostics(home: Path, out: str) -> tuple[str, list[Path]]:
    """The run a Models page showed (its ``ENBRUN`` line) and its files in ``home``'s cache."""
    run = next(x for x in out.splitlines() if x.startswith("ENBRUN")).split()[1]
    return run, list((home / "cache" / "diagnostics").glob(f"*-run{run}-*.json"))


def test_models_page_refits_diagnostics_in_a_worker_not_in_its_kernel(
        home: Path, tmp_path: Path) -> None:
    """An empty cache: the diagnostics are drawn, refitted by a worker; no model in the kernel."""
    evaluated = evaluated_home(home, tmp_path / "home")
    assert not (evaluated / "cache").exists()
    imported, out = imported_model_libraries(evaluated, MODELS_WITH_DIAGNOSTICS)
    assert imported == [], f"the Models page's kernel imported {imported} for its refit"
    _, saved = saved_diagnostics(evaluated, out)
    assert len(saved) == 1, saved  # the worker saved them for the next visitors


@pytest.mark.slow
def test_models_page_reads_saved_diagnostics_without_model_libraries(
        home: Path, tmp_path: Path) -> None:
    """The first visitor's worker saves the run's diagnostics; the next page reads that file."""
    evaluated = evaluated_home(home, tmp_path / "home")
    first, out = imported_model_libraries(evaluated, MODELS_WITH_DIAGNOSTICS)
    assert first == [], f"the first Models page imported {first}"
    run, saved = saved_diagnostics(evaluated, out)
    assert len(saved) == 1, saved
    written = saved[0].stat().st_mtime_ns
    again, out = imported_model_libraries(evaluated, MODELS_WITH_DIAGNOSTICS)
    assert again == [], f"the second Models page imported {again}"
    # the same run's diagnostics, drawn from its file (not written again)
    assert f"ENBRUN {run}" in out
    assert saved[0].stat().st_mtime_ns == written
