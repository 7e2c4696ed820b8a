"""Tests of helpers.book.figures.animation: the sliding-window HTML is small, deterministic,
described for screen readers, and the arguments are checked."""

import pytest

from helpers.book.figures import animation

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


def test_animation_of_a_given_example_is_sharp_and_described():
    import base64
    import io
    import re

    import numpy as np
    from PIL import Image

    x = np.arange(25, dtype=float).reshape(5, 5) % 4
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    html = animation.sliding_window_animation(x, kernel, dpi=150)
    assert html.count("data:image/png;base64,") == 16
    assert "a 2 by 2 window slides over a 5 by 5 input" in html
    assert 'style="width: 640px; max-width: 100%' in html
    first = re.search(r'frames\[0\] = "data:image/png;base64,(.*?)"', html, flags=re.S)
    frame = Image.open(io.BytesIO(base64.b64decode(re.sub(r"\\\n|\s", "", first.group(1)))))
    assert frame.width == 960  # 6.4 inches at 150 dpi, shown at 640 CSS pixels
    with pytest.raises(ValueError, match="whole numbers"):
        animation.sliding_window_animation(x + 0.5, kernel)
    with pytest.raises(ValueError, match="both"):
        animation.sliding_window_animation(x)
    with pytest.raises(ValueError, match="square"):
        animation.sliding_window_animation(x[:, :4], kernel)


def test_animation_loads_nothing_from_the_network():
    html = animation.sliding_window_animation(input_size=4, kernel_size=3)
    assert "http://" not in html and "https://" not in html
    assert "font-awesome" not in html and 'class="fa ' not in html
    assert html.count("<button") == 9 and html.count('aria-hidden="true">') == 9
