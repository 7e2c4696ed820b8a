"""Which oneDNN kernels PyTorch runs for a call, read from oneDNN's own log.

The chapter on cost uses it to show why a depthwise convolution on an NCHW
tensor is slow: oneDNN reorders the activations into its channel-blocked
layout and back around the kernel, which it does not do in ``channels_last``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

import torch

from helpers.core._validate import require_callable

__all__ = ["onednn_primitives"]


def onednn_primitives(fn: Callable[[], object]) -> list[dict[str, str]]:
    """Run ``fn()`` once with oneDNN's verbose mode on and list the primitives it
    executed, in order: ``kind`` (``"reorder"``, ``"convolution"``...),
    ``impl`` (the kernel oneDNN chose), the memory formats ``src``, ``wei`` and
    ``dst`` (e.g. ``"abcd"`` for NCHW, ``"acdb"`` for NHWC, ``"aBcd16b"`` for
    channels blocked by 16), ``problem`` and ``ms`` (oneDNN's own timing, as text).

    oneDNN writes its log to the process's standard output at the C level; this
    captures it through a temporary file. Empty where PyTorch has no oneDNN.
    """
    require_callable(fn, "fn", "a function of no arguments")
    if not torch.backends.mkldnn.is_available():
        fn()
        return []
    sys.stdout.flush()
    with tempfile.TemporaryFile() as log:
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                fn()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
    primitives = []
    for line in lines:
        fields = line.split(",")
        if len(fields) < 12 or fields[2:4] != ["primitive", "exec"]:
            continue
        formats = {}
        for token in fields[8].split():
            name, _, rest = token.partition(":")
            parts = rest.split(":")
            formats[name] = parts[3] if len(parts) > 3 else rest
        primitives.append({"kind": fields[5], "impl": fields[6],
                           "src": formats.get("src", ""), "wei": formats.get("wei", ""),
                           "dst": formats.get("dst", ""), "problem": fields[-2],
                           "ms": fields[-1]})
    return primitives
