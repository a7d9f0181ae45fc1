"""The import rules between energy_nb's layers, read from the source with ``ast``.

- The core (data, models, evaluation, backtest and the top-level catalogue/config modules) imports
  no face, no application layer and no figure code.
- No application module sits loose at the package's top level (only ``TOP_LEVEL``).
- The reports never import ``energy_nb.ui``: figures and theme come from ``energy_nb.viz``.
- No face (cli, ui, live, reports, appserver) imports another face, except the few seams listed
  in ``SEAMS`` with their reason; a new cross-face import fails here until it is argued for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "energy_nb"
FACES = ("cli", "ui", "live", "reports", "appserver")
CORE = ("data", "models", "evaluation", "backtest", "commodities", "calendars", "config")
ABOVE_CORE = (*FACES, "service", "viz", "app")
#: The only modules at the package's top level: the catalogue, calendars, settings, the launcher.
#: Application code (forecast service, registry, diagnostics, analytics) lives in ``service/``.
TOP_LEVEL = ("__init__", "app", "calendars", "commodities", "config")

#: (importing module prefix, imported module prefix) -> why this cross-face import is allowed.
SEAMS: dict[tuple[str, str], str] = {
    ("energy_nb.cli.serve", "energy_nb.live"): "`energy-nb serve` starts the live server",
    ("energy_nb.cli.report", "energy_nb.reports"): "`energy-nb report` runs the report",
    ("energy_nb.cli.schedule", "energy_nb.reports.schedule"): "`energy-nb schedule` runs jobs",
}


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


def test_no_face_imports_another_face() -> None:
    bad = []
    for module, names in MODULES.items():
        face = layer_of(module)
        if face not in FACES:
            continue
        for name in sorted(names):
            other = layer_of(name)
            if other in FACES and other != face and not any(
                    module.startswith(src) and name.startswith(dst) for src, dst in SEAMS):
                bad.append(f"{module} imports {name}")
    assert bad == []


def test_every_seam_is_still_used() -> None:
    for src, dst in SEAMS:
        assert any(module.startswith(src) and any(n.startswith(dst) for n in names)
                   for module, names in MODULES.items()), f"unused seam {src} -> {dst}"


@pytest.mark.parametrize("core", CORE)
def test_the_core_imports_nothing_above_it(core: str) -> None:
    bad = sorted(f"{module} imports {name}" for module, names in MODULES.items()
                 if layer_of(module) == core for name in names
                 if layer_of(name) in ABOVE_CORE)
    assert bad == []
