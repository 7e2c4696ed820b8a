"""The cheat sheet's PyTorch/Keras mapping, proved with Keras itself (Keras 3 on
its PyTorch backend, so no TensorFlow): the weight conversions, "valid" and
"same" padding, stride 1 and 2, depth multipliers, and where TensorFlow's "same"
puts its zeros (bottom/right first) compared with the book's symmetric padding.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from helpers.book.checks.frameworks import reference_to_keras, reference_to_torch  # noqa: E402
from helpers.core.layers import DepthwiseSeparableConv2d  # noqa: E402

assert keras.backend.backend() == "torch"

# Keras' own NumPy-2 deprecation notices, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def keras_forward(layer: keras.layers.Layer, x: np.ndarray) -> np.ndarray:
    """Run a Keras layer on a PyTorch-layout (B, M, H, W) array; answer in that layout."""
    out = layer(x.transpose(0, 2, 3, 1))
    return keras.ops.convert_to_numpy(out).transpose(0, 3, 1, 2)


def tf_same_padding(size: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same": the total needed for ceil(size / stride) outputs,
    the smaller half before (top/left), the larger after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


CASES = [  # (M, m, N, k, stride, size, padding)
    (3, 1, 4, 3, 1, 8, "valid"), (3, 2, 5, 3, 1, 7, "same"), (2, 3, 4, 5, 2, 9, "valid"),
    (4, 1, 3, 3, 2, 8, "same"), (3, 2, 2, 3, 2, 9, "same"), (2, 1, 3, 5, 2, 10, "same"),
]


@pytest.mark.parametrize(("m", "mult", "n", "k", "stride", "size", "padding"), CASES)
def test_separable_layer_maps_to_keras(m, mult, n, k, stride, size, padding):
    torch.manual_seed(0)
    ours = DepthwiseSeparableConv2d(m, n, k, stride=stride, padding=padding,
                                    depth_multiplier=mult).double()
    depthwise = ours.depthwise.weight.detach().numpy()
    pointwise = ours.pointwise.weight.detach().numpy()
    bias = ours.pointwise.bias.detach().numpy()
    assert ours.depthwise.bias is None  # one bias, as in Keras
    layer = keras.layers.SeparableConv2D(n, k, strides=stride, padding=padding,
                                         depth_multiplier=mult, dtype="float64")
    layer.build((None, size, size, m))
    depthwise_kernel, pointwise_kernel = reference_to_keras(depthwise, pointwise, mult)
    assert depthwise_kernel.shape == (k, k, m, mult)
    assert pointwise_kernel.shape == (1, 1, m * mult, n)
    layer.set_weights([depthwise_kernel, pointwise_kernel, bias])
    x = np.random.default_rng(1).standard_normal((2, m, size, size))
    theirs = keras_forward(layer, x)

    # Keras' "same" is TensorFlow's: explicit zeros, bottom/right first.
    dw, pw = torch.from_numpy(depthwise), torch.from_numpy(pointwise)
    if padding == "same":
        (top, bottom), (left, right) = (tf_same_padding(size, k, stride),) * 2
        padded = F.pad(torch.from_numpy(x), (left, right, top, bottom))
    else:
        padded = torch.from_numpy(x)
    hidden = F.conv2d(padded, dw, stride=stride, groups=m)
    want = F.conv2d(hidden, pw, torch.from_numpy(bias)).numpy()
    np.testing.assert_allclose(theirs, want, rtol=1e-12, atol=1e-12)

    with torch.no_grad():
        book = ours(torch.from_numpy(x)).numpy()
    assert book.shape == theirs.shape  # same output size in every case
    symmetric = padding == "valid" or stride == 1 or (
        tf_same_padding(size, k, stride)[0] == tf_same_padding(size, k, stride)[1])
    if symmetric:
        np.testing.assert_allclose(book, theirs, rtol=1e-12, atol=1e-12)
    else:  # the book pads symmetrically (torchvision's choice): windows one pixel apart
        assert not np.allclose(book, theirs)

    # And back: the inverse conversion gives PyTorch's weights again.
    back_dw, back_pw = reference_to_torch(*(layer.get_weights()[:2]))
    np.testing.assert_array_equal(back_dw, depthwise)
    np.testing.assert_array_equal(back_pw, pointwise)


def test_stride_two_same_pads_bottom_right_only():
    # A 3x3 kernel, stride 2, even size: TensorFlow adds one zero, after.
    assert tf_same_padding(8, 3, 2) == (0, 1)
    x = np.arange(64, dtype=np.float64).reshape(1, 1, 8, 8)
    layer = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False,
                                         dtype="float64")
    layer.build((None, 8, 8, 1))
    kernel = np.zeros((3, 3, 1, 1))
    kernel[0, 0] = 1.0  # picks the top-left pixel of each window
    layer.set_weights([kernel])
    out = keras_forward(layer, x)[0, 0]
    # The first window starts at row 0, column 0 (no zero on top or left).
    np.testing.assert_array_equal(out, x[0, 0, ::2, ::2])


@pytest.mark.parametrize(("layer", "shape", "convert"), [
    (lambda: keras.layers.Conv2D(5, (3, 2), dtype="float64"), (5, 6, 3, 2),
     lambda w: w.transpose(2, 3, 1, 0)),
    (lambda: keras.layers.Conv2D(6, 3, groups=3, dtype="float64"), (6, 2, 3, 3),
     lambda w: w.transpose(2, 3, 1, 0)),
    (lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, dtype="float64"),
     (12, 1, 3, 3), lambda w: w.reshape(6, 2, 3, 3).transpose(2, 3, 0, 1)),
])
def test_cheat_sheet_weight_conversions(layer, shape, convert):
    rng = np.random.default_rng(2)
    in_channels = 6
    layer = layer()
    layer.build((None, 9, 9, in_channels))
    weight = rng.standard_normal(shape)
    groups = in_channels // shape[1]
    kernel = convert(weight)
    layer.set_weights([kernel, np.zeros(layer.get_weights()[1].shape)])
    x = rng.standard_normal((2, in_channels, 9, 9))
    want = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), groups=groups).numpy()
    np.testing.assert_allclose(keras_forward(layer, x), want, rtol=1e-12, atol=1e-12)
