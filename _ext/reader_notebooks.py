"""Reader notebooks: the chapters as plain Jupyter notebooks (``make notebooks``).

The chapters (``chapters/*.ipynb``) are written for the book: MyST roles and
directives, glued numbers, gated exercise solutions. JupyterLab, Colab and
Binder show that markup raw. This script writes what a reader opens there:

- ``notebooks/NN_name.ipynb``: every ``{glue:text}`` filled in with the value
  glued in the chapter's committed outputs (nothing is re-executed), citations
  as "Howard et al. (2017)" linked to the bibliography, cross-references as
  links to the online book, exercises as numbered headings, solutions collapsed
  in ``<details>``, admonitions as quoted boxes; the chapter's outputs are kept,
  so a reader on GitHub or Colab sees the results before running anything;
- ``notebooks/student/NN_name.ipynb``: the same without solutions and without
  outputs, a worksheet for a course.

Cells tagged ``remove-cell`` and glue calls with ``display=False`` are left
out. The first cell installs ``helpers`` on Colab (and does nothing elsewhere)
from the revision ``--ref`` names: ``main``, or a release's own tag. The
chapters' own first cell is kept the same (``--check`` changes nothing and
fails when a file would change).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import copy
import functools
import posixpath
import re
import sys
from pathlib import Path

import latexcodec  # noqa: F401 (registers the latex codec; pybtex's dependency)
import nbformat
import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin
from myst_nb.core.variables import format_plain_text
from myst_nb.ext.glue import extract_glue_data_cell
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
BASE_URL = CONFIG["html"]["baseurl"].rstrip("/") + "/"
REPOSITORY = CONFIG["repository"]["url"]
ADMONITIONS = ("admonition", "note", "tip", "hint", "important", "warning", "caution",
               "attention", "danger", "error", "seealso")

SETUP = '''\
# On Google Colab only: install the book's helpers package from the same
# revision of the repository as this notebook (Colab has its other needs).
import sys

if "google.colab" in sys.modules:
    import subprocess

    url = "git+{repository}"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, f"{{url}}@{ref}"], check=True)'''


@functools.cache
def parser() -> MarkdownIt:
    """CommonMark with MyST's roles, colon fences, targets and dollar math."""
    return (MarkdownIt("commonmark").use(dollarmath_plugin).use(colon_fence_plugin)
            .use(myst_role_plugin).use(myst_block_plugin).enable("table"))


def myst_syntax(text: str) -> list[str]:
    """Every MyST role, directive, target or comment the parser finds in ``text``."""
    found = []
    for token in parser().parse(text):
        if token.type in ("colon_fence", "fence") and token.info.startswith("{"):
            found.append(f"directive {token.info.split()[0]}")
        elif token.type.startswith("myst_") or token.type == "math_block_label":
            found.append(token.type)
        for child in token.children or []:
            if child.type == "myst_role":
                found.append(f"role {{{child.meta['name']}}}")
    return found


def setup_source(ref: str) -> str:
    return SETUP.format(repository=REPOSITORY, ref=ref)


class Book:
    """What the conversion needs from the whole book: labels, titles, references."""

    def __init__(self, chapters: list[Path]):
        self.chapters = chapters
        self.labels: dict[str, tuple[str, str]] = {}  # label -> (docname, link text)
        self.titles: dict[str, str] = {}
        for path in chapters:
            doc = f"chapters/{path.stem}"
            number, count = int(path.name[:2]), 0
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type != "markdown":
                    continue
                heading = re.search(r"^# (.+)$", cell.source, re.M)
                if heading and doc not in self.titles:
                    self.titles[doc] = heading.group(1).strip()
                for token in parser().parse(cell.source):
                    if token.type == "colon_fence" and token.info.startswith("{exercise}"):
                        count += 1
                        label = _options(token.content)[0].get("label")
                        if label:
                            self.labels[label] = (doc, f"Exercise {number}.{count}")
        for page in ROOT.glob("*.md"):
            heading = re.search(r"^# (.+)$", page.read_text(encoding="utf-8"), re.M)
            if heading:
                self.titles[page.stem] = heading.group(1).strip()
        self.bib = parse_file(str(ROOT / "references.bib")).entries

    @functools.cache  # noqa: B019 (one Book per run)
    def cite(self, key: str) -> tuple[str, str]:
        """(authors, year) as the book's author-year citations show them."""
        entry = self.bib[key]
        people = entry.persons.get("author") or entry.persons.get("editor")
        names = [re.sub("[{}]", "", codecs.decode(" ".join(p.prelast_names + p.last_names),
                                                  "ulatex")) for p in people]
        authors = (names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2
                   else f"{names[0]} et al.")
        return authors, entry.fields["year"]


def _options(body: str) -> tuple[dict[str, str], str]:
    """A directive's ``:key: value`` options and the rest of its body."""
    options, lines = {}, body.split("\n")
    while lines and (match := re.fullmatch(r":([\w-]+):\s*(.*)", lines[0].strip())):
        options[match.group(1)] = match.group(2)
        lines.pop(0)
    return options, "\n".join(lines).strip("\n")


class Chapter:
    """One chapter's conversion: its glue values, exercise numbers and solutions."""

    def __init__(self, book: Book, path: Path, student: bool):
        self.book, self.path, self.student = book, path, student
        self.doc = f"chapters/{path.stem}"
        self.number, self.exercises = int(path.name[:2]), 0
        self.nb = nbformat.read(path, as_version=4)
        self.glue: dict[str, dict] = {}
        for cell in self.nb.cells:
            if cell.cell_type == "code":
                for key, output in extract_glue_data_cell(copy.deepcopy(cell)):
                    self.glue[key] = output["data"]
        self.solution: list[str] | None = None  # an open gated solution's parts
        # Does a shown glue call stay (then its import stays too)?
        self.keeps_glue = any(
            re.search(r"\bglue\(", _without_hidden_glue(c.source)) for c in self.nb.cells
            if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", []))

    # -- Markdown --------------------------------------------------------------------------

    def markdown(self, text: str, top: bool = False) -> str:
        """``text`` without MyST: directives converted, roles replaced. At the ``top``
        level of a cell, what lies inside a gated solution goes to the solution."""
        lines, parts, start = text.split("\n"), [], 0

        def emit(part: str) -> None:
            (self.solution if top and self.solution is not None else parts).append(part)

        for token in parser().parse(text):
            directive = token.type in ("colon_fence", "fence") and token.info.startswith("{")
            other = token.type.startswith("myst_") or token.type == "math_block_label"
            if token.level or not token.map or not (directive or other):
                continue
            emit(self.inline("\n".join(lines[start:token.map[0]])))
            if directive:
                emit(self.directive(token.info, token.content))
            elif token.type == "math_block_label":
                emit(f"$$\n{token.content.strip()}\n$$")
            start = token.map[1]
        emit(self.inline("\n".join(lines[start:])))
        return _join(parts)

    def inline(self, text: str) -> str:
        """Replace every role the parser finds, in order, by plain Markdown."""
        pos = 0
        for token in parser().parse(text):
            for role in (c for c in token.children or [] if c.type == "myst_role"):
                pattern = re.compile(r"\{" + re.escape(role.meta["name"]) + r"\}(`+)"
                                     + re.escape(role.content).replace(r"\ ", r"\s+") + r"\1")
                match = pattern.search(text, pos)
                if match is None:
                    raise ValueError(f"{self.path.name}: cannot place {role.content!r} in {text!r}")
                new = self.role(role.meta["name"], role.content)
                text = text[:match.start()] + new + text[match.end():]
                pos = match.start() + len(new)
        return text

    def role(self, name: str, content: str) -> str:
        if name in ("glue", "glue:", "glue:text", "glue:md"):
            key, spec = content, ""
            if name == "glue:text" and ":" in content:
                key, spec = content.rsplit(":", 1)
            if key not in self.glue:
                raise KeyError(f"{self.path.name}: no glued value {key!r}")
            data = self.glue[key]
            if name == "glue:md" and "text/markdown" in data:
                return data["text/markdown"]
            # {glue:text} formats the value as myst-nb does; {glue} shows it as is.
            text = (format_plain_text(data["text/plain"], spec) if name == "glue:text"
                    else data["text/plain"])
            return re.sub(r"([\\`*_$<\[\]])", r"\\\1", text)
        if name in ("cite", "cite:p", "cite:t"):
            cited = [(self.book.cite(k.strip()), BASE_URL + "bibliography.html")
                     for k in content.split(",")]
            if name == "cite:t":
                return ", ".join(f"[{a} ({y})]({url})" for (a, y), url in cited)
            return "(" + "; ".join(f"[{a}, {y}]({url})" for (a, y), url in cited) + ")"
        if name in ("ref", "numref", "doc", "eq"):
            match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content, re.S)
            text, target = match.groups() if match else ("", content)
            if name == "doc":
                doc = posixpath.normpath(posixpath.join(posixpath.dirname(self.doc), target))
                return f"[{text or self.book.titles[doc]}]({BASE_URL}{doc}.html)"
            if name == "eq":
                return f"[{text or 'this equation'}]({BASE_URL}{self.doc}.html#equation-{target})"
            doc, label_text = self.book.labels[target]
            return f"[{text or label_text}]({BASE_URL}{doc}.html#{target})"
        if name == "code":
            return f"`{content}`"
        if name == "math":
            return f"${content}$"
        raise ValueError(f"{self.path.name}: no reader form for the role {{{name}}}")

    def directive(self, info: str, body: str) -> str:
        name, _, argument = info.partition("}")
        name, argument = name.lstrip("{"), argument.strip()
        options, body = _options(body)
        if name == "exercise":
            self.exercises += 1
            title = f"Exercise {self.number}.{self.exercises}"
            title += f": {argument}" if argument else ""
            return f"### {title}\n\n{self.markdown(body)}"
        if name in ("solution", "solution-start"):
            self.solution = [f"<details>\n<summary>{self._solution_title(argument)}</summary>"]
            if name == "solution":
                self.solution.append(self.markdown(body))
                return self.close_solution()
            return ""
        if name == "solution-end":
            return self.close_solution()
        if name in ADMONITIONS:
            title = argument or name.capitalize()
            quoted = "\n".join(f"> {line}".rstrip() for line in self.markdown(body).split("\n"))
            return f"> **{title}**\n>\n{quoted}"
        if name in ("figure", "image"):
            caption = f"\n\n*{self.markdown(body)}*" if name == "figure" and body else ""
            if not re.match(r"[a-z]+:|/", argument):  # relative to the chapter
                folder = "notebooks/student" if self.student else "notebooks"
                argument = posixpath.relpath(posixpath.join("chapters", argument), folder)
            return f"![{options.get('alt', '')}]({argument}){caption}"
        if name == "math":
            return f"$$\n{body}\n$$"
        raise ValueError(f"{self.path.name}: no reader form for the directive {{{name}}}")

    def _solution_title(self, label: str) -> str:
        exercise = self.book.labels.get(label.strip(), (None, ""))[1]
        return f"Solution to {exercise}" if exercise else "Solution"

    def close_solution(self) -> str:
        parts, self.solution = self.solution, None
        if self.student:
            return ""
        return _join([*parts, "</details>"])

    # -- code ------------------------------------------------------------------------------

    def code(self, cell) -> list:
        """The cell as the reader gets it (none, or one cell)."""
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags:
            return []
        source = _without_hidden_glue(cell.source, self.keeps_glue)
        if not source.strip():
            return []
        if self.solution is not None:
            self.solution.append(f"```python\n{source}\n```")
            shown = [o.get("text") or o.get("data", {}).get("text/plain", "")
                     for o in cell.outputs]
            if "".join(shown).strip():
                self.solution.append(f"```text\n{''.join(shown).rstrip()}\n```")
            return []
        new = nbformat.v4.new_code_cell(source, id=cell.id)
        new.metadata = copy.deepcopy(cell.metadata)
        if {"hide-input", "remove-input"} & set(tags):
            new.metadata["jupyter"] = {"source_hidden": True}
        if not self.student and "remove-output" not in tags:
            new.execution_count = cell.execution_count
            new.outputs = [o for o in copy.deepcopy(cell.outputs)
                           if "scrapbook" not in o.get("metadata", {})]
        return [new]

    def convert(self, ref: str) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(self.nb.metadata))
        nb.metadata["book"] = {"source": f"{self.doc}.ipynb", "helpers_ref": ref,
                               "edition": "student" if self.student else "reader"}
        nb.cells.append(nbformat.v4.new_code_cell(setup_source(ref), id="reader-setup"))
        if "google.colab" not in self.nb.cells[0].source:
            raise ValueError(f"{self.path.name}: the first cell is not the Colab set-up cell")
        for cell in self.nb.cells[1:]:
            if cell.cell_type == "code":
                nb.cells.extend(self.code(cell))
                continue
            text = self.markdown(cell.source, top=True)
            if text.strip():
                nb.cells.append(nbformat.v4.new_markdown_cell(text, id=cell.id))
        if self.solution is not None:
            raise ValueError(f"{self.path.name}: a solution-start without solution-end")
        first = next(c for c in nb.cells if c.cell_type == "markdown")
        first.source = re.sub(r"^(# .*)$", lambda m: f"{m.group(1)}\n\n{self._note()}",
                              first.source, count=1, flags=re.M)
        return nb

    def _note(self) -> str:
        edition = " Student edition: the exercises without their solutions." * self.student
        return (f"*A chapter of [{CONFIG['title']}]({BASE_URL}): "
                f"[read it online]({BASE_URL}{self.doc}.html).{edition}*")


def _join(parts: list[str]) -> str:
    text = "\n\n".join(p.strip("\n") for p in parts if p.strip())
    return re.sub(r"\n{3,}", "\n\n", text)


def _without_hidden_glue(source: str, keep_import: bool = True) -> str:
    """``source`` without its top-level ``glue(..., display=False)`` statements (and
    without the import of ``glue``, unless ``keep_import``)."""
    tree, drop = ast.parse(source), set()
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "glue" and any(
                k.arg == "display" and getattr(k.value, "value", True) is False
                for k in call.keywords)):
            drop |= set(range(stmt.lineno, stmt.end_lineno + 1))
    lines = [line for n, line in enumerate(source.split("\n"), 1) if n not in drop]
    source = "\n".join(lines)
    if not keep_import:
        source = re.sub(r"^from helpers\.book\.glue import glue\n", "", source, flags=re.M)
    return re.sub(r"\n{4,}", "\n\n\n", source).strip("\n") if drop else source


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def generate(ref: str) -> dict[Path, str]:
    """Every file the converter writes (reader and student notebooks, and the
    chapters whose first cell changes), with its text."""
    book, files = Book(chapters()), {}
    for path in book.chapters:
        for student, folder in ((False, OUT), (True, OUT / "student")):
            nb = Chapter(book, path, student).convert(ref)
            nbformat.validate(nb)
            files[folder / path.name] = nbformat.writes(nb) + "\n"
        chapter = nbformat.read(path, as_version=4)
        chapter.cells[0].source = setup_source(ref)
        files[path] = nbformat.writes(chapter) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--ref", default="main",
                      help="the git revision Colab installs helpers from (main, or vX.Y.Z)")
    args.add_argument("--check", action="store_true", help="write nothing; fail if stale")
    opts = args.parse_args(argv)
    stale = []
    for path, text in generate(opts.ref).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT))
            if not opts.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if opts.check else 'wrote'} {path}")
    return 1 if opts.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
