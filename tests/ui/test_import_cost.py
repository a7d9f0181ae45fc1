"""Importing the dashboard pages does not load the slow, unused ``rfc3987_syntax`` module."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import energy_nb.ui.history  # what a dashboard notebook imports first
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


def test_figure_widget_without_rfc3987_syntax() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": False, "email_checked": True, "iri_checked": False}
