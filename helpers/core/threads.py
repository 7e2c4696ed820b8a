"""The one place that pins PyTorch's thread count.

Small tensors run faster and, above all, sum in the same order on one thread,
so timings, training runs and tests fix the count for a block and restore it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from helpers.core._validate import require_positive_int

#: The most threads a block may ask for: more than any CPU the book runs on has
#: cores (a larger count is a typo, and would start that many threads).
MAX_THREADS = 1024


@contextlib.contextmanager
def fixed_threads(threads: int = 1) -> Iterator[int]:
    """Run a block with ``torch.set_num_threads(threads)``; restore the old value after.
    ``threads`` is at most :data:`MAX_THREADS`."""
    threads = require_positive_int(threads, "threads", maximum=MAX_THREADS)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
