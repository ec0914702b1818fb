"""The fully-connected (affine) layer ``y = x W + b``, and ``Flatten``, which feeds it.

:func:`dense_forward` returns ``(out, cache)`` and :func:`dense_backward` takes ``(dout,
cache)``, its gradients derived in its docstring (the house style of :mod:`.base`).
:class:`Dense` is the layer: ``in_features * out_features`` MultAdds per example (the convention
of :mod:`.base`). :class:`Flatten` reshapes (N, C, H, W) feature maps into the (N, C*H*W) rows a
dense layer reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from .base import Layer, Shape, ShapeOnly, check_input, uniform_init


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """Fully-connected layer ``y = x W + b``.

    Shapes: x (N, D), W (D, M), b (M,) -> y (N, M).
    """
    return x @ W + b, (x, W)


def dense_backward(
    dout: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    r"""Backward pass of :func:`dense_forward`.

    With :math:`y_{nm} = \sum_d x_{nd} W_{dm} + b_m` and upstream :math:`g = \partial L/\partial y`:

    .. math::
        \frac{\partial L}{\partial W_{dm}} = \sum_n x_{nd}\, g_{nm} \;(= x^T g),\quad
        \frac{\partial L}{\partial b_m} = \sum_n g_{nm},\quad
        \frac{\partial L}{\partial x_{nd}} = \sum_m g_{nm} W_{dm} \;(= g W^T).
    """
    x, W = cache
    dx = dout @ W.T if need_dx else None
    return dx, x.T @ dout, dout.sum(axis=0)


class Dense(Layer):
    """Fully-connected layer ``y = x W + b``; W (in_features, out_features)."""

    prefix = "fc"
    kind = "fc"

    def __init__(
        self, in_features: int, out_features: int, name: str | None = None,
        rng: np.random.Generator | ShapeOnly | None = None, dtype: Any = np.float32,
    ) -> None:
        super().__init__(name)
        rng = np.random.default_rng(0) if rng is None else rng
        self.in_features, self.out_features = int(in_features), int(out_features)
        shape = (self.in_features, self.out_features)
        self.params["W"] = uniform_init(rng, self.in_features, shape, dtype)
        self.params["b"] = uniform_init(rng, self.in_features, (self.out_features,), dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 2, self.in_features)
        out, cache = dense_forward(x, self.params["W"], self.params["b"])
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dx, self.grads["W"], self.grads["b"] = dense_backward(
            dout, self._check_cached(), self.needs_input_grad
        )
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        if tuple(in_shape) != (self.in_features,):
            raise ShapeError(f"{self.name}: expects ({self.in_features},), got {in_shape}")
        return (self.out_features,)

    def multadds(self, in_shape: Shape) -> int:
        return self.in_features * self.out_features

    def scratch(self, in_shape: Shape) -> int:
        """The product x W, before the bias is added."""
        return self.out_features

    def config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "name": self.name}


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W); backward reshapes back."""

    prefix = "flatten"
    kind = "flatten"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._keep(x.shape, train)
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout.reshape(self._check_cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        return (math.prod(in_shape),)
