"""What training costs beyond the forward pass (chapter 10): activation memory
and a training step to time.

- :func:`saved_tensor_bytes`: the bytes autograd keeps from a training-mode
  forward pass for the backward pass, split into activations and parameters
  (measured with ``torch.autograd.graph.saved_tensors_hooks``; works on the
  ``meta`` device, so large batches cost nothing to measure).
- :func:`forward_backward`: one training step's forward and backward pass as a
  callable, to time with :func:`helpers.lab.timing.time_calls`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from helpers.core._validate import require_module, require_seed, require_tensor

__all__ = ["SavedTensors", "forward_backward", "saved_tensor_bytes"]


@dataclass(frozen=True)
class SavedTensors:
    """What autograd keeps from one forward pass for the backward pass.

    ``activation_bytes``: tensors computed from the input (layer inputs and
    outputs, batch norm statistics); ``parameter_bytes``: the model's own
    parameters and buffers that operations keep a reference to (no extra
    memory: they exist anyway). Each storage is counted once, however many
    operations save it or views of it.
    """

    activation_bytes: int
    parameter_bytes: int
    activation_tensors: int

    @property
    def total_bytes(self) -> int:
        return self.activation_bytes + self.parameter_bytes


def _storage_key(t: torch.Tensor) -> int:
    # The address of the storage object: shared by every view of one storage,
    # and unique while the tensor is alive (true on the meta device too, where
    # data_ptr() is 0 for every tensor).
    return t.untyped_storage()._cdata


def _save_state(model: nn.Module) -> tuple[list, list]:
    """The train/eval modes and buffers (batch norm statistics) of ``model``."""
    with torch.inference_mode(False):
        return ([(m, m.training) for m in model.modules()],
                [(b, b.detach().clone()) for b in model.buffers()])


def _restore_state(state: tuple[list, list]) -> None:
    modes, buffers = state
    for m, training in modes:
        m.training = training
    with torch.no_grad():
        for b, value in buffers:
            b.copy_(value)


def _run(module: nn.Module, x: torch.Tensor, name: str = "model") -> torch.Tensor:
    """``module(x)``; a model that cannot run on ``x`` raises a ValueError naming ``x``
    instead of PyTorch's error from deep inside."""
    try:
        return module(x)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"x ({tuple(x.shape)}, {x.dtype}, on {x.device}) does not fit the "
                         f"{name}: {error}") from error


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor) -> SavedTensors:
    """Measure what a training-mode forward pass of ``model`` on ``x`` saves for backward.

    Runs ``model(x)`` in training mode with gradients enabled under
    ``torch.autograd.graph.saved_tensors_hooks``, which hands every tensor an
    operation saves to a hook; the hook records its storage. Batch norm
    running statistics and the model's modes are restored afterwards, also when
    ``x`` does not fit the model (a ValueError). On the ``meta`` device (model and
    ``x``) nothing is computed, only shapes, so this is cheap for any batch.
    """
    model = require_module(model)
    x = require_tensor(x, "x")
    owned = {_storage_key(t) for t in (*model.parameters(), *model.buffers())}
    seen: dict[int, tuple[int, bool]] = {}
    keep: list[torch.Tensor] = []  # keeps the storages alive, so keys stay unique

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in seen:
            seen[key] = (t.untyped_storage().nbytes(), key in owned)
            keep.append(t)
        return t

    state = _save_state(model)
    try:
        model.train()
        with torch.inference_mode(False), torch.enable_grad():
            if x.is_inference():  # made under inference mode: autograd cannot save it
                x = x.clone()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                _run(model, x)
    finally:
        _restore_state(state)
    activations = [n for n, is_owned in seen.values() if not is_owned]
    parameters = [n for n, is_owned in seen.values() if is_owned]
    return SavedTensors(sum(activations), sum(parameters), len(activations))



def forward_backward(module: nn.Module, x: torch.Tensor, seed: int = 0) -> Callable[[], None]:
    """A callable that runs one forward and backward pass of ``module`` on ``x``.

    The module runs in training mode, as in training; the input needs its
    gradient too (as for any layer but the first), and the output's gradient is
    a fixed random tensor (seeded). After each call the parameters' gradients are
    put back as they were (``None`` if they were), and the module's modes and
    batch norm statistics are restored, so repeated calls do the same work and
    leave the module as it was given. A ``x`` that does not fit the module is
    refused (ValueError) here, by a trial forward pass that changes nothing. Works
    inside ``torch.inference_mode()`` too.
    """
    module = require_module(module, "module")
    x = require_tensor(x, "x")
    seed = require_seed(seed, "seed")
    if not (x.is_floating_point() and x.numel()):
        raise ValueError(f"x must be a non-empty floating-point tensor (its gradient is "
                         f"computed), got dtype {x.dtype} and shape {tuple(x.shape)}")
    with torch.inference_mode(False):
        x = x.detach().clone().requires_grad_(True)
        state = _save_state(module)
        try:
            module.eval()
            with torch.no_grad():
                shape = _run(module, x, "module").shape
        finally:
            _restore_state(state)
        generator = torch.Generator().manual_seed(seed)
        grad = torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)
    params = [p for p in module.parameters() if p.requires_grad]

    def step() -> None:
        state, grads = _save_state(module), [p.grad for p in params]
        try:
            module.train()
            for p in params:
                p.grad = None
            with torch.inference_mode(False), torch.enable_grad():
                torch.autograd.backward(module(x), grad)
        finally:
            _restore_state(state)
            x.grad = None
            for p, g in zip(params, grads, strict=True):
                p.grad = g

    return step
