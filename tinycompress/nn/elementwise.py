"""Elementwise layers: ReLU (Nair & Hinton 2010) and inverted dropout (Srivastava et al. 2014).

Neither has parameters or MultAdds (the convention of :mod:`.base`). Each maps every value on
its own, so the backward pass multiplies the upstream gradient by the same elementwise factor
the forward pass applied: ReLU's 0/1 mask, dropout's mask scaled by 1/(1-p).

Both are a pass or two over memory, so their time is memory traffic: ReLU keeps a boolean mask
(a quarter of a float32 array) rather than its input, and its backward pass writes the gradient
in the memory order of that mask, which is its input's. After a convolution that is batch-last
(C, H, W, N) memory (see :mod:`.depthwise`), so an upstream gradient in another order is
transposed once here and every layer below reads contiguous memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from .base import Layer


def in_layout_of(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``a`` (same shape as ``ref``) in ``ref``'s memory order: ``a`` itself if the strides
    already agree, else one copy. One transposing copy is cheaper than letting every later
    operation read two arrays of different orders (NumPy then strides through one of them)."""
    if a.itemsize == ref.itemsize and a.strides == ref.strides:
        return a
    out = np.empty_like(ref, dtype=a.dtype)
    out[...] = a
    return out


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`y = \max(0, x)`, and the mask :math:`x > 0` its backward pass needs.

    Shapes: x any; y and the boolean mask have x's shape, dtype and memory order.
    """
    return np.maximum(x, 0), x > 0


def relu_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r""":math:`\partial L/\partial x = g \cdot [x > 0]` (the kink at 0 gets gradient 0).

    The result has the mask's memory order (the forward input's), whatever the order of
    ``dout``: if they differ, ``dout`` is first copied into that order (:func:`in_layout_of`),
    the one pass that transposes the gradient for every layer below.
    Shapes: dout and mask alike; the result has dout's dtype.
    """
    g = in_layout_of(dout, mask)
    out = g if g is not dout else np.empty_like(mask, dtype=dout.dtype)  # never write to dout
    return np.multiply(g, mask, out=out)


class ReLU(Layer):
    r"""``max(0, x)``; backward passes the gradient where :math:`x > 0`."""

    prefix = "relu"
    kind = "relu"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if not train:
            self._keep(None, train)
            return np.maximum(x, 0)
        out, mask = relu_forward(x)
        self._keep(mask, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return relu_backward(dout, self._check_cached())


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale by 1/(1-p).

    Randomness comes from the layer's own Generator, seeded at construction, so two runs with
    the same seed drop the same units. At evaluation the layer is the identity.
    """

    prefix = "dropout"
    kind = "dropout"

    def __init__(self, p: float = 0.5, seed: int = 0, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise UsageError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.seed = float(p), int(seed)
        self.rng = np.random.default_rng(seed)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if not train or self.p == 0.0:
            self._cache = None
            return x
        self._cache = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)
        return x * self._cache

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout if self._cache is None else dout * self._cache

    def config(self) -> dict[str, Any]:
        return {"p": self.p, "seed": self.seed, "name": self.name}
