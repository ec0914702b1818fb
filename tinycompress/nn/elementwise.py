"""Layers of the NumPy engine: forward, hand-derived backward, and shape-only counting.

Every layer keeps the maths in small pure functions, CS231n style::

    out, cache = conv2d_forward(x, W, b, stride, padding)
    dx, dW, db = conv2d_backward(dout, cache)

and a thin object around them that holds ``params``, ``grads``, ``buffers`` (non-trainable state
such as BatchNorm's running statistics) and ``constraints`` (compression state, see
:class:`Constraint`). Shapes are NCHW; arrays are float32 unless a test asks for float64. A
convolution's output is an NCHW *view* of batch-last (C, H, W, N) memory, which elementwise
layers and pooling keep (NumPy allocates results in their inputs' memory order): see
:func:`im2col` for why.

Counting convention (used by every counter and every chapter, the MobileNet paper's): a
*MultAdd* is one multiply-accumulate of a convolution or fully-connected weight. Bias additions,
BatchNorm, activations and pooling are not counted. Counting needs shapes only, never data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer


class ReLU(Layer):
    r"""``max(0, x)``; backward passes the gradient where :math:`x > 0`."""

    prefix = "relu"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout * self._check_cached()


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale by 1/(1-p).

    Randomness comes from the layer's own Generator, seeded at construction, so two runs with
    the same seed drop the same units. At evaluation the layer is the identity.
    """

    prefix = "dropout"

    def __init__(self, p: float = 0.5, seed: int = 0, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
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
