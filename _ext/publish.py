"""The book's own build fixes for publishing: the handout and the PDF's page.

The student handout (``make handout``): every exercise solution removed.

sphinx-exercise's own ``hide_solutions`` option drops a ``{solution}``
directive, but with the gated form the chapters use (``{solution-start}`` ...
``{solution-end}``, the solution's code cells in between) it drops only the
opening marker: the solution's text and code cells would stay on the page, and
the lone closing marker stops the build (no HTML writer for it).
With ``hide_solutions = True`` this extension lets sphinx-exercise gather each
gated solution into one node as usual, then removes those nodes whole.
Without the option it changes nothing.

The PDF (``make pdf``) prints a ``singlehtml`` build. Sphinx gives the
``singlehtml`` builder its own node handlers as soon as any extension registers
one for it, and then no longer falls back to the ``html`` ones: the nodes of
myst-nb (hidden code cells) and sphinx-jupyterbook-latex (a hidden node next to
every toctree) then stop the build. The ``html`` handlers are copied over.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node


class _GatheredSolutionStart(SolutionStartDirective):
    """``solution-start`` that keeps its node under ``hide_solutions``, so that
    sphinx-exercise's merge can collect the cells up to ``solution-end``."""

    def run(self) -> list[nodes.Node]:
        config = self.env.app.config
        hide = config.hide_solutions
        config.hide_solutions = False
        try:
            return super().run()
        finally:
            config.hide_solutions = hide


class RemoveSolutions(SphinxTransform):
    """After sphinx-exercise has merged gated solutions, remove every solution."""

    default_priority = 11  # sphinx-exercise's MergeGatedSolutions is 10

    def apply(self) -> None:
        if not self.config.hide_solutions:
            return
        kinds = (solution_node, solution_start_node, solution_end_node)
        for node in list(self.document.findall(lambda n: isinstance(n, kinds))):
            node.parent.remove(node)


def _html_handlers_for_singlehtml(app) -> None:
    """Give ``singlehtml`` every ``html`` node handler it lacks."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for name, visit_depart in handlers.get("html", {}).items():
        single.setdefault(name, visit_depart)


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.connect("builder-inited", _html_handlers_for_singlehtml)
    app.add_directive("solution-start", _GatheredSolutionStart, override=True)
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
