"""Hypothesis profiles for the property tests.

``default``: no per-example deadline (timings on a shared 2-core machine vary).
Choose another with ``HYPOTHESIS_PROFILE=thorough`` (more examples) or
``HYPOTHESIS_PROFILE=ci`` (derandomized: the same examples every run).
Property tests ask for at least their own number of examples, more if the
profile's ``max_examples`` is larger.
"""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("default", **_COMMON)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one torch thread: on tiny convolutions threads only add
    synchronisation (40x slower on a busy 2-core machine). Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
