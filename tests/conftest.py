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
