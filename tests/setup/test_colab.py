"""Every chapter runs on Google Colab's stock environment after its first cell.

Colab has no myst-nb and no ``helpers``. The first cell of every chapter
installs ``helpers`` (from the revision ``make notebooks`` wrote into it, the
same as the reader notebooks', without dependencies); everything else
a notebook or ``helpers`` imports must already be on Colab. Colab's package
list is written down in ``tests/colab_packages.txt`` (with its source).
"""

import ast
import importlib
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import helpers.book.glue

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def colab_packages() -> dict[str, str | None]:
    packages = {}
    for line in (ROOT / "tests" / "colab_packages.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            packages[canonicalize_name(name)] = version or None
    return packages


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def code_of(cell: dict) -> str:
    # IPython magics and shell escapes are not Python; the chapters use none today.
    lines = "".join(cell["source"]).splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
               for n in names)


def required_imports(source: str) -> set[str]:
    """Top-level modules that ``source`` imports, except optional ones (inside a
    ``try`` that catches ImportError) and relative imports."""
    tree = ast.parse(source)
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    modules = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in
            ("__future__", "helpers")}


def notebook_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in CHAPTERS:
        for cell in cells(path)[1:]:  # the first cell is the Colab installer
            if cell["cell_type"] == "code":
                for module in third_party(required_imports(code_of(cell))):
                    found.setdefault(module, set()).add(path.name)
    return found


def helpers_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        for module in third_party(required_imports(path.read_text(encoding="utf-8"))):
            found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


def distribution_of(module: str) -> str:
    dists = packages_distributions().get(module)
    assert dists, f"{module} is imported but not installed here: which package provides it?"
    return canonicalize_name(dists[0])


def helpers_ref() -> str:
    """The revision the notebooks install helpers from (make notebooks REF=...)."""
    reader = json.loads((ROOT / "notebooks" / CHAPTERS[0].name).read_text(encoding="utf-8"))
    return reader["metadata"]["book"]["helpers_ref"]


def helpers_release() -> str:
    return f"git+{REPOSITORY}@{helpers_ref()}"


# -- the first cell ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_installs_helpers_of_the_notebooks_revision_on_colab_only(path, run_setup_cell):
    first = cells(path)[0]
    assert first["cell_type"] == "code" and "remove-cell" in first["metadata"].get("tags", [])
    assert first["outputs"] == [], "the first cell is a no-op outside Colab: no output"
    assert run_setup_cell(code_of(cells(path)[0]), on_colab=False) == []
    commands = run_setup_cell(code_of(cells(path)[0]), on_colab=True)
    # main, or a release's own tag (make notebooks REF=vX.Y.Z): never a tag
    # that may not exist (tests/setup/test_reader_notebooks.py).
    assert helpers_ref() in ("main", f"v{PYPROJECT['project']['version']}")
    assert commands == [
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", helpers_release()]
    ], "the Colab cell installs helpers of the notebooks' revision and keeps Colab's packages"


def test_first_cells_are_identical():
    first = {"".join(cells(path)[0]["source"]) for path in CHAPTERS}
    assert len(first) == 1, "every chapter's Colab cell should be the same"


# -- what the notebooks and helpers import ----------------------------------------------------


def test_import_scanner_sees_required_and_skips_optional_imports():
    source = (
        "import numpy as np\nfrom torch import nn\nimport os.path\nfrom . import x\n"
        "def f():\n    import sklearn.datasets\n"
        "try:\n    from myst_nb import glue\nexcept ImportError:\n    glue = None\n"
        "try:\n    import yaml\nexcept ValueError:\n    pass\n"
    )
    assert required_imports(source) == {"numpy", "torch", "os", "sklearn", "yaml"}
    assert third_party(required_imports(source)) == {"numpy", "torch", "sklearn", "yaml"}


def test_the_scan_finds_what_the_chapters_obviously_import():
    assert {"torch", "numpy"} <= set(notebook_imports())
    assert {"torch", "numpy", "matplotlib", "PIL", "sklearn"} <= set(helpers_imports())


def test_every_module_the_notebooks_and_helpers_import_is_on_colab():
    colab = colab_packages()
    installed_by_first_cell = {canonicalize_name(PYPROJECT["project"]["name"])}
    missing = {}
    for module, users in {**notebook_imports(), **helpers_imports()}.items():
        dist = distribution_of(module)
        if dist not in colab and dist not in installed_by_first_cell:
            missing[module] = sorted(users)
    assert not missing, (
        f"not on Colab and not installed by the first cell: {missing}; "
        "install it in the Colab cell, or make the import optional")


def test_no_chapter_imports_myst_nb_directly():
    # Colab and Binder have no myst-nb: chapters take glue from helpers.book.glue.
    for path in CHAPTERS:
        for cell in cells(path):
            if cell["cell_type"] == "code":
                assert "myst_nb" not in required_imports(code_of(cell)), path.name


# -- helpers' declared dependencies -----------------------------------------------------------


def declared() -> dict[str, Requirement]:
    reqs = (Requirement(r) for r in PYPROJECT["project"]["dependencies"])
    return {canonicalize_name(r.name): r for r in reqs}


def requirement_pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            dist, version = line.split("==")
            pins[canonicalize_name(dist)] = version
    return pins


def test_helpers_declares_every_package_it_imports():
    for module, users in helpers_imports().items():
        assert distribution_of(module) in declared(), (
            f"{module} (imported by {sorted(users)}) is missing from pyproject's dependencies")


def test_helpers_dependencies_have_lower_bounds_only():
    for name, req in declared().items():
        operators = {spec.operator for spec in req.specifier}
        assert operators == {">="}, f"{name}: give a lower bound (exact pins: requirements.txt)"


@pytest.mark.parametrize("source", ["colab", "requirements.txt"])
def test_helpers_dependency_bounds_admit_colab_and_the_pins(source):
    versions = colab_packages() if source == "colab" else requirement_pins("requirements.txt")
    for name, req in declared().items():
        if source == "requirements.txt" and name not in versions:
            continue  # a dependency of a pinned package (threadpoolctl: scikit-learn's)
        assert versions.get(name), f"{source} has no {name}"
        assert req.specifier.contains(versions[name], prereleases=True), (
            f"{source} has {name} {versions[name]}, outside {req}")


# -- glue with and without myst-nb ------------------------------------------------------------


def test_glue_is_myst_nbs_when_myst_nb_is_installed(monkeypatch):
    ext = pytest.importorskip("myst_nb.ext.glue")
    shown = []
    monkeypatch.setattr(ext, "ipy_display", lambda *a, **kw: shown.append((a, kw)))
    helpers.book.glue.glue("answer", 42)
    helpers.book.glue.glue("hidden", 7, display=False)
    assert helpers.book.glue.HAVE_MYST_NB
    assert [kw["metadata"]["scrapbook"]["name"] for _, kw in shown] == ["answer", "hidden"]
    (answer, _), (hidden, _) = shown
    assert answer[0]["text/plain"] == "42"
    assert not any(key.startswith("text/") for key in hidden[0]), "display=False shows nothing"


@pytest.fixture
def glue_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb -> ImportError
    try:
        yield importlib.reload(helpers.book.glue)
    finally:
        monkeypatch.undo()
        importlib.reload(helpers.book.glue)


def test_glue_falls_back_to_showing_the_value_without_myst_nb(glue_without_myst_nb, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **kw: shown.append(a))
    assert not glue_without_myst_nb.HAVE_MYST_NB
    glue_without_myst_nb.glue("answer", 42)
    glue_without_myst_nb.glue("hidden", 7, display=False)
    assert shown == [(42,)]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((3, 1), TypeError, "name must be a str"),
        (("two words", 1), ValueError, "name must be a Python identifier"),
        (("ok", 1, "yes"), TypeError, "display must be a bool"),
    ],
)
def test_glue_rejects_bad_arguments(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        helpers.book.glue.glue(*args)
