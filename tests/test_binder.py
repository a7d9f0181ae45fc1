"""binder/ agrees with pyproject.toml, and postBuild installs the package and loads the data."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"


def pyproject_dependencies() -> dict[str, Requirement]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = [Requirement(d) for d in data["project"]["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


def binder_requirements() -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for number, line in enumerate((BINDER / "requirements.txt").read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        assert not text.startswith("-"), f"requirements.txt:{number}: pip options not allowed"
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name not in out, f"requirements.txt:{number}: {req.name} listed twice"
        out[name] = req
    return out


def test_binder_requirements_match_pyproject_dependencies() -> None:
    project, binder = pyproject_dependencies(), binder_requirements()
    missing = sorted(set(project) - set(binder))
    extra = sorted(set(binder) - set(project))
    assert not missing, f"binder/requirements.txt lacks pyproject dependencies: {missing}"
    assert not extra, f"binder/requirements.txt has packages pyproject does not: {extra}"
    for name, req in binder.items():
        pins = [s for s in req.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(req.specifier) == 1, f"{req}: pin one exact version"
        version = pins[0].version
        assert project[name].specifier.contains(version, prereleases=True), (
            f"binder pins {req.name}=={version}, outside pyproject's {project[name]}")
        assert req.extras == project[name].extras, f"{req.name}: extras differ from pyproject"


def test_binder_python_matches_requires_python() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, f"runtime.txt must read python-X.Y, got {runtime!r}"
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(data["project"]["requires-python"]).contains(match.group(1) + ".0")


def test_postbuild_fails_fast_installs_the_package_and_loads_data() -> None:
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    lines = [ln.strip() for ln in post.read_text().splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    assert lines[0].startswith("#!") and "bash" in lines[0]
    assert body[0] == "set -e", "postBuild must start with set -e"
    assert any(re.match(r"python -m pip install .*-e \.$", ln) for ln in body)
    assert any(ln.startswith("energy-nb data init") for ln in body)
    syntax = subprocess.run(["bash", "-n", str(post)], capture_output=True, text=True,
                            check=False)
    assert syntax.returncode == 0, syntax.stderr


def test_launch_links_point_at_existing_notebooks() -> None:
    text = (REPO / "docs" / "binder.md").read_text(encoding="utf-8")
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", text)
    assert links, "docs/binder.md has no mybinder links"
    paths = set()
    for link in links:
        m = re.search(r"urlpath=(voila/render|lab/tree)/([^&)\s]+\.ipynb)", link)
        assert m, f"launch link without a notebook urlpath: {link}"
        paths.add(m.group(2))
        assert (REPO / m.group(2)).exists(), f"{link} opens a missing notebook {m.group(2)}"
    assert any("voila/render" in link for link in links) and any("lab/tree" in l for l in links)
    assert "notebooks/history.ipynb" in paths
