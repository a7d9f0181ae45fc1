"""A static plotly chart drawn with the plotly.js the page already has: the served widget bundle.

Under the app server, a page's FigureWidgets import plotly's widget bundle by URL
(:mod:`energy_nb.viz.widget_bundle`); importing it also sets ``window.Plotly``. A
:class:`StaticFigure` is a small anywidget whose state is the figure's JSON: in the browser it
imports that same bundle (the same module, already fetched and compiled: the page preloads it)
and calls ``Plotly.react``. A page then needs no second plotly.js: before, static charts went
through ``jupyterlab-plotly``'s mime renderer, which loads its own 4.8 MB copy (Models and
Backtest took 3.4-4.0 s to their first chart, History 2.7 s).

Its content is widget state, so the chart shows however late the page connects, and it may be
replaced from any thread (one state update). The module's own code is a few lines; the bundle is
imported when the chart renders, not when anywidget initialises the model (anywidget gives that
2 s, which a 5 MB compile on a crowded machine may exceed).

Usage (what :class:`energy_nb.viz.charts.StaticChart` does when the bundle is served;
``figure_spec`` and ``served_bundle_path`` are in :mod:`energy_nb.viz.charts` and
:mod:`energy_nb.viz.widget_bundle`)::

    widget = StaticFigure(spec=figure_spec(fig), bundle=served_bundle_path())
    widget.spec = figure_spec(other_fig)          # redraws in place
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["StaticFigure"]

#: The view: import the bundle (once per page: same URL, same module), then draw; redraw when
#: the spec changes; follow the box's width (the chart may first render in a hidden box).
_ESM = """
let plotly = null;
async function loadPlotly(path) {
  if (!plotly) {
    plotly = import(new URL(path, window.location.href).href).then(() => window.Plotly);
  }
  return plotly;
}
function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "enb-static-figure";
  el.appendChild(div);
  let width = 0;
  let Plotly = null;  // the instance that drew this chart resizes and purges it
  const draw = async () => {
    const spec = model.get("spec") || {};
    Plotly = await loadPlotly(model.get("bundle"));
    await Plotly.react(div, spec.data || [], spec.layout || {},
                       spec.config || { responsive: true });
    width = div.clientWidth;
  };
  const redraw = () => { draw().catch((err) => console.error("[energy_nb] chart:", err)); };
  const resized = new ResizeObserver(() => {
    if (div.clientWidth > 0 && div.clientWidth !== width && Plotly && div._fullLayout) {
      width = div.clientWidth;
      Plotly.Plots.resize(div);
    }
  });
  resized.observe(el);
  model.on("change:spec", redraw);
  redraw();
  return () => {
    resized.disconnect();
    model.off("change:spec", redraw);
    if (Plotly) Plotly.purge(div);
  };
}
export default { render };
"""


class StaticFigure(anywidget.AnyWidget):
    """A static plotly chart drawn with plotly's served widget bundle (see the module).

    Traits (synced):
        spec: :func:`~energy_nb.viz.charts.figure_spec` of the figure shown.
        bundle: URL path of plotly's widget bundle on the serving host.
    """

    _esm = _ESM
    spec = traitlets.Dict().tag(sync=True)
    bundle = traitlets.Unicode("").tag(sync=True)
