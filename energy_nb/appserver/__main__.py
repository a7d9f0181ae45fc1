"""``python -m energy_nb.appserver NOTEBOOKS_DIR [voila options]``: the app server."""

from energy_nb.appserver.server import main

if __name__ == "__main__":
    main()
