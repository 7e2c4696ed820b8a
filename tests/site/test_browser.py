"""Browser tests of the built book: headless Chromium walks every page.

The HTML in ``_build/html`` (built by ``make build-check`` or ``make book``) is
served by a local web server on 127.0.0.1, and Debian's Chromium (never a
browser downloaded by Playwright) visits every page listed in ``_toc.yml``.
Every request to another host is aborted, so the tests also prove that the book
reads offline (MathJax included). The server also answers under the published
site's path (``notfound_urls_prefix`` in ``_config.yml``) and, like GitHub
Pages, with ``404.html`` for a missing page. axe-core (shipped inside the
axe-playwright-python package) checks every page in the light and dark themes.
Every page must also load with a clean console and no request to another host,
and fit its column: nothing wider than its box at 1280 px or in print (A4's
printable width, print media), and on a 390 px phone nothing but a code box, a
cell's output or a display equation wider than the column (those scroll inside
their own box). Every figure is vector, or a bitmap of at least
``DENSITY`` (2) pixels per CSS pixel where it is shown, whose smallest text is at
least ``MIN_TEXT_PX`` (7) CSS pixels when shown at phone width
(``helpers.book.figures.style`` draws them so and records the size in the PNG).

Environment variables:

- ``BOOK_HTML``: the built HTML directory (default ``<repo>/_build/html``);
- ``BOOK_TOC``: the table of contents to walk (default ``<repo>/_toc.yml``);
- ``CHROMIUM_PATH``: the browser (default ``/usr/bin/chromium``);
- ``CI=true``: a missing browser or missing HTML fails instead of skipping.

Full-page screenshots go to ``_build/screenshots/<page>.png`` (next to the
HTML directory). Run: ``.venv/bin/pytest -q -m browser tests/test_browser.py``;
``make browser`` runs it on two workers (pytest-xdist ``--dist loadgroup``: each
page's tests stay together, so each worker opens a page once).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_ext"))
from print_pdf import OVERFLOW_JS, PRINT_WIDTH_PX  # noqa: E402

from helpers.book.figures.style import DENSITY, MIN_TEXT_PX  # noqa: E402

try:
    from axe_playwright_python.base import AXE_SCRIPT
except ImportError:  # the accessibility tests then skip (or fail in CI)
    AXE_SCRIPT = None

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # the suite then skips (or fails in CI) in the browser fixture
    PlaywrightTimeout = TimeoutError
    sync_playwright = None

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
TOC_FILE = Path(os.environ.get("BOOK_TOC") or ROOT / "_toc.yml").resolve()
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI") == "true"
SCREENSHOTS = HTML_DIR.parent / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOST = "127.0.0.1"
# The published site's path (GitHub Pages serves the book under it); the 404
# page links from it.
SITE_PREFIX = (
    yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    .get("notfound_urls_prefix") or "/"
)
# axe-core impacts that fail a page; "moderate" and "minor" are reported only.
AXE_FAILING = ("serious", "critical")
THEMES = ("light", "dark")
MAX_PAGE_BYTES = 1_500_000  # a page's HTML plus the images it shows
MATH_PAGE = "chapters/01_counting_parameters"
ANIMATION_PAGE = "chapters/02_normal_convolution"
TIMEOUT_MS = 20_000

# The layout: what may be wider than the column. At 1280 px and in print
# nothing may (code and outputs wrap, tables fit); on a phone (390 px) a code
# box, a cell's output and a display equation may scroll inside their own box.
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PHONE_SCROLLERS = ("pre, div.highlight, div.cell_output, div.cell_output *, div.math, "
                   "mjx-container[display='true'], mjx-container[display='true'] *")


# --- the pages -------------------------------------------------------------


def _toc_entries(entries: list[dict]) -> list[str]:
    files = []
    for entry in entries or []:
        if "file" in entry:
            files.append(str(entry["file"]).removesuffix(".md").removesuffix(".ipynb"))
        files += _toc_entries(entry.get("sections", []))
    return files


def toc_pages(toc_file: Path = TOC_FILE) -> list[str]:
    """Every page of the table of contents (root first), as Sphinx docnames."""
    try:
        toc = yaml.safe_load(toc_file.read_text())
    except OSError:
        return []
    pages = [str(toc["root"]).removesuffix(".md")]
    for part in toc.get("parts", []):
        pages += _toc_entries(part.get("chapters", []))
    pages += _toc_entries(toc.get("chapters", []))  # a toc without parts
    return list(dict.fromkeys(pages))


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]
# Sphinx's own pages, checked for accessibility too.
EXTRA_PAGES = ["search", "404"]


def by_page(docs: list[str]) -> list:
    """Parameters with one xdist group per page: a worker opens each page once."""
    return [pytest.param(d, marks=pytest.mark.xdist_group(d), id=d) for d in docs]


def _unavailable(message: str) -> None:
    """Skip on a laptop; fail in CI, where a skipped browser suite proves nothing."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(message)


def _local_file(url: str) -> Path | None:
    """The file under HTML_DIR that a same-site URL points at (None: another site)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname != LOCAL_HOST:
        return None
    path = unquote(parts.path)
    if SITE_PREFIX != "/" and path.startswith(SITE_PREFIX):
        path = "/" + path.removeprefix(SITE_PREFIX)
    if path.endswith("/"):
        path += "index.html"
    return HTML_DIR / path.lstrip("/")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(HTML_DIR))
    except ValueError:
        return str(path)


class _HtmlScan(HTMLParser):
    """Collects the ids (anchors) and <img src> of a static HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.img_srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(key):
                self.ids.add(attributes[key])
        if tag == "img" and attributes.get("src"):
            self.img_srcs.append(attributes["src"])


@functools.cache
def _scan(path: Path) -> _HtmlScan:
    scan = _HtmlScan()
    scan.feed(path.read_text(encoding="utf-8", errors="replace"))
    return scan


# --- fixtures: the site, the server, the browser ----------------------------


# Session-wide (one server and one browser per worker, shared by the test
# modules that import these fixtures): Playwright runs once per thread.
@pytest.fixture(scope="session")
def site() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        _unavailable(
            f"no built book at {HTML_DIR} (index.html missing); "
            "run `make build-check` (or `make book`) first, or set BOOK_HTML"
        )
    return HTML_DIR


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site at / and under SITE_PREFIX; a missing file gets 404.html
    with status 404, as on GitHub Pages."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def translate_path(self, path: str) -> str:
        if SITE_PREFIX != "/" and path.startswith(SITE_PREFIX):
            path = "/" + path.removeprefix(SITE_PREFIX)
        return super().translate_path(path)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture(scope="session")
def base_url(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Session:
    """The browser context and the external URLs it aborted (expected offline)."""

    context: object
    blocked: set[str]


@pytest.fixture(scope="session")
def session(base_url: str):
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        _unavailable(
            f"Chromium not found at {CHROMIUM}; install Debian's chromium or set CHROMIUM_PATH"
        )
    if sync_playwright is None:
        _unavailable("the playwright package is not installed (pip install -r requirements.txt)")

    blocked: set[str] = set()

    def route(route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL_HOST:
            blocked.add(url)
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport=DESKTOP, service_workers="block")
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(3 * TIMEOUT_MS)  # long pages on a busy CI
        context.route("**/*", route)
        yield Session(context, blocked)
        context.close()
        browser.close()


@dataclass
class Visit:
    """What a page showed: its status, errors, images, links and math."""

    page: str
    status: int | None
    errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    mathjax_scripts: list[str] = field(default_factory=list)
    math_count: int = 0
    math_errors: int = 0
    screenshot: Path | None = None
    # theme -> failing axe-core violations (id, impact, help, where)
    axe: dict[str, list[str]] = field(default_factory=dict)
    # "desktop", "print", "phone" -> what is wider than its column there
    overflow: dict[str, list[str]] = field(default_factory=dict)
    # each figure: src, natural width, shown width at 1280 and 390 px
    figures: list[dict] = field(default_factory=list)


COLLECT_JS = """() => ({
  images: Array.from(document.images).map(i => ({
    src: i.currentSrc || i.src, alt: i.getAttribute('alt'), id: i.id,
    width: i.naturalWidth, complete: i.complete})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  mathjax: Array.from(document.querySelectorAll('script[src*="mathjax" i]')).map(s => s.src),
  math: document.querySelectorAll('mjx-container').length,
  mathErrors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
})"""

# Lazy images load once near the viewport: make them eager, scroll to the
# bottom (for anything else loaded on scroll) and back, and wait for them all.
LOAD_IMAGES_JS = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  window.scrollTo(0, document.body.scrollHeight);
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
  window.scrollTo(0, 0);
  const loaded = Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await Promise.race([loaded, new Promise(r => setTimeout(r, 15000))]);  // then: reported
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  await document.fonts.ready;
}"""


def _open(session: Session, url: str):
    """A new tab at url, recording errors from our own site (not blocked hosts)."""
    page = session.context.new_page()
    errors: list[str] = []

    def on_console(msg) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if where in session.blocked or (where and _local_file(where) is None):
            return  # an aborted request to another host: expected offline
        errors.append(f"console error: {msg.text} ({where or 'no location'})")

    def on_request_failed(request) -> None:
        if _local_file(request.url) is not None:
            errors.append(f"request failed: {request.url} ({request.failure})")

    def on_response(response) -> None:
        if response.status >= 400 and _local_file(response.url) is not None:
            errors.append(f"HTTP {response.status}: {response.url}")

    def on_page_error(exc) -> None:
        errors.append(f"page error: {exc}")

    def on_request(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL_HOST:
            errors.append(f"request to another host: {request.url}")

    page.on("console", on_console)
    page.on("request", on_request)
    page.on("pageerror", on_page_error)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    response = page.goto(url, wait_until="load")
    return page, response, errors


@pytest.fixture(scope="module")
def visit(session, base_url: str):
    """visit(docname) -> Visit; each page is opened once and the result cached."""
    cache: dict[str, Visit] = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _visit(doc: str) -> Visit:
        if doc not in cache:
            page, response, errors = _open(session, f"{base_url}/{doc}.html")
            try:
                page.evaluate(LOAD_IMAGES_JS)
                page.wait_for_timeout(100)  # late console errors
                data = page.evaluate(COLLECT_JS)
                shot = SCREENSHOTS / f"{Path(doc).name}.png"
                page.screenshot(path=str(shot), full_page=True)
                axe = {theme: _axe(page, theme) for theme in THEMES} if AXE_SCRIPT else {}
                overflow, figures = _layout(page)
            finally:
                page.close()
            cache[doc] = Visit(
                page=doc,
                status=response.status if response else None,
                errors=errors,
                images=data["images"],
                links=data["links"],
                mathjax_scripts=data["mathjax"],
                math_count=data["math"],
                math_errors=data["mathErrors"],
                screenshot=shot,
                axe=axe,
                overflow=overflow,
                figures=figures,
            )
        return cache[doc]

    return _visit


# preload: false -- axe would fetch the theme's @import-ed style sheets itself,
# resolved against the page instead of the sheet (404s that are axe's, not the
# book's); only its css-orientation-lock rule needs them.
# The light theme gets every rule; the dark one only the rules about colour (a
# theme changes nothing else). Colour contrast is most of axe's time on long
# pages, so the second run still costs about three quarters of the first.
AXE_COLOUR_RULES = ["color-contrast", "link-in-text-block"]
AXE_RUN_JS = """rules => axe.run(document, Object.assign(
    {resultTypes: ['violations'], preload: false},
    rules ? {runOnly: {type: 'rule', values: rules}} : {})).then(r =>
  r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '')
      .replace(/\\s+/g, ' ').slice(0, 200))})))"""


# The theme fades colours when its mode changes: check the final colours.
THEME_JS = """t => {
  if (!document.getElementById('no-transitions')) {
    const style = document.createElement('style');
    style.id = 'no-transitions';
    style.textContent =
      '*, *::before, *::after { transition: none !important; animation: none !important; }';
    document.head.appendChild(style);
  }
  const h = document.documentElement; h.dataset.theme = t; h.dataset.mode = t;
}"""


def _axe(page, theme: str) -> list[str]:
    """axe-core's serious and critical violations on ``page`` in ``theme``."""
    page.evaluate(THEME_JS, theme)
    page.wait_for_timeout(50)  # the new colours apply on the next frame
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    failing = []
    rules = AXE_COLOUR_RULES if theme != "light" else None
    for violation in page.evaluate(AXE_RUN_JS, rules):
        if violation["impact"] in AXE_FAILING:
            where = "; ".join(violation["nodes"][:3])
            failing.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}"
                           f" element(s)): {violation['help']}. {where}")
    return failing


# On a phone: anything but the allowed scroll boxes that reaches past the
# article's column, or scrolls or clips inside it; an allowed box that is
# itself wider than the column.
PHONE_JS = """allowed => {
  const article = document.querySelector('article.bd-article');
  if (!article) return [];
  const box = article.getBoundingClientRect();
  const right = box.right - parseFloat(getComputedStyle(article).paddingRight) + 1;
  const found = [];
  for (const el of article.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml') || el.parentElement.closest('mjx-container')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const rect = el.getBoundingClientRect();
    if (!rect.width) continue;
    const inside = el.parentElement && el.parentElement.closest(allowed);
    if (inside) continue;  // inside a box that scrolls: checked as the box
    const where = el.closest('section[id]');
    const name = `${el.tagName.toLowerCase()}.${String(el.className).split(' ')[0]} in #${
      where ? where.id : '?'}`;
    if (rect.right > right) {
      found.push(`${name} reaches ${Math.round(rect.right - right)} px past the column: ${
        (el.textContent || '').trim().slice(0, 50)}`);
    } else if (!el.matches(allowed) && style.display !== 'inline'
               && style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      found.push(`${name} scrolls or clips ${el.scrollWidth - el.clientWidth} px: ${
        (el.textContent || '').trim().slice(0, 50)}`);
    }
  }
  return found;
}"""

FIGURES_JS = """() => Array.from(document.querySelectorAll(
    'article.bd-article div.cell_output img, article.bd-article figure img'))
  .filter(img => !img.closest('.animation'))
  .map(img => ({src: img.currentSrc || img.src, natural: img.naturalWidth,
                shown: img.getBoundingClientRect().width}))"""


def _layout(page) -> tuple[dict[str, list[str]], list[dict]]:
    """What is wider than its column at 1280 px, in print (A4's printable
    width) and at 390 px; each figure's natural and shown widths."""
    page.evaluate(THEME_JS, "light")
    overflow = {"desktop": page.evaluate(OVERFLOW_JS, None)}
    figures = page.evaluate(FIGURES_JS)
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    overflow["print"] = page.evaluate(OVERFLOW_JS, None)
    page.emulate_media(media="screen")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)
    overflow["phone"] = page.evaluate(PHONE_JS, PHONE_SCROLLERS)
    for figure, phone in zip(figures, page.evaluate(FIGURES_JS), strict=True):
        figure["phone"] = phone["shown"]
    page.set_viewport_size(DESKTOP)
    return overflow, figures


def _need_page(doc: str) -> None:
    if doc not in PAGES:
        pytest.skip(f"{doc} is not in {TOC_FILE.name} yet")


# --- the tests ----------------------------------------------------------------


def test_toc_lists_pages():
    assert PAGES, f"no pages found in {TOC_FILE}"


@pytest.mark.parametrize("doc", by_page(PAGES))
def test_page_loads_without_errors(visit, doc):
    result = visit(doc)
    assert result.status == 200, f"{doc}.html answered HTTP {result.status}"
    assert not result.errors, f"{doc}.html:\n  " + "\n  ".join(result.errors)
    assert result.screenshot.is_file() and result.screenshot.stat().st_size > 10_000, (
        f"no (or a blank) screenshot at {result.screenshot}"
    )


def test_index_redirects_to_the_root_page(base_url):
    with urllib.request.urlopen(f"{base_url}/", timeout=10) as response:
        status, body = response.status, response.read().decode("utf-8", "replace")
    assert status == 200
    assert re.search(rf"http-equiv=.Refresh.[^>]*url={re.escape(PAGES[0])}\.html", body, re.I), (
        f"index.html does not redirect to {PAGES[0]}.html: {body[:200]!r}"
    )


@pytest.mark.parametrize("doc", by_page(PAGES))
def test_images_load_and_have_alt_text(visit, doc):
    problems = []
    for img in visit(doc).images:
        src = img["src"]
        name = src if src.startswith(("http", "file")) else src[:40] + "..."
        if img.get("id"):
            name = f"<img id={img['id']!r}> {name}"
        if _local_file(src) is None and not src.startswith("data:"):
            problems.append(f"{name}: from another site (blocked: the book must read offline)")
        elif not img["complete"] or not img["width"]:
            problems.append(f"{name}: did not load (naturalWidth 0)")
        if not (img["alt"] or "").strip():
            problems.append(f"{name}: no alt text")
    assert not problems, f"{doc}.html images:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("doc", by_page(PAGES))
def test_internal_links_and_anchors_resolve(visit, doc):
    problems = []
    for href in sorted(set(visit(doc).links)):
        target = _local_file(href)
        if target is None:
            continue  # another site: not checked offline
        if not target.is_file():
            problems.append(f"{href}: no such file {_rel(target)}")
            continue
        fragment = unquote(urlsplit(href).fragment)
        if fragment and target.suffix == ".html" and fragment not in _scan(target).ids:
            problems.append(f"{href}: no anchor #{fragment} in {_rel(target)}")
    assert not problems, f"{doc}.html broken links:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("doc", PAGES)
def test_page_weight(site, doc):
    html = site / f"{doc}.html"
    assert html.is_file(), f"{_rel(html)} was not built"
    sizes = {_rel(html): html.stat().st_size}
    for src in _scan(html).img_srcs:
        if src.startswith(("data:", "http:", "https:", "//")):
            continue  # data: is inside the HTML already; other sites fail the image test
        image = (html.parent / unquote(src.split("#")[0].split("?")[0])).resolve()
        if image.is_file():
            sizes[_rel(image)] = image.stat().st_size
    total = sum(sizes.values())
    biggest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert total <= MAX_PAGE_BYTES, (
        f"{doc}.html weighs {total / 1e6:.2f} MB with its images (limit "
        f"{MAX_PAGE_BYTES / 1e6:.1f} MB); biggest: "
        + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in biggest)
    )


def test_search_finds_depthwise(session, base_url):
    page, response, errors = _open(session, f"{base_url}/search.html?q=depthwise")
    try:
        assert response.status == 200
        results = page.locator("#search-results ul.search li")
        try:
            results.first.wait_for(state="attached", timeout=TIMEOUT_MS)
        except PlaywrightTimeout:
            status = page.locator("#search-results").inner_text()[:200]
            pytest.fail(f"no search results for 'depthwise' after {TIMEOUT_MS} ms: {status!r}")
        count = results.count()
        text = page.locator("#search-results").inner_text().lower()
        page.wait_for_timeout(300)  # let the sidebar settle before the picture
        page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)
    finally:
        page.close()
    assert count > 0, "search for 'depthwise' found nothing"
    assert "depthwise" in text, f"search results do not mention 'depthwise': {text[:300]!r}"
    assert not errors, errors


@pytest.mark.parametrize("doc", by_page(CHAPTERS))
def test_launch_buttons_open_this_notebook(visit, site, doc):
    if not (site / "_sources" / f"{doc}.ipynb").is_file():
        pytest.skip(f"{doc} is not a notebook: no launch buttons")
    notebook = f"notebooks/{doc.rpartition('/')[2]}.ipynb"  # the reader notebook
    links = [unquote(h) for h in visit(doc).links]
    for service, host in (("Binder", "mybinder.org"), ("Colab", "colab.research.google.com")):
        found = [h for h in links if urlsplit(h).hostname == host]
        assert found, f"{doc}.html has no {service} launch button"
        wrong = [h for h in found if notebook not in h]
        assert not wrong, f"{doc}.html: {service} link(s) not pointing at {notebook}: {wrong}"


def test_math_renders_offline(visit, base_url):
    _need_page(MATH_PAGE)
    result = visit(MATH_PAGE)
    assert result.math_count > 0, f"MathJax rendered no math on {MATH_PAGE}.html"
    assert result.math_errors == 0, f"{result.math_errors} TeX error(s) on {MATH_PAGE}.html"
    assert result.mathjax_scripts, "no MathJax script on the page"
    for src in result.mathjax_scripts:
        assert src.startswith(f"{base_url}/_static/mathjax/"), (
            f"MathJax is not served from the book's own _static/mathjax: {src}"
        )


def test_animation_plays(session, base_url):
    _need_page(ANIMATION_PAGE)
    page, response, errors = _open(session, f"{base_url}/{ANIMATION_PAGE}.html")
    try:
        # matplotlib's Animation.to_jshtml(): div.animation > img#_anim_img<id>,
        # then .anim-controls with a slider and Play/Pause buttons.
        container = page.locator("div.animation:has(img[id^='_anim_img'])").first
        assert container.count(), (
            f"no matplotlib JS animation (div.animation with an _anim_img) on {ANIMATION_PAGE}.html"
        )
        assert container.locator(".anim-controls button[title='Play']").count(), (
            "the animation has no Play control"
        )
        frame = container.locator("img[id^='_anim_img']").first
        slider = container.locator("input.anim-slider").first
        frame.scroll_into_view_if_needed()
        try:
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0",
                arg=frame.element_handle(),
                timeout=5_000,
            )
        except PlaywrightTimeout:
            pytest.fail("the animation's first frame did not load")
        frames = int(slider.get_attribute("max") or 0) + 1
        assert frames > 1, f"the animation has {frames} frame"
        before = (slider.input_value(), frame.get_attribute("src"))
        container.locator("button[title='Play']").click()
        try:
            page.wait_for_function(
                "([s, i, v, src]) => s.value !== v || i.getAttribute('src') !== src",
                arg=[slider.element_handle(), frame.element_handle(), *before],
                timeout=5_000,
            )
        except PlaywrightTimeout:
            pytest.fail("clicking Play did not advance the animation's frame within 5 s")
        container.locator("button[title='Pause']").click()
        after = (slider.input_value(), frame.get_attribute("src"))
    finally:
        page.close()
    assert after != before, "clicking Play did not advance the frame"
    assert not errors, errors


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("doc", by_page(PAGES + EXTRA_PAGES))
def test_page_is_accessible(visit, doc, theme):
    if AXE_SCRIPT is None:
        _unavailable("axe-playwright-python is not installed (pip install -r requirements-dev.txt)")
    failing = visit(doc).axe[theme]
    assert not failing, f"{doc}.html, {theme} theme, axe-core:\n  " + "\n  ".join(failing)


def test_missing_page_gets_the_404_page_with_its_styles(session, base_url):
    url = f"{base_url}{SITE_PREFIX}chapters/no-such-chapter.html"
    page, response, errors = _open(session, url)
    try:
        status = response.status if response else None
        title = page.title()
        styled = page.evaluate(
            "() => Array.from(document.styleSheets).some(s => (s.href || '').includes('theme.css'))"
        )
        home = page.locator("a.navbar-brand").first.get_attribute("href")
    finally:
        page.close()
    assert status == 404
    assert title.startswith("Page not found"), title
    assert styled, "the 404 page's style sheets did not load from a deep URL"
    errors = [e for e in errors if "no-such-chapter" not in e]  # the expected 404 itself
    assert not errors, errors
    assert home and home.startswith(SITE_PREFIX), f"the logo links to {home!r}"


@pytest.mark.parametrize("doc", by_page(PAGES + EXTRA_PAGES))
def test_nothing_is_wider_than_its_column(visit, doc):
    overflow = visit(doc).overflow
    problems = [f"{where}: {item}" for where in ("desktop", "print", "phone")
                for item in overflow.get(where, [])]
    assert not problems, (f"{doc}.html: wider than its column (desktop 1280 px, print, "
                          f"phone 390 px):\n  " + "\n  ".join(problems[:25]))


def _min_text_px(src: str) -> float | None:
    """The smallest text of a figure drawn by the book's style, in CSS pixels
    at its full displayed size (its PNG's ``Book-Min-Text-Px``)."""
    from PIL import Image

    path = _local_file(src)
    if path is None or not path.is_file():
        return None
    with Image.open(path) as image:
        value = image.info.get("Book-Min-Text-Px")
    return float(value) if value else None


@pytest.mark.parametrize("doc", by_page(PAGES))
def test_figures_are_sharp_and_legible_on_a_phone(visit, doc):
    """Every figure is vector (SVG), or a bitmap with at least DENSITY pixels
    per CSS pixel where it is shown (at 1280 px and at 390 px); and its smallest
    text, scaled to the width it is shown at on a 390 px phone, is at least
    MIN_TEXT_PX CSS pixels."""
    problems = []
    for figure in visit(doc).figures:
        src, natural = figure["src"], figure["natural"]
        name = unquote(urlsplit(src).path).rsplit("/", 1)[-1] if "://" in src else src[:40]
        if urlsplit(src).path.endswith(".svg") or src.startswith("data:image/svg"):
            continue
        widest = max(figure["shown"], figure["phone"])
        if natural < DENSITY * widest - 1:
            problems.append(f"{name}: {natural} px wide, shown {widest:.0f} px: "
                            f"under {DENSITY}x (blurred on a high-density screen)")
        smallest = _min_text_px(src)
        if smallest is None:
            problems.append(f"{name}: no Book-Min-Text-Px record (not drawn through "
                            "use_book_style's figure_png)")
            continue
        if not figure["phone"]:  # not shown on screen (a print-only stand-in)
            continue
        on_phone = smallest * figure["phone"] / (natural / DENSITY)
        if on_phone < MIN_TEXT_PX - 0.25:
            problems.append(f"{name}: smallest text {on_phone:.1f} px at phone width "
                            f"(at least {MIN_TEXT_PX:g})")
    assert not problems, f"{doc}.html figures:\n  " + "\n  ".join(problems)


SPY_PAGE = "chapters/09_low_rank_view"


def test_contents_marks_the_section_at_the_top(session, base_url):
    """The right-hand contents highlights the section whose heading is at the
    top of the window, not the one before it (no header hides the heading)."""
    _need_page(SPY_PAGE)
    page, response, errors = _open(session, f"{base_url}/{SPY_PAGE}.html")
    wrong = []
    try:
        page.evaluate(LOAD_IMAGES_JS)
        targets = page.evaluate("""() => Array.from(document.querySelectorAll(
            '#pst-page-toc-nav a.nav-link')).map(a => a.getAttribute('href'))""")
        assert targets, "no right-hand contents"
        for href in targets:
            top = page.evaluate("""h => { const el = document.getElementById(h.slice(1));
                const heading = el.querySelector('h1, h2, h3, h4') || el;
                window.scrollTo(0, heading.getBoundingClientRect().top + window.scrollY - 2);
                return heading.getBoundingClientRect().top; }""", href)
            page.wait_for_timeout(200)
            if top > 20:
                continue  # near the end of the page: the heading cannot reach the top
            active = page.evaluate("""() => Array.from(document.querySelectorAll(
                '#pst-page-toc-nav a.nav-link.active')).map(a => a.getAttribute('href'))""")
            if not active or active[-1] != href:
                wrong.append(f"{href}: contents highlights {active[-1:] or 'nothing'}")
    finally:
        page.close()
    assert not wrong, f"{SPY_PAGE}.html:\n  " + "\n  ".join(wrong)
