"""Deploying energy_nb for a team: several ``energy-nb app`` instances behind a reverse proxy.

:mod:`energy_nb.deploy.nginx` writes the nginx configuration that ``deploy/compose.yaml`` and
the end-to-end test (``tests/deploy``) both use. Nothing here runs inside the app: the app
starts and serves without nginx.
"""
