"""benchmarks/run_all.py: runs every script, reads JSON rows, tolerates print-only and failing
ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"


def write(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(textwrap.dedent(body))


def test_summary_has_machine_rows_printed_tables_and_failures(tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "run_all.py").write_text(RUN_ALL.read_text())
    write(bench, "bench_fast.py", """
        from run_all import write_results
        print("figure  ours  baseline")
        write_results([
            {"figure": "fit all models", "value": 2.0, "unit": "s", "baseline": 8.0,
             "baseline_label": "statsforecast", "target": "<= 0.5x", "pass": True},
            {"figure": "median rMAE", "value": 0.98, "target": "<= 0.99", "pass": True},
        ])
    """)
    write(bench, "bench_printing.py", """
        print("| step | rMAE |")
        print("| 1    | 0.97 |")
    """)
    write(bench, "bench_broken.py", """
        import json, os
        json.dump({"rows": [{"figure": "x"}]}, open(os.environ["ENERGY_NB_BENCH_JSON"], "w"))
        raise SystemExit(3)
    """)
    res = subprocess.run([sys.executable, str(bench / "run_all.py"), "--quiet"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1, res.stderr  # one script failed
    text = (bench / "RESULTS.md").read_text()
    for label in ("| Cores |", "| CPU |", "| Memory |", "| Python |", "| Date |"):
        assert label in text
    assert ("| bench_fast | fit all models | 2 s | 8 s (statsforecast) | 0.25× | <= 0.5x | yes |"
            in text)
    assert "| bench_fast | median rMAE | 0.98 | — | — | <= 0.99 | yes |" in text
    assert "| bench_printing | see its printed tables below |" in text
    assert "| 1    | 0.97 |" in text  # printed output copied verbatim
    assert "- status: failed (exit 3)" in text
    assert "bench_broken.json ignored: row 1 (x): 'value' is required" in text
    assert text.index("### bench_broken") < text.index("### bench_fast") < text.index(
        "### bench_printing")


def test_only_timeout_and_bad_names(tmp_path: Path) -> None:
    bench = tmp_path
    (bench / "run_all.py").write_text(RUN_ALL.read_text())
    write(bench, "bench_slow.py", "import time\nprint('start', flush=True)\ntime.sleep(60)\n")
    write(bench, "bench_other.py", "print('other')\n")
    res = subprocess.run([sys.executable, str(bench / "run_all.py"), "--only", "bench_slow",
                          "--timeout", "2", "--quiet"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 1
    text = (bench / "RESULTS.md").read_text()
    assert "- status: timed out" in text and "bench_other" not in text
    bad = subprocess.run([sys.executable, str(bench / "run_all.py"), "--only", "bench_nope"],
                         capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode != 0 and "no benchmark script named bench_nope" in bad.stderr


def test_write_results_validates_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(RUN_ALL.parent))
    try:
        import run_all
    finally:
        sys.path.remove(str(RUN_ALL.parent))
    monkeypatch.delenv(run_all.RESULTS_ENV, raising=False)
    assert run_all.write_results([{"figure": "a", "value": 1}]) is None  # run by hand: print only
    with pytest.raises(run_all.ResultsFormatError, match="unknown field"):
        run_all.write_results([{"figure": "a", "value": 1, "colour": "red"}])
    path = run_all.write_results([{"figure": "a", "value": 3, "baseline": 4}], tmp_path / "r.json")
    assert path is not None and '"ratio": 0.75' in path.read_text()
