"""The import rules between energy_nb's layers, read from the source with ``ast``.

- The core (data, models, evaluation, backtest and the top-level catalogue/config modules) imports
  no face, no application layer and no figure code.
- No application module sits loose at the package's top level (only ``TOP_LEVEL``).
- The reports never import ``energy_nb.ui``: figures and theme come from ``energy_nb.viz``.
- No face (cli, ui, live, reports, appserver) imports another face, with no exception. Only the
  composition roots (``launch``, which wires settings to the faces and starts them, and ``app``,
  the dashboards' launcher) may import faces; nothing else does: not ``stream`` (the socket's
  protocol and client, below the faces), ``service``, ``viz`` or ``deploy``.
- Only the command line imports ``launch``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "energy_nb"
FACES = ("cli", "ui", "live", "reports", "appserver")
CORE = ("data", "models", "evaluation", "backtest", "commodities", "calendars", "config")
#: Code that wires settings to the faces and starts them: the only modules that may import faces.
COMPOSITION = ("launch", "app")
ABOVE_CORE = (*FACES, *COMPOSITION, "service", "viz", "stream")
#: The only modules at the package's top level: the catalogue, calendars, settings, the launcher.
#: Application code (forecast service, registry, diagnostics, analytics) lives in ``service/``.
TOP_LEVEL = ("__init__", "app", "calendars", "commodities", "config")

def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every energy_nb module a file imports, at any depth (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "energy_nb" or name.startswith("energy_nb.")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_scan_sees_the_package() -> None:
    assert "energy_nb.reports.content" in MODULES and "energy_nb.viz.charts" in MODULES
    assert "energy_nb.viz.charts" in MODULES["energy_nb.reports.content"]


def test_no_loose_modules_at_the_top_level() -> None:
    loose = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem not in TOP_LEVEL)
    assert loose == [], f"move these into their layer (service/, data/, ...): {loose}"


def test_reports_never_import_ui() -> None:
    bad = {module: sorted(name for name in names if layer_of(name) == "ui")
           for module, names in MODULES.items() if layer_of(module) == "reports"}
    assert {module: names for module, names in bad.items() if names} == {}


def cross_face_imports(modules: dict[str, set[str]]) -> list[str]:
    """Every import of a face by a module of another face."""
    return sorted(f"{module} imports {name}" for module, names in modules.items()
                  if layer_of(module) in FACES for name in names
                  if layer_of(name) in FACES and layer_of(name) != layer_of(module))


def face_imports_outside_faces(modules: dict[str, set[str]]) -> list[str]:
    """Every import of a face by a module that is neither a face nor a composition root."""
    return sorted(f"{module} imports {name}" for module, names in modules.items()
                  if layer_of(module) not in (*FACES, *COMPOSITION) for name in names
                  if layer_of(name) in FACES)


def test_no_face_imports_another_face() -> None:
    assert cross_face_imports(MODULES) == []


def test_the_rule_catches_a_cross_face_import() -> None:
    for module, name in [("energy_nb.ui.live", "energy_nb.live.client"),
                         ("energy_nb.cli.serve", "energy_nb.live.server"),
                         ("energy_nb.cli.report", "energy_nb.reports.run")]:
        modules = {**MODULES, module: MODULES[module] | {name}}
        assert cross_face_imports(modules) == [f"{module} imports {name}"]


def test_only_composition_roots_import_faces() -> None:
    assert face_imports_outside_faces(MODULES) == []
    assert any(layer_of(name) == "live" for name in MODULES["energy_nb.launch.live"])


def test_the_stream_package_imports_no_face() -> None:
    assert "energy_nb.stream.protocol" in MODULES and "energy_nb.stream.client" in MODULES
    bad = sorted(f"{module} imports {name}" for module, names in MODULES.items()
                 if layer_of(module) == "stream" for name in names
                 if layer_of(name) in (*FACES, *COMPOSITION))
    assert bad == []
    modules = {**MODULES, "energy_nb.stream.client": MODULES["energy_nb.stream.client"]
               | {"energy_nb.ui.live"}}
    assert face_imports_outside_faces(modules) == [
        "energy_nb.stream.client imports energy_nb.ui.live"]


def test_only_the_command_line_imports_launch() -> None:
    users = sorted(module for module, names in MODULES.items()
                   if layer_of(module) != "launch" and any(layer_of(n) == "launch" for n in names))
    assert users and all(layer_of(module) == "cli" for module in users), users


@pytest.mark.parametrize("core", CORE)
def test_the_core_imports_nothing_above_it(core: str) -> None:
    bad = sorted(f"{module} imports {name}" for module, names in MODULES.items()
                 if layer_of(module) == core for name in names
                 if layer_of(name) in ABOVE_CORE)
    assert bad == []
