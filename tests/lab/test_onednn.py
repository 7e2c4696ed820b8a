"""onednn_primitives reads the kernels oneDNN ran from its verbose log."""

import pytest
import torch

from helpers.lab.onednn import onednn_primitives


def test_nchw_depthwise_reorders_its_activation_and_channels_last_does_not():
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False).eval()
    x = torch.randn(1, 16, 20, 20)
    with torch.inference_mode():
        conv(x)
        steps = onednn_primitives(lambda: conv(x))
        out = conv(x)
    # The pinned CPU build of PyTorch ships oneDNN; chapter 6's claim is about it.
    assert torch.backends.mkldnn.is_available(), "this PyTorch has no oneDNN"
    assert all(set(s) == {"kind", "impl", "src", "wei", "dst", "problem", "ms"} for s in steps)
    kinds = [s["kind"] for s in steps]
    assert "convolution" in kinds
    last = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False).eval()
    last.load_state_dict(conv.state_dict())
    last = last.to(memory_format=torch.channels_last)
    xl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        last(xl)
        nhwc = onednn_primitives(lambda: last(xl))
        assert torch.allclose(last(xl), out, atol=1e-5)
    activation = "1x16x20x20"
    # Chapter 6's claim: NCHW depthwise reorders the activation around the kernel
    # on every call; channels_last does not.
    assert any(s["kind"] == "reorder" and s["problem"] == activation for s in steps)
    assert not any(s["kind"] == "reorder" and s["problem"] == activation for s in nhwc)
    assert any(s["kind"] == "convolution" and s["src"] == "acdb" for s in nhwc)
    with pytest.raises(TypeError, match="fn"):
        onednn_primitives("conv")
