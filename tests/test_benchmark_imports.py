"""Every benchmark's imports from energy_nb resolve (a moved module must not break `make bench`).

Benchmarks run rarely and outside the suite, so a move inside the package (``ui/widget_bundle.py``
to ``viz/``, a constant to another module) once left ``bench_kernel_memory.py`` broken unseen.
The imports are read with ``ast``, at any depth (lazy imports inside functions included).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def energy_nb_imports(path: Path) -> list[tuple[str, str | None]]:
    """``(module, name)`` for each ``from energy_nb... import name`` and ``import energy_nb...``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("energy_nb"):
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names
                         if alias.name.startswith("energy_nb"))
    return found


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_the_benchmark_imports_exist(script: Path) -> None:
    missing = []
    for module, name in energy_nb_imports(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{module}: {exc}")
            continue
        if name is not None and not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert missing == []
