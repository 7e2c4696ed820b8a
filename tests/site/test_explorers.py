"""The explorers of chapters 1 and 5 (``_static/explorers.js``) in headless Chromium.

The built book (``_build/html``, from ``make build-check``) is served on 127.0.0.1;
Debian's Chromium (never a browser downloaded by Playwright) opens the pages and
every request to another host is aborted. The numbers the explorers show are
compared with the book's Python (``helpers.core.cost``, ``helpers.core.geometry``)
and with PyTorch's autograd on many random configurations; the keyboard drives
them; axe-core checks them in the light and dark themes; on paper the static
picture replaces them.

Environment variables: ``BOOK_HTML``, ``CHROMIUM_PATH`` and ``CI`` as in
``test_browser.py``.
"""

from __future__ import annotations

import functools
import http.server
import os
import random
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch

from helpers.core.cost import conv2d_macs, conv2d_params, separable_cost_ratio
from helpers.core.geometry import conv_output_size

try:
    from axe_playwright_python.base import AXE_SCRIPT
except ImportError:
    AXE_SCRIPT = None
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI") == "true"
FIELD_PAGE = "chapters/01_counting_parameters.html"
COST_PAGE = "chapters/05_depthwise_separable_convolution.html"
CONFIGURATIONS = 200
LOCAL_HOST = "127.0.0.1"
# Jupyter Book 1's pinned toolchain writes sphinx-thebe's inline config twice
# (see KNOWN_HARMLESS_ERRORS in test_browser.py): not the explorers' doing.
HARMLESS = ("Identifier 'THEBE_JS_URL' has already been declared",)


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(message)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def base_url():
    if not (HTML_DIR / FIELD_PAGE).is_file():
        _unavailable(f"no built book at {HTML_DIR}; run `make build-check` first")
    server = http.server.ThreadingHTTPServer(
        (LOCAL_HOST, 0), functools.partial(_Quiet, directory=str(HTML_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def context(base_url):
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    if sync_playwright is None:
        _unavailable("the playwright package is not installed")

    def offline(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host not in (None, LOCAL_HOST) and route.request.url.startswith(("http", "ws")):
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(30_000)
        ctx.route("**/*", offline)
        yield ctx
        ctx.close()
        browser.close()


def _open(context, base_url: str, page_path: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error))
            if not any(h in str(error) for h in HARMLESS) else None)
    page.goto(f"{base_url}/{page_path}", wait_until="load")
    page.wait_for_selector(".dsc-explorer.dsc-ready")
    return page, errors


# --- explorer 1: which inputs and weights feed one output --------------------

M, N, K, SIZE, PAD = 3, 3, 3, 8, 1
LAYERS = ("normal", "depthwise", "pointwise", "separable")


def _layer(kind: str) -> torch.nn.Module:
    """The running example's layer of this kind, all weights one, in float64."""
    def conv(i, o, k, groups=1):
        layer = torch.nn.Conv2d(i, o, k, padding=(k - 1) // 2, groups=groups, bias=False)
        torch.nn.init.ones_(layer.weight)
        return layer.double()

    return {
        "normal": lambda: conv(M, N, K),
        "depthwise": lambda: conv(M, M, K, groups=M),
        "pointwise": lambda: conv(M, N, 1),
        "separable": lambda: torch.nn.Sequential(conv(M, M, K, groups=M), conv(M, N, 1)),
    }[kind]()


@functools.cache
def _inputs_read(kind: str, out: int, row: int, col: int) -> frozenset[tuple[int, int, int]]:
    """The input pixels (channel, row, column) that output (out, row, col) depends
    on: the non-zero gradient of that output with respect to the input."""
    x = torch.rand(1, M, SIZE, SIZE, dtype=torch.float64, requires_grad=True)
    _layer(kind)(x)[0, out, row, col].backward()
    return frozenset(tuple(int(v) for v in index) for index in torch.nonzero(x.grad[0]))


def _macs_per_position(kind: str) -> int:
    """Multiply-adds per output position (all N outputs), from helpers.core.cost."""
    positions = conv_output_size(SIZE, K, padding=PAD) ** 2
    depthwise = conv2d_macs(M, M, K, SIZE, groups=M)
    pointwise = conv2d_macs(M, N, 1, SIZE)
    total = {"normal": conv2d_macs(M, N, K, SIZE), "depthwise": depthwise,
             "pointwise": pointwise, "separable": depthwise + pointwise}[kind]
    return total // positions


def _weights_per_output(kind: str) -> int:
    """The weights one output value uses, from helpers.core.cost."""
    return {"normal": conv2d_params(M, N, K) // N,
            "depthwise": conv2d_params(M, M, K, groups=M) // M,
            "pointwise": conv2d_params(M, N, 1) // N,
            "separable": conv2d_params(M, M, K, groups=M) + conv2d_params(M, N, 1) // N}[kind]


READ_FIELD_JS = """([out, row, col]) => {
  const root = document.querySelector('.dsc-explorer[data-explorer="field"]');
  root.querySelector(`[data-out-channel="${out}"]`).click();
  root.querySelector(`button.dsc-out[data-row="${row}"][data-col="${col}"]`).click();
  const result = {};
  for (const panel of root.querySelectorAll('[data-layer]')) {
    const stat = (key) => panel.querySelector(`[data-stat="${key}"]`).textContent;
    result[panel.dataset.layer] = {
      read: Array.from(panel.querySelectorAll('.dsc-in.dsc-read')).map(c =>
        [Number(c.dataset.channel), Number(c.dataset.row), Number(c.dataset.col)]),
      inputs: stat('inputs'), padding: stat('padding'), weights: stat('weights'),
      value: stat('macs-value'), position: stat('macs-position')};
  }
  return result;
}"""


def test_field_explorer_matches_autograd_and_the_cost_formulas(context, base_url):
    page, errors = _open(context, base_url, FIELD_PAGE)
    rng = random.Random(0)
    picks = [(rng.randrange(N), rng.randrange(SIZE), rng.randrange(SIZE))
             for _ in range(CONFIGURATIONS)]
    picks[:4] = [(0, 0, 0), (1, 0, SIZE - 1), (2, SIZE - 1, 0), (0, SIZE - 1, SIZE - 1)]
    for out, row, col in picks:
        shown = page.evaluate(READ_FIELD_JS, [out, row, col])
        for kind in LAYERS:
            panel = shown[kind]
            read = {tuple(cell) for cell in panel["read"]}
            inside = {cell for cell in read if 0 <= cell[1] < SIZE and 0 <= cell[2] < SIZE}
            assert inside == _inputs_read(kind, out, row, col), (kind, out, row, col)
            assert int(panel["inputs"]) == len(read)
            assert int(panel["padding"]) == len(read - inside)
            window = K if kind != "pointwise" else 1
            channels = 1 if kind == "depthwise" else M
            assert len(read) == channels * window * window
            assert int(panel["weights"]) == _weights_per_output(kind), kind
            assert int(panel["value"]) == _weights_per_output(kind), kind
            assert int(panel["position"].split(" = ")[0]) == _macs_per_position(kind), kind
    assert errors == []


# --- explorer 2: the cost of any layer ---------------------------------------

SET_COST_JS = """(values) => {
  const root = document.querySelector('.dsc-explorer[data-explorer="cost"]');
  for (const [key, value] of Object.entries(values)) {
    const input = root.querySelector(`input[data-field="${key}"]`);
    input.value = String(value);
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }
  const out = {};
  for (const node of root.querySelectorAll('[data-out]')) out[node.dataset.out] = node.textContent;
  out.valid = root.dataset.valid;
  return out;
}"""


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _expected_cost(m, n, k, h, s, p, d):
    try:
        size = conv_output_size(h, k, stride=s, padding=p, dilation=d)
    except ValueError:
        return None
    params = {"normal": conv2d_params(m, n, k), "depthwise": conv2d_params(m, m, k, groups=m),
              "pointwise": conv2d_params(m, n, 1)}
    macs = {"normal": conv2d_macs(m, n, k, size), "depthwise": conv2d_macs(m, m, k, size, groups=m),
            "pointwise": conv2d_macs(m, n, 1, size)}
    params["separable"] = params["depthwise"] + params["pointwise"]
    macs["separable"] = macs["depthwise"] + macs["pointwise"]
    return size, params, macs


def test_cost_explorer_matches_helpers_on_random_layers(context, base_url):
    page, errors = _open(context, base_url, COST_PAGE)
    rng = random.Random(1)
    configs = [dict(M=rng.choice([1, 2, 3, rng.randint(1, 1024)]),
                    N=rng.choice([1, 2, 3, rng.randint(1, 1024)]), k=rng.randint(1, 11),
                    H=rng.choice([rng.randint(1, 16), rng.randint(1, 512)]), s=rng.randint(1, 4),
                    p=rng.randint(0, 5), d=rng.randint(1, 4)) for _ in range(CONFIGURATIONS)]
    invalid = 0
    for values in configs:
        shown = page.evaluate(SET_COST_JS, values)
        m, n, k = values["M"], values["N"], values["k"]
        assert shown["formula"] == f"{float(separable_cost_ratio(n, k)):.4f}"
        expected = _expected_cost(m, n, k, values["H"], values["s"], values["p"], values["d"])
        if expected is None:
            invalid += 1
            assert shown["valid"] == "false" and shown["output-size"] == "none", values
            continue
        size, params, macs = expected
        assert shown["valid"] == "true", values
        assert shown["output-size"] == f"{size} x {size}", values
        for kind in params:
            assert _number(shown[f"{kind}-params"]) == params[kind], (kind, values)
            assert _number(shown[f"{kind}-macs"]) == macs[kind], (kind, values)
        ratio = params["separable"] / params["normal"]
        assert shown["ratio"] == f"{ratio:.4f}", values
        assert abs(ratio - float(separable_cost_ratio(n, k))) < 1e-12
    assert 0 < invalid < CONFIGURATIONS  # both kinds were exercised
    assert errors == []


# --- keyboard, accessibility, paper -------------------------------------------


def test_explorers_work_from_the_keyboard(context, base_url):
    page, errors = _open(context, base_url, FIELD_PAGE)
    root = page.locator('.dsc-explorer[data-explorer="field"]')
    root.locator('[data-out-channel="0"]').focus()
    page.keyboard.press("ArrowRight")  # the radio group moves to output channel 1
    assert root.locator('[data-out-channel="1"]').is_checked()
    page.keyboard.press("Tab")  # into the output grid: the selected position
    focused = page.evaluate("() => [document.activeElement.dataset.row,"
                            " document.activeElement.dataset.col]")
    assert focused == ["0", "0"]
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "End"):
        page.keyboard.press(key)
    selected = root.locator("button.dsc-out.dsc-selected")
    assert (selected.get_attribute("data-row"), selected.get_attribute("data-col")) == ("1", "7")
    assert selected.evaluate("b => b === document.activeElement")
    status = root.locator("[data-field-status]").text_content()
    assert "Output channel 1, row 1, column 7" in status

    page, errors2 = _open(context, base_url, COST_PAGE)
    cost = page.locator('.dsc-explorer[data-explorer="cost"]')
    cost.locator('input[data-field="N"]').focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("12")
    assert cost.locator('[data-out="normal-params"]').text_content() == "324"
    assert cost.locator('[data-out="separable-params"]').text_content() == "63"
    slider = cost.locator('input[type="range"]').first  # M's slider
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert cost.locator('input[data-field="M"]').input_value() == "4"
    assert errors == [] and errors2 == []


AXE_JS = """() => axe.run({include: [['.dsc-explorer']]},
  {resultTypes: ['violations']}).then(r => r.violations.filter(
    v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' +
    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join('; ')))"""


@pytest.mark.parametrize("page_path", [FIELD_PAGE, COST_PAGE])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_explorers_pass_axe(context, base_url, page_path, theme):
    if AXE_SCRIPT is None:
        _unavailable("axe-playwright-python is not installed")
    page, _ = _open(context, base_url, page_path)
    page.evaluate("t => { const h = document.documentElement; h.dataset.theme = t;"
                  " h.dataset.mode = t; }", theme)
    page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
    page.wait_for_timeout(100)
    page.evaluate(AXE_SCRIPT)
    assert page.evaluate(AXE_JS) == []


@pytest.mark.parametrize("page_path", [FIELD_PAGE, COST_PAGE])
def test_on_paper_the_static_picture_replaces_the_explorer(context, base_url, page_path):
    page, _ = _open(context, base_url, page_path)
    static = page.locator(".tag_explorer-static")
    assert static.count() == 1
    assert page.locator(".dsc-explorer").is_visible() and not static.is_visible()
    page.emulate_media(media="print")
    assert static.is_visible() and not page.locator(".dsc-explorer").is_visible()
