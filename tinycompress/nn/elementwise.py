"""Elementwise layers: ReLU (Nair & Hinton 2010) and inverted dropout (Srivastava et al. 2014).

Neither has parameters or MultAdds (the convention of :mod:`.base`). Each maps every value on
its own, so the backward pass multiplies the upstream gradient by the same elementwise factor
the forward pass applied: ReLU's 0/1 mask, dropout's mask scaled by 1/(1-p).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from .base import Layer


class ReLU(Layer):
    r"""``max(0, x)``; backward passes the gradient where :math:`x > 0`."""

    prefix = "relu"
    kind = "relu"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._keep(x > 0 if train else None, train)
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout * self._check_cached()


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
