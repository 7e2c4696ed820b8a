"""Tests of what every checker shares: it never crashes on what a learner's code
returns or raises, it refuses a non-function, its messages are wrapped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import GARBAGE, MORE_GARBAGE, assert_fails, find_checkers, required_arguments
from torch import nn

from helpers.book.checks import WIDTH, CheckResult, failed, passed, wrap
from helpers.book.checks._common import as_array, as_int, as_real, close, rtol_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Every checker, found by walking the package (see ``find_checkers``).
CHECKERS = find_checkers()
ALL_CHECKERS = tuple(CHECKERS.values())
IDS = tuple(CHECKERS)


def test_every_checker_is_found_and_has_one_name():
    names = [check.__name__ for check in ALL_CHECKERS]
    assert len(names) == len(set(names)), sorted(names)
    assert len(ALL_CHECKERS) >= 16
    for known in ("frameworks.check_keras_layout", "deployment.check_fold_batch_norm",
                  "deployment.check_channel_scales", "architectures.check_mobilenet_macs"):
        assert known in CHECKERS


def _module_returning(value):
    class Returns(nn.Module):
        def __init__(self, *args):
            super().__init__()
            self.depthwise = nn.Conv2d(1, 1, 1)
            self.pointwise = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return value

    return Returns


def _run(check, fn):
    return check(*[fn] * required_arguments(check))


@pytest.mark.parametrize("value", GARBAGE + MORE_GARBAGE, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("check", ALL_CHECKERS, ids=IDS)
def test_no_checker_crashes_on_what_a_function_returns(check, value):
    assert_fails(_run(check, lambda *args, v=value: v))
    assert_fails(_run(check, lambda *args, v=value: (v, v)))


@pytest.mark.parametrize("value", [None, "y", np.array(["a"]), torch.zeros(2, 3), 1.5],
                         ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("check", ALL_CHECKERS, ids=IDS)
def test_no_checker_crashes_on_what_a_module_computes(check, value):
    assert_fails(_run(check, _module_returning(value)))


@pytest.mark.parametrize("check", ALL_CHECKERS, ids=IDS)
def test_every_checker_reports_the_learners_exception(check):
    def broken(*args):
        raise KeyError("oops")

    assert_fails(_run(check, broken), "raised KeyError", "oops")


@pytest.mark.parametrize("check", ALL_CHECKERS, ids=IDS)
def test_every_checker_refuses_what_is_not_callable(check):
    with pytest.raises(TypeError, match="must be"):
        _run(check, 42)


def test_messages_are_wrapped_without_breaking_short_groups():
    text = ("fn(input_size=5, kernel_size=2, padding=0, stride=1, dilation=2) returned 4. "
            + "Use x.reshape(C_in, H * W) and then " * 5)
    wrapped = wrap(text)
    assert all(len(line) <= WIDTH for line in wrapped.splitlines())
    assert " ".join(wrapped.split()) == " ".join(text.split())
    assert all("x.reshape(C_in, H * W)" in line or "reshape" not in line
               for line in wrapped.splitlines())
    assert wrap("first\nsecond") == "first\nsecond"
    assert failed("x " * 100).message == wrap("x " * 100)
    result = passed("ok")
    assert isinstance(result, CheckResult) and result and str(result) == repr(result) == "ok"


def test_numbers_are_read_the_same_way_everywhere():
    for value in (51, np.int64(51), np.uint8(51), np.array(51), torch.tensor(51)):
        assert as_int(value, "fn()") == 51
    for value in (51.0, np.float64(51), True, np.bool_(True), "51", np.array([51])):
        with pytest.raises(Exception, match="whole number"):
            as_int(value, "fn()")
    assert as_real(0.1, "fn()") == (0.1, rtol_for(np.float64))
    assert as_real(float(np.float32(0.1)), "fn()")[1] == rtol_for(np.float32)  # .item()
    assert as_real(np.float32(0.5), "fn()") == (0.5, rtol_for(np.float32))
    assert as_real(torch.tensor(0.5), "fn()") == (0.5, rtol_for(np.float32))
    assert as_real(np.int64(2), "fn()")[0] == 2.0
    for value in (True, "0.5", 1j, np.array([0.5]), None):
        with pytest.raises(Exception, match="a number"):
            as_real(value, "fn()")


def test_tolerance_follows_the_dtype():
    want = np.array([1.0, -2.0, 3.0])
    off = want + 2e-7  # what a correct float32 computation may be off by
    assert close(*as_array(off.astype(np.float32), "fn()")[:1], want,
                 as_array(off.astype(np.float32), "fn()")[1])
    assert not close(off, want, as_array(off, "fn()")[1])  # float64 must be tight
    assert close(want + 1e-13, want, as_array(want, "fn()")[1])
    assert not close(want + 1e-3, want, rtol_for(np.float32))
    assert close(*as_array(torch.tensor(want).bfloat16(), "fn()")[:1], want,
                 as_array(torch.tensor(want).bfloat16(), "fn()")[1])
    assert as_array([[1, 2]], "fn()")[0].dtype == np.float64
