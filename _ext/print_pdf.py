"""Print the single-page build of the book to one PDF, offline (``make pdf``).

Usage: ``python _ext/print_pdf.py SINGLEHTML_DIR OUTPUT.pdf``

The directory (Sphinx's ``singlehtml`` build) is served on 127.0.0.1 and
opened in headless Chromium (Debian's, never one Playwright downloads; set
``CHROMIUM_PATH`` for another). Every request to another host is refused, so
the PDF shows only what the book ships. Before printing, every image is loaded
and MathJax (served from the book's own ``_static``) has typeset every
formula. The page is then laid out as a book (:data:`BOOK_JS`): a title page,
the contents with page numbers, the introduction, then each part and chapter
starting on a new page, with headings one level per depth (part, chapter,
section), so the PDF's outline follows the reading order. It is printed in the
light theme, A4, with page numbers. Printing runs twice: the first PDF gives
the page of every chapter, which the contents then show.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
HOST = "127.0.0.1"
TIMEOUT_MS = 120_000
ROOT = Path(__file__).resolve().parents[1]
MARGIN = {"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"}
# The printable width of an A4 page between those margins, in CSS pixels
# (96 per inch): the viewport the tests lay the book out in.
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)

READY_JS = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  if (!window.MathJax || !window.MathJax.startup) { return 'no MathJax'; }
  await window.MathJax.startup.promise;
  if (window.MathJax.typesetPromise) { await window.MathJax.typesetPromise(); }
  await document.fonts.ready;
  const errors = document.querySelectorAll('mjx-merror').length;
  return errors ? `${errors} MathJax error(s)` : 'ready';
}"""

# The single page as a book. ``book``: title, subtitle, author, parts (the
# table of contents' captions, numbered or not, one per toctree of the root
# page's "Map" section, in order).
BOOK_JS = """book => {
  const article = document.querySelector('article.bd-article');
  const intro = article.querySelector(':scope > section');
  // Permalink signs would be read into the outline's titles.
  document.querySelectorAll('a.headerlink').forEach(a => a.remove());
  const rename = (el, tag) => {
    const h = document.createElement(tag);
    for (const a of el.attributes) { h.setAttribute(a.name, a.value); }
    h.append(...el.childNodes);
    el.replaceWith(h);
    return h;
  };
  const shift = (root, by) => {
    for (const h of Array.from(root.querySelectorAll('h1,h2,h3,h4,h5,h6'))) {
      const level = Math.min(6, Math.max(1, Number(h.tagName[1]) + by));
      rename(h, 'h' + level);
    }
  };
  const map = document.getElementById('map');
  const wrappers = map ? Array.from(map.querySelectorAll(':scope > .toctree-wrapper')) : [];
  const flow = document.createElement('div');
  flow.className = 'pdf-book';
  const contents = [];
  wrappers.forEach((wrapper, i) => {
    const part = book.parts[i] || {caption: '', numbered: false};
    const docs = Array.from(wrapper.querySelectorAll(':scope > section'));
    if (part.numbered) {
      const divider = document.createElement('section');
      divider.className = 'pdf-part';
      divider.id = 'pdf-part-' + i;
      divider.innerHTML = '<h1></h1>';
      divider.firstChild.textContent = part.caption;
      flow.append(divider);
      contents.push({level: 0, id: divider.id, node: divider, title: part.caption});
    }
    for (const doc of docs) {
      const anchor = doc.previousElementSibling;
      shift(doc, part.numbered ? -1 : -2);
      doc.classList.add('pdf-chapter');
      if (anchor && anchor.id && anchor.id.startsWith('document-')) { flow.append(anchor); }
      flow.append(doc);
      const heading = doc.querySelector('h1, h2');
      // Section ids repeat across chapters ("summary"): link the chapter's
      // own anchor (document-<name>), which is unique.
      const link = anchor && anchor.id.startsWith('document-') ? anchor.id : doc.id;
      contents.push({level: part.numbered ? 1 : 0, id: link, node: doc,
                     title: heading ? heading.textContent.trim() : doc.id});
    }
  });
  if (map) { map.remove(); }
  // The root page becomes the introduction; "How to cite" stays in it.
  const title = intro.querySelector('h1');
  if (title) { title.textContent = 'Introduction'; }
  intro.classList.add('pdf-chapter');
  const titlePage = document.createElement('section');
  titlePage.className = 'pdf-title-page';
  for (const [cls, text] of [['pdf-title', book.title], ['pdf-subtitle', book.subtitle],
                             ['pdf-author', book.author], ['pdf-url', book.url]]) {
    const p = document.createElement('p');
    p.className = cls;
    p.textContent = text;
    titlePage.append(p);
  }
  const toc = document.createElement('section');
  toc.className = 'pdf-contents';
  toc.id = 'pdf-contents';
  toc.innerHTML = '<h1>Contents</h1><ol></ol>';
  const entries = [{level: 0, id: intro.id, node: intro, title: 'Introduction'}, ...contents];
  entries.forEach((entry, i) => { entry.node.dataset.pdfKey = 'toc-' + i; });
  for (const [i, entry] of entries.entries()) {
    const li = document.createElement('li');
    li.className = 'pdf-toc-' + entry.level;
    li.innerHTML = '<a></a><span class="pdf-page">000</span>';
    li.firstChild.href = '#' + entry.id;
    li.firstChild.textContent = entry.title;
    li.dataset.target = 'toc-' + i;
    toc.querySelector('ol').append(li);
  }
  article.prepend(titlePage, toc);
  intro.after(flow);
  return entries.map(e => e.title);
}"""

# Elements whose content is wider than their box (clipped in print, or a
# scroll bar on screen), among the visible elements of the article. Inline
# elements cannot scroll; MathJax's hidden assistive copy is not shown.
OVERFLOW_JS = """(allowed) => {
  const found = [];
  const article = document.querySelector('article.bd-article') || document.body;
  for (const el of article.querySelectorAll('*')) {
    // MathJax's own parts clip by design (stretchy braces): the formula's box counts.
    if (el.closest('mjx-assistive-mml') || el.parentElement.closest('mjx-container')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.display === 'inline' || style.display === 'contents'
        || style.visibility === 'hidden') continue;
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0
        && style.overflowX !== 'visible') {
      if (allowed && el.matches(allowed)) continue;
      const where = el.closest('section[id]');
      found.push(`${el.tagName.toLowerCase()}.${String(el.className).split(' ')[0]} in #${
        where ? where.id : '?'}: ${el.scrollWidth - el.clientWidth} px too wide: ${
        (el.innerText || el.textContent).trim().slice(0, 60)}`);
    }
  }
  return found;
}"""

# Every heading Chromium turns into a bookmark, in order: level and text (the
# text as the reader sees it, whatever line it wraps on).
HEADINGS_JS = """() => Array.from(document.querySelectorAll(
    'article.bd-article h1, article.bd-article h2, article.bd-article h3, '
    + 'article.bd-article h4, article.bd-article h5, article.bd-article h6'))
  .filter(h => h.getClientRects().length > 0)
  .map(h => [Number(h.tagName[1]), h.textContent.replace(/\\s+/g, ' ').trim(),
              (h.closest('[data-pdf-key]') || {dataset: {}}).dataset.pdfKey || ''])"""

SET_PAGES_JS = """pages => {
  for (const li of document.querySelectorAll('.pdf-contents li')) {
    li.querySelector('.pdf-page').textContent = pages[li.dataset.target] || '';
  }
}"""

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def book_metadata(root: Path = ROOT) -> dict:
    """Title, subtitle, author, address and parts, from the book's own config."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    release = config["sphinx"]["config"]["release"]
    return {
        "title": config["title"],
        "subtitle": f"Edition {release.split('.')[0]} (v{release})",
        "author": config["author"],
        "url": config["html"]["baseurl"],
        "parts": [{"caption": part.get("caption", ""), "numbered": bool(part.get("numbered"))}
                  for part in toc.get("parts", [])],
    }


def root_page(html_dir: Path) -> str:
    """The single page's file name (index.html redirects to it)."""
    index = html_dir / "index.html"
    if index.is_file() and "Refresh" in index.read_text():
        return next(p.name for p in sorted(html_dir.glob("*.html")) if p.name != "index.html")
    return "index.html"


def serve(html_dir: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Quiet, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_book(context, url: str):
    """Open the single page at ``url``, typeset, laid out as a book, print media."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    state = page.evaluate(READY_JS)
    if state != "ready":
        raise SystemExit(f"not printing: {state}")
    page.evaluate(BOOK_JS, book_metadata())
    page.emulate_media(media="print", color_scheme="light")
    return page


def _section_pages(pdf: Path, headings: list) -> dict[str, int]:
    """The page (1-based) each entry of the contents starts on, by its key:
    its first heading's bookmark (Chromium writes one per heading, in order)."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    marks = _flat_outline(reader)
    pages: dict[str, int] = {}
    if len(marks) == len(headings):
        for mark, (_, _, section) in zip(marks, headings, strict=True):
            pages.setdefault(section, reader.get_destination_page_number(mark) + 1)
    return pages


def _flat_outline(reader) -> list:
    items: list = []

    def walk(outline) -> None:
        for item in outline:
            if isinstance(item, list):
                walk(item)
            else:
                items.append(item)

    walk(reader.outline)
    return items


def retitle_outline(pdf: Path, headings: list[tuple[int, str]]) -> None:
    """Rewrite ``pdf``'s bookmarks with the headings' own text, nested by level.

    Chromium builds the outline from the printed lines: a heading that wraps
    loses the space at the break, and some come out doubled ("1.7. 1.7.
    SummarySummary"). Its destinations are right and in the headings' order,
    so each keeps its place and gets its heading's text."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit

    reader = PdfReader(pdf)
    marks = _flat_outline(reader)
    if len(marks) != len(headings):
        raise SystemExit(f"{len(marks)} bookmarks for {len(headings)} headings: "
                         "cannot retitle the outline")
    writer = PdfWriter(clone_from=reader)
    writer._root_object.pop("/Outlines", None)
    writer._root_object.pop("/PageMode", None)
    parents: list[tuple[int, object]] = []  # (level, outline item) from the top
    for mark, (level, title) in zip(marks, headings, strict=True):
        while parents and parents[-1][0] >= level:
            parents.pop()
        page = reader.get_destination_page_number(mark)
        item = writer.add_outline_item(
            title=title, page_number=page, parent=parents[-1][1] if parents else None,
            fit=Fit.xyz(left=mark.left, top=mark.top))
        parents.append((level, item))
    writer.page_mode = "/UseOutlines"
    with open(pdf, "wb") as out:
        writer.write(out)


def _pdf(page, path: Path) -> None:
    page.pdf(path=str(path), format="A4", print_background=True, margin=MARGIN,
             display_header_footer=True, header_template="<span></span>",
             footer_template=FOOTER, outline=True, tagged=True)


def print_pdf(html_dir: Path, output: Path) -> tuple[float, list[str]]:
    """Print ``html_dir``'s root page to ``output``; return the seconds it took
    and the elements too wide for the page (clipped in print; none expected)."""
    start = time.perf_counter()
    server = serve(html_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context(color_scheme="light", service_workers="block",
                                          viewport={"width": PRINT_WIDTH_PX, "height": 1000})
            context.route("**/*", lambda route: route.continue_()
                          if urlsplit(route.request.url).hostname in (HOST, None)
                          else route.abort())
            page = open_book(context, f"http://{HOST}:{server.server_address[1]}/"
                                      f"{root_page(html_dir)}")
            clipped = page.evaluate(OVERFLOW_JS, None)
            output.parent.mkdir(parents=True, exist_ok=True)
            headings = page.evaluate(HEADINGS_JS)
            with tempfile.TemporaryDirectory() as tmp:
                draft = Path(tmp) / "draft.pdf"
                _pdf(page, draft)
                pages = _section_pages(draft, headings)
            page.evaluate(SET_PAGES_JS, pages)
            _pdf(page, output)
            browser.close()
        retitle_outline(output, [(level, title) for level, title, _ in headings])
    finally:
        server.shutdown()
        server.server_close()
    return time.perf_counter() - start, clipped


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    seconds, clipped = print_pdf(source, target)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB) printed in {seconds:.0f} s")
    if clipped:
        # MathJax's text holds lone surrogates (mathematical letters): replace them.
        shown = [c.encode("utf-8", "replace").decode()[:200] for c in clipped[:20]]
        print(f"{len(clipped)} element(s) wider than the page (clipped):", *shown,
              sep="\n  ")
