"""The dashboards' web server: Voilà plus the front door, admission control and kernel release.

Modules: :mod:`~energy_nb.appserver.visitors` (pure admission / release bookkeeping),
:mod:`~energy_nb.appserver.kernels` (the kernel manager), :mod:`~energy_nb.appserver.handlers`
(Tornado handlers), :mod:`~energy_nb.appserver.server` (the Voilà application).

Usage: ``python -m energy_nb.appserver notebooks/`` (``energy-nb app`` runs it).
"""
