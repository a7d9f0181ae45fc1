"""The code has no pyflakes-class faults and no line longer than 100 characters.

Pyflakes-class faults are unused or undefined names and syntax errors (ruff F, E9); the line
limit is ruff E501.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_no_pyflakes_faults_or_lines_over_100_characters() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pyproject [test] extra)"
    done = subprocess.run([ruff, "check", "--no-cache", "--select", "F,E9,E501",
                           "--line-length", "100",
                           "--output-format", "concise", "energy_nb", "tests", "benchmarks"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, ("pyflakes faults or lines over 100 characters:\n"
                                  + done.stdout + done.stderr)
