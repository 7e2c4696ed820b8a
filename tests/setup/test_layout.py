"""The package's layout holds: three layers, small modules, no dead figure or checker.

- ``helpers.core`` (what the book teaches) imports neither ``helpers.lab`` nor
  ``helpers.book``; ``helpers.lab`` imports no ``helpers.book``.
- No module is over 400 lines (readable in one sitting).
- Every public figure and every checker is used by some chapter.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "helpers"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
MODULES = sorted(HELPERS.rglob("*.py"))
MAX_LINES = 400
#: The book's layers, and the ones each may import.
MAY_IMPORT = {"core": {"core"}, "lab": {"core", "lab"}, "book": {"core", "lab", "book"}}
#: Figure modules that serve other figures or the site, not a chapter directly.
FIGURE_SUPPORT = {"style.py", "logo.py"}


def imported_modules(path: Path) -> set[str]:
    """Every ``helpers...`` module that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "helpers" or name.startswith("helpers.")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_layer_imports_only_the_layers_beneath_it(path):
    layer = path.relative_to(HELPERS).parts[0]
    if layer not in MAY_IMPORT:
        assert path.name == "__init__.py", f"{path}: a module outside core, lab and book"
        return
    for module in imported_modules(path):
        target = layer_of(module)
        assert target is not None, f"{path} imports {module}: import from a layer's module"
        assert target in MAY_IMPORT[layer], f"{path} ({layer}) imports {module} ({target})"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def chapter_text() -> str:
    return "\n".join(path.read_text() for path in CHAPTERS)


def public_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")]


FIGURE_MODULES = [p for p in sorted((HELPERS / "book" / "figures").glob("*.py"))
                  if not p.name.startswith("_") and p.name not in FIGURE_SUPPORT]
CHECK_MODULES = [p for p in sorted((HELPERS / "book" / "checks").glob("*.py"))
                 if not p.name.startswith("_")]


@pytest.mark.parametrize("path", FIGURE_MODULES, ids=lambda p: p.stem)
def test_every_public_figure_is_used_by_a_chapter(path):
    text = chapter_text()
    unused = [name for name in public_names(path) if name not in text]
    assert not unused, f"{path.name}: no chapter uses {unused} (make them private or remove them)"


@pytest.mark.parametrize("path", CHECK_MODULES, ids=lambda p: p.stem)
def test_every_checker_is_used_by_a_chapter(path):
    text = chapter_text()
    unused = [name for name in public_names(path)
              if name.startswith("check_") and name not in text]
    assert not unused, f"{path.name}: no chapter uses the checkers {unused}"


def test_the_layers_exist_and_the_core_is_readable_in_a_few_sittings():
    for layer in MAY_IMPORT:
        assert (HELPERS / layer / "__init__.py").exists()
    core = sum(len(p.read_text().splitlines()) for p in (HELPERS / "core").rglob("*.py"))
    assert core <= 3000, f"the teaching core has {core} lines"
