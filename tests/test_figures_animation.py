"""Tests of helpers.figures.animation: the sliding-window HTML is small, deterministic,
described for screen readers, and the arguments are checked."""

import pytest

from helpers.figures import animation

pytestmark = pytest.mark.usefixtures("close_figures")


def test_animation_is_deterministic_small_and_playable():
    html = animation.sliding_window_animation(input_size=5, kernel_size=3)
    assert html == animation.sliding_window_animation(input_size=5, kernel_size=3)
    assert len(html) < 400_000
    assert 'id="_anim_imgslidingwindow"' in html
    assert '<img alt="Animation: a 3 by 3 window slides over a 5 by 5 input' in html
    assert "play_animation" in html and "anim-slider" in html
    assert html.count("data:image/png;base64,") == 9  # one frame per output position


def test_animation_validates_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        animation.sliding_window_animation(input_size=3, kernel_size=4)
    with pytest.raises(ValueError, match="input_size"):
        animation.sliding_window_animation(input_size=20)
    with pytest.raises(ValueError, match="html_id"):
        animation.sliding_window_animation(html_id="not an id!")
    with pytest.raises(TypeError, match="input_size"):
        animation.sliding_window_animation(input_size=5.0)
