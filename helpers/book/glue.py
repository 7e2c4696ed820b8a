"""``glue``: hand a value computed in a notebook to the book's prose.

The book (Jupyter Book, built with myst-nb) reads glued values into the text
with ``{glue:text}`name```. Where myst-nb is installed this is exactly
``myst_nb.glue``, so the book and its committed outputs are unchanged. Where it
is not (Google Colab, Binder), ``glue`` shows the value like the last line of a
cell would, or nothing when ``display=False``: the notebook runs the same and
the reader sees the same numbers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue", "HAVE_MYST_NB"]

try:
    from myst_nb import glue as _myst_nb_glue
except ImportError:  # Colab, Binder: no myst-nb, and no need for it
    _myst_nb_glue = None

#: Whether myst-nb is installed (then ``glue`` is myst-nb's own).
HAVE_MYST_NB: bool = _myst_nb_glue is not None


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Record ``variable`` under ``name`` for the book's text, and show it.

    ``name`` is the key the prose uses (``{glue:text}`name```); ``display``
    says whether the notebook shows the value as well.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"name must be a Python identifier (letters, digits, _), got {name!r}")
    if not isinstance(display, bool):
        raise TypeError(f"display must be a bool, got {type(display).__name__}")
    if _myst_nb_glue is not None:
        _myst_nb_glue(name, variable, display)
    elif display:
        from IPython.display import display as show

        show(variable)
