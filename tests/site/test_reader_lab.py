"""The reader notebooks in the real JupyterLab of the reader's install, in headless
Chromium: the rendered Markdown holds no raw MyST role or fence, and every
solution is collapsed. A screenshot per chapter goes to ``_build/reader-screens/``
(``NN_name.png``, the top; ``NN_name-exercise.png``, the first exercise), and
``before_01.png`` shows chapter 1's own source, markup and all.

Needs the contributor's install (Playwright) and Chromium (``CHROMIUM_PATH``,
default ``/usr/bin/chromium``); skips without them, fails with ``CI=true``.
"""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
READER = sorted((ROOT / "notebooks").glob("*.ipynb"))
BEFORE = ROOT / "chapters" / "01_counting_parameters.ipynb"
SCREENS = ROOT / "_build" / "reader-screens"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
JUPYTER = Path(sys.executable).parent / "jupyter"
HOST = "127.0.0.1"
RAW = ("{glue", "{cite", "{ref}", "{doc}", "```{", ":::{", ":::")
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reader-lab")]


def _unavailable(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving the repository on a free local port, with a token."""
    if not JUPYTER.is_file():
        _unavailable(f"no JupyterLab at {JUPYTER}")
    home = tmp_path_factory.mktemp("lab")
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (not only those in view), so every Markdown cell is checked.
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # No "Jupyter news?" prompt over the screenshots (and no fetching of news).
    (home / "settings" / "@jupyterlab" / "apputils-extension").mkdir()
    (home / "settings" / "@jupyterlab" / "apputils-extension" /
     "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--allow-root", "--no-browser", f"--ServerApp.ip={HOST}",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start")
            time.sleep(0.5)
    yield url, token
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    if sync_playwright is None:
        _unavailable("Playwright is not installed (the contributor's install)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = chromium.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        # Offline: only the local server answers.
        context.route("**/*", lambda route: route.continue_()
                      if urlsplit(route.request.url).hostname in (HOST, None) else route.abort())
        yield context
        context.close()
        chromium.close()


def open_in_lab(browser, lab, path: Path):
    """The page showing ``path`` in JupyterLab once every Markdown cell rendered."""
    url, token = lab
    page = browser.new_page()
    # ?reset: a fresh workspace, only this notebook open.
    page.goto(f"{url}/lab/tree/{path.relative_to(ROOT).as_posix()}?reset&token={token}")
    markdown_cells = sum(c.cell_type == "markdown"
                         for c in nbformat.read(path, as_version=4).cells)
    # Every Markdown cell rendered, and none still empty (on a busy machine the
    # elements appear before their content).
    page.wait_for_function(
        "n => { const shown = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-MarkdownCell .jp-RenderedMarkdown'); return shown.length >= n && "
        "[...shown].every(e => e.textContent.trim().length > 0); }",
        arg=markdown_cells, timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # MathJax typesets after rendering
    return page


SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMarkdown"


def rendered_markdown(page) -> str:
    return "\n".join(page.locator(SHOWN).all_inner_texts())


def test_the_check_sees_markup_in_a_chapters_source(lab, browser):
    """Before: the chapter itself shows its roles and fences raw in JupyterLab."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page = open_in_lab(browser, lab, BEFORE)
    try:
        page.screenshot(path=str(SCREENS / "before_01.png"))
        text = rendered_markdown(page)
    finally:
        page.close()
    assert "{glue:text}" in text and ":::{" in text


@pytest.mark.parametrize("path", READER, ids=lambda p: p.name)
def test_reader_notebook_renders_without_markup_and_solutions_collapsed(lab, browser, path):
    SCREENS.mkdir(parents=True, exist_ok=True)
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                       if c.cell_type == "markdown")
    solutions = source.count("<details>")
    page = open_in_lab(browser, lab, path)
    try:
        page.screenshot(path=str(SCREENS / f"{path.stem}.png"))
        text = rendered_markdown(page)
        count = page.locator(f"{SHOWN} details").count()
        opened = page.locator(f"{SHOWN} details[open]").count()
        summaries = page.locator(f"{SHOWN} details > summary").all_inner_texts()
        if count:
            heading = page.locator(f"{SHOWN} h3", has_text=re.compile(r"^Exercise")).first
            heading.evaluate("h => h.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENS / f"{path.stem}-exercise.png"))
    finally:
        page.close()
    raw = [r for r in RAW if r in text]
    assert not raw, f"raw MyST in the rendered notebook: {raw}"
    assert count == solutions > 0, "every solution is a <details> that JupyterLab renders"
    assert opened == 0, "a solution is open"
    assert all(re.fullmatch(r"Solution to Exercise \d+\.\d+", s.strip()) for s in summaries)
    assert re.search(r"Exercise \d+\.1\b", text), "the exercises are numbered headings"


HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html")


@pytest.mark.parametrize("path", READER, ids=lambda p: p.name)
def test_the_sites_launch_buttons_open_the_reader_notebook(path):
    page = HTML / "chapters" / f"{path.stem}.html"
    if not page.is_file():
        _unavailable(f"no built page {page} (make build-check)")
    links = set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)/[^"]+)"',
                           page.read_text(encoding="utf-8")))
    assert len(links) == 2, links
    assert all(link.endswith(f"notebooks/{path.name}") for link in links), links
