"""A real colour photo that ships offline, and a few classic filters.

The photo comes from scikit-learn's bundled sample images (no download), is
shrunk to a small size and returned in PyTorch's channel-first layout
``(C, H, W)`` with values in ``[0, 1]``. The filters are 2-D ``k x k`` NumPy
arrays of weights (cross-correlation kernels, as PyTorch uses them).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

from helpers.core._validate import require_int, require_positive_int

__all__ = [
    "MAX_FILTER_SIZE",
    "PHOTOS",
    "load_photo",
    "sobel_x",
    "sobel_y",
    "box_blur",
    "sharpen",
]

#: The photos scikit-learn ships.
PHOTOS: tuple[str, ...] = ("china.jpg", "flower.jpg")

#: The largest filter :func:`box_blur` makes: as wide as the widest photo
#: :func:`load_photo` gives (a larger window covers nothing more).
MAX_FILTER_SIZE = 640


def load_photo(name: str = "china.jpg", width: int = 128) -> np.ndarray:
    """Load a bundled colour photo, resized to ``width`` pixels wide.

    Returns a float64 array of shape ``(3, H, W)`` with values in ``[0, 1]``;
    the height keeps the photo's aspect ratio (the originals are 640 x 427).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {PHOTOS}, got {type(name).__name__}")
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {PHOTOS}, got {name!r}")
    width = require_int(width, "width", minimum=8)
    if width > 640:
        raise ValueError(f"width must be at most 640 (the original width), got {width}")
    photo = load_sample_image(name)  # (H, W, 3) uint8
    height = max(1, round(photo.shape[0] * width / photo.shape[1]))
    small = Image.fromarray(photo).resize((width, height), Image.Resampling.LANCZOS)
    array = np.asarray(small, dtype=np.float64) / 255.0
    return np.ascontiguousarray(np.clip(array, 0.0, 1.0).transpose(2, 0, 1))


def sobel_x() -> np.ndarray:
    """The 3x3 Sobel filter that responds to changes from left to right
    (vertical edges)."""
    return np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_y() -> np.ndarray:
    """The 3x3 Sobel filter that responds to changes from top to bottom
    (horizontal edges)."""
    return sobel_x().T.copy()


def box_blur(size: int = 3) -> np.ndarray:
    """A ``size x size`` box blur: the mean of the window (weights sum to 1);
    ``size`` is at most :data:`MAX_FILTER_SIZE`."""
    size = require_positive_int(size, "size", maximum=MAX_FILTER_SIZE)
    return np.full((size, size), 1.0 / (size * size))


def sharpen() -> np.ndarray:
    """The 3x3 sharpen filter: the pixel, plus how much it exceeds its four
    neighbours (weights sum to 1)."""
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])
