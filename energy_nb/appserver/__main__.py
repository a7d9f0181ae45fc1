"""``python -m energy_nb.appserver NOTEBOOKS_DIR [voila options]``: the app server."""

from energy_nb.viz.plotly_setup import skip_rfc3987_syntax

# Before jupyter_server imports jsonschema (for its event schemas): the server, like the
# dashboards' kernels, skips rfc3987_syntax's grammars (1 CPU s and 16 MiB at start; see
# energy_nb.viz.plotly_setup).
skip_rfc3987_syntax()

from energy_nb.appserver.server import main  # noqa: E402

if __name__ == "__main__":
    main()
