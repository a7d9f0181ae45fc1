"""Importing the dashboard pages, a warm kernel's preload or the app server does not load the
slow, unused ``rfc3987_syntax`` module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: What a kernel imports first: a dashboard notebook's page, or the warm pool's preload (which
#: imports plotly itself before any page).
FIRST_IMPORTS = {
    "page": "import energy_nb.ui.history",
    "warm preload": "from energy_nb.ui.preload import preload; preload()",
    # the Voilà server process: jupyter_server imports jsonschema for its event schemas
    "app server": "import energy_nb.appserver.__main__",
}

SCRIPT = """
import json, sys
{first}
import plotly.graph_objects as go
go.FigureWidget()
import jsonschema, nbformat
nb = nbformat.v4.new_notebook()
nbformat.validate(nb)  # notebook validation still works
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
print(json.dumps({"loaded": sys.modules.get("rfc3987_syntax") is not None,
                  "email_checked": "email" in checker.checkers,
                  "iri_checked": "iri" in checker.checkers}))
"""


@pytest.mark.parametrize("first", list(FIRST_IMPORTS))
def test_figure_widget_without_rfc3987_syntax(first: str) -> None:
    script = SCRIPT.replace("{first}", FIRST_IMPORTS[first])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": False, "email_checked": True, "iri_checked": False}
