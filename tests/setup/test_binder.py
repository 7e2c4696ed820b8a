"""Binder (repo2docker) builds from binder/: its Python, its CPU torch, its pins."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines; pip options (``--...``, ``-r``) are skipped."""
    return dict(line.split("==") for line in requirement_lines(path) if not line.startswith("-"))


def test_runtime_txt_picks_a_python_every_pin_supports():
    # Without runtime.txt repo2docker picks an old default Python (3.10), which
    # numpy 2.4 does not support.
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(11|12|13)", runtime), runtime


def test_binder_installs_the_cpu_build_of_the_pinned_torch():
    lines = requirement_lines(BINDER / "requirements.txt")
    assert f"--extra-index-url {CPU_INDEX}" in lines, "torch's CPU build lives on its own index"
    main_torch = pins(ROOT / "requirements.txt")["torch"]
    assert pins(BINDER / "requirements.txt")["torch"] == f"{main_torch}+cpu"


def test_binder_pins_are_a_subset_of_requirements():
    binder, main = pins(BINDER / "requirements.txt"), pins(ROOT / "requirements.txt")
    for name, version in binder.items():
        assert name in main, f"binder installs {name}, which requirements.txt does not pin"
        assert main[name] == version.removesuffix("+cpu"), (
            f"binder pins {name}=={version}, requirements.txt {main[name]}")


def test_binder_has_what_the_notebooks_need_and_no_build_or_test_tools():
    binder = pins(BINDER / "requirements.txt")
    for name in ("torch", "numpy", "matplotlib", "pillow", "scikit-learn", "scipy"):
        assert name in binder, f"binder/requirements.txt lacks {name}"
    dev = pins(ROOT / "requirements-dev.txt")
    assert not set(binder) & (set(dev) | {"jupyter-book", "jupyterlab"})


def test_binder_installs_helpers():
    post_build = BINDER / "postBuild"
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
