import pytest

from helpers.checks import CheckResult
from helpers.checks.counting import CASES, check_separable_params, expected_separable_params


def correct(m, n, k, bias):
    return k * k * m + m * n + ((m + n) if bias else 0)


def test_reference_answer_matches_the_seed_example():
    assert expected_separable_params(3, 3, 3, False) == 36


def test_correct_answer_passes_every_case():
    result = check_separable_params(correct)
    assert isinstance(result, CheckResult) and result.passed
    assert str(len(CASES)) in result.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda m, n, k, b: k * k * m * n, "normal convolution"),
        (lambda m, n, k, b: k * k * m, "only the depthwise step"),
        (lambda m, n, k, b: m * n, "only the pointwise step"),
        (lambda m, n, k, b: k * k * m + m * n, "one bias"),
        (lambda m, n, k, b: k * k * m + m * n + m + n, "count no biases"),
        (lambda m, n, k, b: k * k * m + m * n + (n if b else 0), "depthwise step has biases"),
    ],
)
def test_typical_mistakes_get_a_pointed_hint(answer, hint):
    result = check_separable_params(answer)
    assert not result.passed
    assert hint in result.message
    assert "expected" in result.message


def test_non_int_and_raising_answers_are_reported_not_raised():
    assert "int" in check_separable_params(lambda m, n, k, b: float(correct(m, n, k, b))).message
    assert "ZeroDivisionError" in check_separable_params(lambda m, n, k, b: 1 // 0).message


def test_checker_rejects_a_non_function():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_separable_params(42)
