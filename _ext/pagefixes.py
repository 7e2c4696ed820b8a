"""Fixes to the pages the toolchain writes: offline, no console error, and
reference labels that match the citations.

- Sphinx 7.4 writes every inline script an extension adds after the builder
  started (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
  selector) twice into each page: once registered with no file name (``None``)
  and once, re-added from the registry before writing, with an empty one
  (``''``), so its duplicate check misses them. The second ``const`` throws in
  the browser. Each page keeps one copy.
- Matplotlib's JavaScript animations (``Animation.to_jshtml``) link Font
  Awesome 4 from a CDN for their button icons: the book must read offline, so
  the link is dropped and ``_static/book.css`` draws the icons as text.
- The landing page's title is the book's name; its <title> says it once.
- The bibliography's labels: the chapters cite author-year ("Howard et al.,
  2017"), so the reference list is labelled the same way (``bibtex_default_style:
  authoryear`` in ``_config.yml``), sorted by author, then year.
"""

from __future__ import annotations

import re

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

FONT_AWESOME_CDN = re.compile(
    r"<link\b[^>]*href=\"https?://[^\"]*font-awesome[^\"]*\"[^>]*>\s*", re.IGNORECASE)


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", script) or "", getattr(script, "priority", 0),
            tuple(sorted(attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script of a page (see the module's docstring)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def landing_page_title(app, pagename, templatename, context, doctree) -> None:
    """The landing page's <title> is the book's name once, not "name — name"
    (the template appends the site's title to every page's own)."""
    if pagename == app.config.root_doc:
        context["docstitle"] = ""


def drop_cdn_font_awesome(app, doctree, docname) -> None:
    """Remove the Font Awesome CDN link from rendered notebook outputs."""
    for node in doctree.findall(nodes.raw):
        if "html" in node.get("format", "") and FONT_AWESOME_CDN.search(node.astext()):
            text = FONT_AWESOME_CDN.sub("", node.astext())
            node.children = [nodes.Text(text)]
            node.rawsource = text


class AuthorYearLabels(BaseLabelStyle):
    """"He et al., 2016", "Howard and Ruder, 2018", "Chollet, 2017"; a, b, ...
    after the year when two entries would share a label."""

    def _label(self, entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(person.last_names) for person in people]
        names = [re.sub(r"[{}]", "", name) for name in names]
        if not names:
            who = entry.fields.get("organization") or entry.fields.get("title", "Anon.")
            who = re.sub(r"[{}]", "", str(who)).split(":")[0]
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] == 1:
                yield label
            else:
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries, sorted by author and year, labelled author-year."""

    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    app.connect("html-page-context", dedupe_scripts)
    app.connect("html-page-context", landing_page_title)
    app.connect("doctree-resolved", drop_cdn_font_awesome)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
