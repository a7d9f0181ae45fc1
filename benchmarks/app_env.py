"""The environment benchmark scripts start the app in: as a ``make run`` install has it.

``make bench`` installs the ``bench`` extra into the project's venv, and statsforecast (the
baseline of ``bench_speed.py``) brings pyarrow with it. pandas imports pyarrow whenever it is
installed, which costs every process that imports pandas -- the CLI, every dashboard kernel --
about 66 MB more than in an install made by ``make run`` (energy_nb does not depend on pyarrow).
Memory figures of the app would then measure the benchmark's own extra, not the app.

:func:`as_installed` returns an environment whose ``PYTHONPATH`` starts with a folder holding a
``pyarrow`` package that refuses to import, so pandas (which treats pyarrow as optional) runs as
in a ``make run`` install. Every server of a run gets the same environment.

Usage::

    from app_env import as_installed
    env = as_installed(os.environ, work_dir)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_STUB = ('raise ImportError("pyarrow is hidden by benchmarks/app_env.py: the app is measured '
         'as a make-run install, which has no pyarrow")\n')


def as_installed(environ: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """``environ`` with optional packages of the bench extra hidden (see the module docstring).

    Args:
        environ: the environment to start from.
        work_dir: a folder of the run, where the stub package is written.

    Returns:
        A new environment.
    """
    stub = Path(work_dir) / "hidden-bench-extras"
    (stub / "pyarrow").mkdir(parents=True, exist_ok=True)
    (stub / "pyarrow" / "__init__.py").write_text(_STUB, encoding="utf-8")
    path = [str(stub), *(p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return {**environ, "PYTHONPATH": os.pathsep.join(path)}
