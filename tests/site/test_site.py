"""What the publishing builds produced: the site's sitemap, social cards,
favicon, footer and 404 page; the PDF's chapters, figures and math; the
handout without solutions. Static checks of files (no browser), run after
``make builds`` in the same step as the browser tests (marker ``browser``).

Environment variables: ``BOOK_HTML`` (default ``_build/html``), ``BOOK_PDF``
(default ``_build/pdf/book.pdf``), ``BOOK_HANDOUT`` (default
``_build/handout/html``), ``BOOK_TOC``; with ``CI=true`` a missing build fails
instead of skipping.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import tomllib
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from test_browser import (  # noqa: F401  (fixtures: the server and the browser)
    CHAPTERS,
    HTML_DIR,
    PAGES,
    ROOT,
    _unavailable,
    base_url,
    session,
    site,
)

pytestmark = pytest.mark.browser

PDF = Path(os.environ.get("BOOK_PDF") or ROOT / "_build" / "pdf" / "book.pdf").resolve()
SINGLEHTML = PDF.parent / "_build" / "singlehtml"
CHEATSHEET_MAX_PAGES = 2
HANDOUT = Path(os.environ.get("BOOK_HANDOUT") or ROOT / "_build" / "handout" / "html").resolve()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
BASEURL = CONFIG["html"]["baseurl"]
SPHINX = CONFIG["sphinx"]["config"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
RAW_TEX = re.compile(r"\\(frac|sum|begin|end|times|mathrm|text|left|right|cdot|sqrt)\b|\$\$")


def _need(path: Path, how: str) -> Path:
    if not path.exists():
        _unavailable(f"{path} is missing; run `{how}` first")
    return path


@functools.cache
def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _text(markup: str) -> str:
    """The visible text of an HTML page, whitespace collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def _meta(markup: str, key: str) -> str | None:
    for tag in re.findall(r"<meta\b[^>]*>", markup):
        if re.search(rf'(property|name)="{re.escape(key)}"', tag):
            found = re.search(r'content="([^"]*)"', tag)
            return html.unescape(found.group(1)) if found else ""
    return None


# -- the site ---------------------------------------------------------------------------------


def test_sitemap_lists_every_page_at_the_published_address():
    sitemap = _need(HTML_DIR / "sitemap.xml", "make build-check")
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = {loc.text for loc in ElementTree.parse(sitemap).findall(".//s:loc", namespace)}
    expected = {f"{BASEURL}{page}.html" for page in PAGES}
    assert expected <= urls, f"missing from sitemap.xml: {sorted(expected - urls)}"
    extra = {u for u in urls if re.search(r"/(search|genindex|404)\.html$", u)}
    assert not extra, f"sitemap.xml lists pages that are not content: {sorted(extra)}"
    robots = HTML_DIR / "robots.txt"
    if robots.exists():
        assert f"{BASEURL}sitemap.xml" in robots.read_text()


@pytest.mark.parametrize("doc", PAGES)
def test_page_has_social_card_tags(doc):
    markup = _html(_need(HTML_DIR / f"{doc}.html", "make build-check"))
    assert _meta(markup, "og:url") == f"{BASEURL}{doc}.html"
    assert _meta(markup, "og:image") == SPHINX["ogp_image"]
    assert _meta(markup, "og:image:alt")
    assert _meta(markup, "og:site_name") == CONFIG["title"]
    title = _meta(markup, "og:title")
    assert title and title in html.unescape(re.search(r"<title>(.*?)</title>", markup, re.S)[1])
    description = _meta(markup, "og:description")
    assert description and len(description) > 40, f"og:description: {description!r}"
    assert _meta(markup, "description"), "no <meta name=description> for search engines"


@pytest.mark.parametrize("doc", PAGES)
def test_page_has_favicon_logo_and_edition(doc):
    page = _need(HTML_DIR / f"{doc}.html", "make build-check")
    markup = _html(page)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', markup)
    assert icon, "no favicon link"
    favicon = (page.parent / icon[1]).resolve()
    assert favicon.is_file() and favicon.read_text().lstrip().startswith("<svg")
    logo = re.search(r'<img src="([^"]+)" class="logo__image', markup)
    assert logo and (page.parent / logo[1]).resolve().is_file(), "no logo in the sidebar"
    assert f"Edition {VERSION.split('.')[0]} (v{VERSION})" in _text(markup)


def test_social_card_image_is_built():
    image = _need(HTML_DIR, "make build-check") / "_static" / "logo.png"
    assert image.is_file() and image.read_bytes()[:4] == b"\x89PNG"


class _TitleCount(HTMLParser):
    """Counts the body's elements (headings, links, the sidebar's site title)
    whose whole text is ``title``; <em> (a citation) and hidden text aside."""

    def __init__(self, title: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.stack, self.count, self.in_body = title, [], 0, False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.in_body |= tag == "body"
        if tag not in ("img", "br", "meta", "link", "input", "hr"):
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        hidden = any(t in ("em", "script", "style", "title")
                     or {"sr-only", "onlyprint"} & set(a.get("class", "").split())
                     for t, a in self.stack)
        if self.in_body and not hidden and " ".join(data.split()) == self.title:
            self.count += 1


def test_landing_page_shows_its_title_once():
    root = _need(HTML_DIR / f"{PAGES[0]}.html", "make build-check")
    counter = _TitleCount(CONFIG["title"])
    counter.feed(_html(root))
    assert counter.count == 1, f"the landing page shows its title {counter.count} times"


def test_404_page_links_from_the_site_root():
    page = _need(HTML_DIR / "404.html", "make build-check")
    markup = _html(page)
    assert "Page not found" in _text(markup)
    prefix = SPHINX["notfound_urls_prefix"]
    local = [u for u in re.findall(r'(?:href|src)="([^"#]+)"', markup)
             if not u.startswith(("http:", "https:", "mailto:", "data:"))]
    assert local, "404.html links nothing on the site"
    wrong = [u for u in local if not u.startswith(prefix)]
    assert not wrong, f"404.html links not under {prefix} (broken on a deep missing URL): {wrong}"
    missing = [u for u in local
               if not (HTML_DIR / u.removeprefix(prefix).split("?")[0]).exists()]
    assert not missing, f"404.html links files the site does not have: {missing}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_offers_live_code_and_jupyterlab(doc):
    markup = _html(_need(HTML_DIR / f"{doc}.html", "make build-check"))
    assert "btn-launch-thebe" in markup, "no Live Code (Thebe) button"
    config = re.search(r'<script type="text/x-thebe-config">(.*?)</script>', markup, re.S)
    assert config and '"dsconv-book/depthwise-separable-convolution"' in config[1]
    binder = re.findall(r'href="(https://mybinder\.org/[^"]+)"', markup)
    assert binder and all("urlpath=lab" in url for url in binder), binder


# -- the PDF ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf():
    from pypdf import PdfReader

    return PdfReader(_need(PDF, "make pdf"))


def _outline_titles(outline) -> list[str]:
    titles = []
    for item in outline:
        if isinstance(item, list):
            titles += _outline_titles(item)
        else:
            titles.append(" ".join(str(item.title).split()))
    return titles


def _page_title(doc: str) -> str:
    """A page's title as the site shows it (its <title> before the book's name)."""
    markup = _html(_need(HTML_DIR / f"{doc}.html", "make build-check"))
    title = html.unescape(re.search(r"<title>(.*?)</title>", markup, re.S)[1])
    return " ".join(title.split(" \u2014 ")[0].split())


def _squeeze(text: str) -> str:
    """No spaces, and ligatures (the PDF's "ﬁ") spelled out."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def pdf_text(pdf) -> str:
    return "\n".join(page.extract_text() or "" for page in pdf.pages)


@pytest.mark.xdist_group("pdf")  # one worker reads the PDF once
def test_pdf_has_every_chapter_in_its_outline_and_text(pdf, pdf_text):
    outline = [_squeeze(t) for t in _outline_titles(pdf.outline)]
    text = _squeeze(pdf_text)
    for doc in PAGES[1:]:  # the root page is the PDF's title page
        title = _squeeze(_page_title(doc))
        assert any(title in entry for entry in outline), f"no PDF bookmark for {title!r}"
        assert title in text, f"the PDF's text lacks the title {title!r}"
    assert len(pdf.pages) > 10 * len(CHAPTERS), f"only {len(pdf.pages)} pages"


def _shown_figures(doc: str) -> int:
    notebook = json.loads((ROOT / f"{doc}.ipynb").read_text())
    count = 0
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-output" in tags or "remove-cell" in tags:
            continue
        count += sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    return count


def _image_refs(resources, depth: int = 0) -> set:
    """The image objects a page's resources draw (inside forms too), undecoded."""
    found: set = set()
    if not resources or depth > 5:
        return found
    for ref in resources.get_object().get("/XObject", {}).values():
        xobject = ref.get_object()
        if xobject.get("/Subtype") == "/Image":
            found.add(getattr(ref, "idnum", id(xobject)))
        elif xobject.get("/Subtype") == "/Form":
            found |= _image_refs(xobject.get("/Resources"), depth + 1)
    return found


@pytest.mark.xdist_group("pdf")  # one worker reads the PDF once
def test_pdf_has_the_figures(pdf):
    expected = sum(_shown_figures(doc) for doc in CHAPTERS)
    images = len({ref for page in pdf.pages for ref in _image_refs(page.get("/Resources"))})
    assert expected > 0
    assert images >= expected, (
        f"the PDF holds {images} distinct images; the chapters show {expected} figures")


@pytest.mark.xdist_group("pdf")  # one worker reads the PDF once
def test_pdf_math_is_typeset_not_raw_tex(pdf, pdf_text):
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(pdf_text)})
    assert not raw, f"raw TeX in the PDF's text: {raw}"
    # The landing page's first formula: MathJax draws it in its own web fonts,
    # which Chromium embeds (as Type 3 fonts, or under MathJax's MJX names).
    page = next((p for p in pdf.pages
                 if "why a separable layer costs" in " ".join((p.extract_text() or "").split())),
                None)
    assert page is not None, "the landing page's ratio sentence is not in the PDF"
    fonts = [f.get_object() for f in (page.get("/Resources") or {}).get("/Font", {}).values()]
    assert any(f.get("/Subtype") == "/Type3" or "MJX" in str(f.get("/BaseFont", ""))
               for f in fonts), "no MathJax font where the first formula is: math not typeset"


def _outline(outline, depth: int = 0) -> list[tuple[int, str, object]]:
    entries = []
    for item in outline:
        if isinstance(item, list):
            entries += _outline(item, depth + 1)
        else:
            entries.append((depth, str(item.title), item))
    return entries


@pytest.mark.xdist_group("pdf")  # one worker reads the PDF once
def test_pdf_outline_is_clean_and_in_reading_order(pdf):
    entries = _outline(pdf.outline)
    titles = [" ".join(title.split()) for _, title, _ in entries]
    doubled = [t for t in titles if re.fullmatch(r"(.+?)\s*\1", t.replace(" ", ""))
               or re.match(r"^(\d+(\.\d+)*\.)\s+\1", t)]
    assert not doubled, f"doubled bookmark titles: {doubled[:5]}"
    assert "Map" not in titles, "the chapters hang under the introduction's 'Map'"
    # Every page's title as the site spells it (spaces kept) is a bookmark.
    for doc in PAGES[1:]:
        title = _page_title(doc)
        assert any(t == title or t.endswith(" " + title) for t in titles), (
            f"no bookmark spelled {title!r} (lost spaces or extra text?)")
    top = [" ".join(t.split()) for depth, t, _ in entries if depth == 0]
    assert top[:2] == ["Contents", "Introduction"], top[:3]
    order = [t for t in titles if t in ("How to cite", "Bibliography")]
    assert order == ["How to cite", "Bibliography"], f"reading order: {order}"
    pages = [pdf.get_destination_page_number(item) for _, _, item in entries]
    assert pages == sorted(pages), "bookmarks out of page order"


@pytest.mark.xdist_group("pdf")  # one worker reads the PDF once
def test_pdf_has_a_title_page_contents_and_chapters_on_new_pages(pdf):
    first = " ".join((pdf.pages[0].extract_text() or "").split())
    assert CONFIG["title"].split(",")[0] in first and f"v{VERSION}" in first, first[:200]
    contents = " ".join((pdf.pages[1].extract_text() or "").split())
    assert contents.startswith("Contents"), contents[:100]
    for depth, title, item in _outline(pdf.outline):
        if depth > 1 or not (depth == 0 or re.match(r"\d+\. ", title)):
            continue  # only parts and chapters (and the front and back matter)
        page = pdf.pages[pdf.get_destination_page_number(item)]
        height = float(page.mediabox.height)
        # The bookmark points at the heading: at the top of its page.
        assert float(item.top) > 0.8 * height, (
            f"{title!r} starts {height - float(item.top):.0f} pt down its page, not on a new one")


@pytest.mark.xdist_group("pdf")
def test_pdf_layout_clips_no_line(session):  # noqa: F811  (the fixture)
    """The single page, laid out for print exactly as make pdf does, has no
    element whose content is wider than its box: Chromium would clip it."""
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    import print_pdf

    _need(SINGLEHTML / "intro.html", "make pdf")
    server = print_pdf.serve(SINGLEHTML)
    context = session.context.browser.new_context(
        viewport={"width": print_pdf.PRINT_WIDTH_PX, "height": 1000}, service_workers="block")
    try:
        page = print_pdf.open_book(
            context, f"http://127.0.0.1:{server.server_address[1]}/"
                     f"{print_pdf.root_page(SINGLEHTML)}")
        clipped = page.evaluate(print_pdf.OVERFLOW_JS, None)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert not clipped, f"{len(clipped)} element(s) clipped in print:\n  " + "\n  ".join(
        clipped[:20])


@pytest.mark.xdist_group("cheatsheet")
def test_cheatsheet_prints_on_two_pages(session, base_url, tmp_path):  # noqa: F811
    from pypdf import PdfReader

    page = session.context.new_page()
    try:
        page.goto(f"{base_url}/cheatsheet.html", wait_until="load")
        page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.emulate_media(media="print")
        path = tmp_path / "cheatsheet.pdf"
        page.pdf(path=str(path), format="A4", print_background=True,
                 margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
    finally:
        page.close()
    pages = len(PdfReader(path).pages)
    assert pages <= CHEATSHEET_MAX_PAGES, f"the cheat sheet prints on {pages} A4 pages"


# -- the handout ------------------------------------------------------------------------------


def _solution_lines(doc: str) -> list[str]:
    """Lines of a chapter's solutions (text between solution-start and
    solution-end, code cells included) that appear nowhere else in it."""
    notebook = json.loads((ROOT / f"{doc}.ipynb").read_text())
    stream = "\n".join("".join(c["source"]) for c in notebook["cells"])
    inside = re.findall(r"\{solution-start\}.*?\n(.*?):::\{solution-end\}", stream, re.S)
    outside = re.sub(r"\{solution-start\}.*?:::\{solution-end\}", "", stream, flags=re.S)
    lines = []
    for block in inside:
        for line in block.splitlines():
            line = " ".join(line.split())
            plain = re.fullmatch(r"[\w ,.;:()=+\-*/'\"\[\]]{30,}", line)
            if plain and not line.startswith(":") and line not in outside:
                lines.append(line)
    return lines


@pytest.mark.parametrize("doc", CHAPTERS)
def test_handout_has_the_exercises_but_no_solution(doc):
    handout = _text(_html(_need(HANDOUT / f"{doc}.html", "make handout")))
    site_text = _text(_html(_need(HTML_DIR / f"{doc}.html", "make build-check")))
    lines = _solution_lines(doc)
    assert lines, f"found no solution text in {doc} to look for"
    shown = [line for line in lines if line in site_text]
    assert len(shown) >= len(lines) // 2, "the solutions' text is not found even in the site"
    leaked = [line for line in shown if line in handout]
    assert not leaked, f"the handout shows solution text: {leaked[:3]}"
    markup = _html(HANDOUT / f"{doc}.html")
    assert 'class="solution' not in markup and "Solution to" not in handout
    assert markup.count('class="exercise') == _html(HTML_DIR / f"{doc}.html").count(
        'class="exercise'), "the handout lost exercises"
