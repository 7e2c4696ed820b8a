"""Checks of the book as a whole: table of contents, notebooks, citations,
pins, CI wiring. Fast; no notebook is executed here (nbval does that)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
COLAB_MARKER = '"google.colab" in sys.modules'


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_there_are_chapters():
    assert CHAPTERS, "chapters/ holds no notebooks"


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    listed = toc_files()
    for entry in listed:
        matches = [p for p in ROOT.glob(entry + ".*") if p.suffix in {".md", ".ipynb"}]
        assert matches, f"_toc.yml lists {entry!r}, which has no .md or .ipynb file"
    for path in CHAPTERS:
        assert str(path.relative_to(ROOT).with_suffix("")) in listed, f"{path.name} not in _toc.yml"


def test_chapter_file_names_are_numbered_in_order():
    numbers = [int(re.match(r"(\d\d)_", p.name).group(1)) for p in CHAPTERS]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_was_executed_top_to_bottom_without_errors(path):
    nb = load(path)
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "re-run the notebook in a fresh kernel"
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i} stores an error"
            if out["output_type"] == "stream":
                assert out["name"] != "stderr", f"cell {i} writes to stderr (a warning?)"
            assert not re.search(r"0x[0-9a-f]{8,}", json.dumps(out)), f"cell {i}: memory address"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_follows_the_chapter_template(path):
    nb = load(path)
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert COLAB_MARKER in "".join(first_code["source"]), "first code cell: the Colab install"
    assert "remove-cell" in first_code["metadata"].get("tags", [])
    text = markdown(nb)
    assert re.search(r"^# ", text, re.M), "a chapter title (one '# ' heading)"
    assert len(re.findall(r"^# ", text, re.M)) == 1, "exactly one top-level heading"
    assert "In this chapter you will" in text, "learning objectives"
    for heading in ("## Summary", "## Exercises", "## References"):
        assert heading in text, f"missing section {heading!r}"
    exercises = re.findall(r"\{exercise\}", text)
    solutions = re.findall(r"\{solution-start\}", text)
    assert len(exercises) >= 3, "at least three exercises"
    assert len(solutions) == len(exercises), "every exercise has a (hidden) solution"
    assert len(re.findall(r"\{solution-end\}", text)) == len(solutions)
    assert text.count(":class: dropdown") >= len(solutions), "solutions are hidden (dropdown)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    for i, cell in enumerate(load(path)["cells"]):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if images:
            meta = cell["metadata"].get("mystnb", {})
            alt = meta.get("image", {}).get("alt") or meta.get("figure", {}).get("caption")
            assert alt and len(alt) > 20, f"cell {i} makes a figure without alt text"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_glued_names_used_in_prose_are_glued(path):
    nb = load(path)
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    glued = set(re.findall(r"glue\(\s*[\"'](\w+)[\"']", code))
    used = set(re.findall(r"\{glue(?::\w+)?\}`(\w+)", markdown(nb)))
    assert used <= glued, f"used in prose but never glued: {sorted(used - glued)}"


def test_every_citation_is_in_references_bib():
    bib = (ROOT / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    sources = [markdown(load(p)) for p in CHAPTERS]
    sources += [p.read_text() for p in ROOT.glob("*.md")]
    cited = set()
    for text in sources:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            cited |= {k.strip() for k in group.split(",")}
    assert cited, "no chapter cites anything"
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_requirements_are_exact_pins_with_cpu_torch_and_jupyter_book_1():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    pins = dict(line.split("==") for line in lines if line)
    assert all(version for version in pins.values())
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"].startswith("1.0.")
    assert "torchvision" not in pins


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_config_executes_strictly():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["allow_errors"] is False
    assert config["only_build_toc_files"] is True
    assert config["sphinx"]["recursive_update"] is True
    assert ".venv" in config["exclude_patterns"]


def test_workflows_pass_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = subprocess.run([actionlint, *map(str, workflows)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_actions_are_pinned_to_commits():
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for ref in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.search(r"@[0-9a-f]{40}$", ref), f"{path.name}: {ref} is not pinned to a SHA"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_colab_cell_installs_helpers_from_this_books_repository(path):
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first_code = next(c for c in load(path)["cells"] if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert f"git+{url}" in source, "the Colab cell must install from _config.yml's repository"
    assert "--no-deps" in source, "Colab already has torch; never reinstall it there"
