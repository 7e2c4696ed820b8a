"""Print the single-page build of the book to one PDF, offline (``make pdf``).

Usage: ``python _ext/print_pdf.py SINGLEHTML_DIR OUTPUT.pdf``

The directory (Sphinx's ``singlehtml`` build) is served on 127.0.0.1 and
opened in headless Chromium (Debian's, never one Playwright downloads; set
``CHROMIUM_PATH`` for another). Every request to another host is refused, so
the PDF shows only what the book ships. Before printing, every image is loaded
and MathJax (served from the book's own ``_static``) has typeset every
formula; the page is printed in the light theme, A4, with page numbers and a
PDF outline (bookmarks) from the headings.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
HOST = "127.0.0.1"
TIMEOUT_MS = 120_000

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

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def print_pdf(html_dir: Path, output: Path) -> float:
    """Print ``html_dir``'s root page to ``output``; return the seconds it took."""
    start = time.perf_counter()
    root = "index.html"
    if (html_dir / "index.html").is_file() and "Refresh" in (html_dir / "index.html").read_text():
        # Jupyter Book writes index.html as a redirect to the root document.
        root = next(p.name for p in sorted(html_dir.glob("*.html")) if p.name != "index.html")
    handler = functools.partial(_Quiet, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context(color_scheme="light", service_workers="block")
            context.route("**/*", lambda route: route.continue_()
                          if urlsplit(route.request.url).hostname in (HOST, None)
                          else route.abort())
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://{HOST}:{server.server_address[1]}/{root}",
                      wait_until="load", timeout=TIMEOUT_MS)
            state = page.evaluate(READY_JS)
            if state != "ready":
                raise SystemExit(f"not printing: {state}")
            page.emulate_media(media="print", color_scheme="light")
            output.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(output), format="A4", print_background=True,
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER, outline=True, tagged=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return time.perf_counter() - start


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    seconds = print_pdf(source, target)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB) printed in {seconds:.0f} s")
