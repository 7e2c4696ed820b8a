"""The launch buttons of a chapter's page open its reader notebook.

sphinx-book-theme builds the Colab and Binder links of a page from the page's
own source, ``chapters/NN_name.ipynb``: MyST markup that Colab and JupyterLab
show raw. This extension points them at ``notebooks/NN_name.ipynb``, the plain
notebook ``make notebooks`` generates from it (``_ext/reader_notebooks.py``).
It runs after the theme has made its buttons (same event, later priority).
"""

from __future__ import annotations

from pathlib import Path


def reader_notebook(pagename: str) -> str | None:
    """``notebooks/NN_name.ipynb`` for the page ``chapters/NN_name``, else None."""
    folder, _, name = pagename.partition("/")
    return f"notebooks/{name}.ipynb" if folder == "chapters" and name else None


def _point_launch_buttons_at_reader_notebooks(app, pagename, templatename, context, doctree):
    reader = reader_notebook(pagename)
    if reader is None or not (Path(app.srcdir) / reader).is_file():
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if "url" in button:
                    button["url"] = button["url"].replace(f"{pagename}.ipynb", reader)


def setup(app):
    app.connect("html-page-context", _point_launch_buttons_at_reader_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
