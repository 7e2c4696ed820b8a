"""Binder installs from binder/: its pins must agree with requirements.txt."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return dict(line.split("==") for line in lines if line)


def test_binder_pins_are_a_subset_of_requirements():
    binder, main = pins(ROOT / "binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    for name, version in binder.items():
        if name in main:
            assert main[name] == version, f"binder pins {name}=={version}, main {main[name]}"
    assert binder["torch"] == "2.13.0"


def test_binder_installs_helpers():
    post_build = ROOT / "binder" / "postBuild"
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
