"""Shared test set-up: hypothesis profiles, one torch thread, headless figures.

Hypothesis profiles: ``default`` has no per-example deadline (timings on a
shared 2-core machine vary); choose another with ``HYPOTHESIS_PROFILE=thorough``
(more examples) or ``HYPOTHESIS_PROFILE=ci`` (derandomized: the same examples
every run). Property tests ask for at least their own number of examples
(:func:`examples`), more if the profile's ``max_examples`` is larger.

Figures are drawn with matplotlib's Agg backend (no window), and every test
module that draws uses the ``close_figures`` fixture.
"""

import os

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from helpers.core.threads import fixed_threads  # noqa: E402

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("default", **_COMMON)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def examples(n: int) -> settings:
    """At least ``n`` examples (more if the hypothesis profile asks for more)."""
    return settings(max_examples=max(n, settings.default.max_examples))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one torch thread: on tiny convolutions threads only add
    synchronisation (40x slower on a busy 2-core machine). Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    with fixed_threads(1):
        yield


@pytest.fixture
def close_figures():
    """Close every figure a test opened. Use it with
    ``pytestmark = pytest.mark.usefixtures("close_figures")``."""
    yield
    plt.close("all")


# One chapter's tests: ``pytest -m ch7`` (or ``make test-chapter N=7``). A test
# file belongs to the chapters of the topic or module its name holds
# (test_checks_overfitting.py, test_train.py: chapter 7). Files of no topic
# (validation, threads, the site, the set-up) belong to none.
TOPIC_CHAPTERS = {
    "counting": (1,),
    "geometry": (2,),
    "images": (2, 3),
    "animation": (2,),
    "convolution": (2, 3),
    "numpy_conv": (2, 3, 4, 5),
    "layers": (3, 4, 5),
    "separable": (4, 5),
    "cost": (1, 5, 6),
    "bench": (6,),
    "measure": (6, 8, 10),
    "roofline": (6,),
    "onednn": (6, 8),
    "overfitting": (7,),
    "cnn": (7,),
    "digits": (7,),
    "train": (7,),
    "stats": (7,),
    "architectures": (8,),
    "models": (8,),
    "paper_tables": (8,),
    "lowrank": (9,),
    "deployment": (10,),
    "folding": (10,),
    "quantize": (10,),
    "memory": (10,),
    "int8": (10,),
}


@pytest.fixture
def run_setup_cell(monkeypatch):
    """``run(source, on_colab)``: execute a notebook's set-up cell with
    ``subprocess.run`` recorded, not run, on Colab or not; returns the commands."""
    import subprocess
    import sys

    def run(source: str, on_colab: bool) -> list[list[str]]:
        commands: list[list[str]] = []
        monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(list(cmd)))
        if on_colab:
            monkeypatch.setitem(sys.modules, "google.colab", object())
        else:
            monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        exec(compile(source, "setup", "exec"), {})
        return commands

    return run


def chapters_of(stem: str) -> tuple[int, ...]:
    """The chapters a test file ``test_<...>.py`` belongs to, from the topics in its name."""
    name = stem.removeprefix("test_")
    return tuple(sorted({c for topic, chapters in TOPIC_CHAPTERS.items()
                         if topic in name for c in chapters}))


def pytest_configure(config):
    for chapter in range(1, 11):
        config.addinivalue_line("markers", f"ch{chapter}: a test of chapter {chapter}'s code")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for chapter in chapters_of(item.path.stem):
            item.add_marker(f"ch{chapter}")
