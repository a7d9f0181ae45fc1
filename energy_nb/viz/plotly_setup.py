"""How this process's plotly behaves: set once, before plotly's renderers are imported.

Two settings, both for the dashboards' kernels and harmless elsewhere:

- :func:`skip_rfc3987_syntax`: plotly's renderers import nbformat (only to read its version),
  whose validator imports jsonschema, whose format checkers import ``rfc3987_syntax`` when it is
  installed (Jupyter's event schemas pull it in); that module compiles about 40 lark grammars at
  import: 0.8 to 2 s per cold kernel, for the ``iri``/``iri-reference`` formats nothing here
  validates. Marking it absent makes jsonschema's guarded import skip those two checkers.
- :func:`~energy_nb.viz.widget_bundle.use_served_bundle`: FigureWidgets load plotly's bundle by
  URL when the app server serves it.

:mod:`energy_nb.viz` runs :func:`prepare` when it is first imported, so every module drawing
plotly figures (pages and reports) gets it before ``plotly.io``. The app server
(``python -m energy_nb.appserver``) calls :func:`skip_rfc3987_syntax` before importing
jupyter_server, which loads jsonschema's format checkers for its event schemas; no other code
touches ``sys.modules``.

Usage::

    from energy_nb.viz.plotly_setup import prepare
    prepare()   # idempotent; done by ``import energy_nb.viz``
"""

from __future__ import annotations

import sys


def skip_rfc3987_syntax() -> bool:
    """Keep ``rfc3987_syntax`` from loading (see the module docstring).

    Returns:
        Whether it was marked absent (False: jsonschema or the module were already imported, so
        nothing is changed).
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return False
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    return True


def prepare() -> None:
    """Apply both settings (idempotent)."""
    from energy_nb.viz.widget_bundle import use_served_bundle

    skip_rfc3987_syntax()
    use_served_bundle()
