"""Batch normalization (Ioffe & Szegedy 2015) of convolutional feature maps.

Each channel is standardised with the mean and variance of its N*H*W values, then scaled by
``gamma`` and shifted by ``beta``. :func:`batchnorm_forward` returns ``(out, cache)``;
:func:`batchnorm_backward` derives the input gradient through the batch statistics, or with
fixed ones (running statistics, as when fine-tuning with BatchNorm frozen): the house style of
:mod:`.base`. :class:`BatchNorm2D` is the layer, with running statistics kept as buffers for
evaluation; it backpropagates through the batch statistics of its last training forward pass.
BatchNorm costs no MultAdds (the convention of :mod:`.base`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Layer, Shape, ShapeOnly, check_input, check_shape, constant_init


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, Any]:
    r"""Normalise each channel with the given statistics, then scale and shift.

    .. math:: \hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon},\qquad y = \gamma \hat x + \beta

    Shapes: x (N, C, H, W); gamma, beta, mean, var (C,).
    """
    c = (slice(None), None, None)  # broadcast (C,) over (C, H, W)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean[c]) * inv_std[c]
    return gamma[c] * xhat + beta[c], (xhat, gamma, inv_std)


def batchnorm_backward(
    dout: np.ndarray, cache: Any, batch_stats: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward of :func:`batchnorm_forward`.

    :math:`\partial L/\partial\gamma = \sum g\,\hat x` and :math:`\partial L/\partial\beta = \sum g`
    (sums over N, H, W). With fixed (running) statistics, :math:`\partial L/\partial x =
    g\,\gamma/\sigma`. With batch statistics, :math:`\mu` and :math:`\sigma` depend on x too;
    differentiating through them (m = N*H*W values per channel, :math:`\hat g = g\gamma`) gives

    .. math::
        \frac{\partial L}{\partial x} = \frac{1}{m\sigma}\Big(m\,\hat g - \sum \hat g
        - \hat x \sum \hat g\, \hat x\Big).
    """
    xhat, gamma, inv_std = cache
    axes = (0, 2, 3)
    c = (slice(None), None, None)
    dgamma = (dout * xhat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dxhat = dout * gamma[c]
    if not batch_stats:
        return dxhat * inv_std[c], dgamma, dbeta
    # BEGIN SOLUTION batchnorm-backward
    m = dout.size // dout.shape[1]
    dx = (inv_std[c] / m) * (
        m * dxhat - dxhat.sum(axis=axes)[c] - xhat * (dxhat * xhat).sum(axis=axes)[c]
    )
    # END SOLUTION
    return dx, dgamma, dbeta


class BatchNorm2D(Layer):
    """Batch normalisation over (N, H, W) per channel, with running statistics for evaluation.

    Training uses the batch's mean and (biased) variance and updates the running estimates with
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance, as PyTorch).
    BatchNorm draws nothing at random: ``rng`` only asks for :data:`~.base.SHAPE_ONLY`
    placeholders (a Generator, or None, gives real arrays).
    """

    prefix = "bn"
    kind = "bn"

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 name: str | None = None, rng: np.random.Generator | ShapeOnly | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__(name)
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), float(eps)
        C = (self.num_features,)
        self.params["gamma"] = constant_init(rng, 1.0, C, dtype)
        self.params["beta"] = constant_init(rng, 0.0, C, dtype)
        self.buffers["running_mean"] = constant_init(rng, 0.0, C, dtype)
        self.buffers["running_var"] = constant_init(rng, 1.0, C, dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4, self.num_features)
        if train:
            mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
            m = x.size // x.shape[1]
            mom = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm[...] = (1 - mom) * rm + mom * mean
            rv[...] = (1 - mom) * rv + mom * var * (m / max(m - 1, 1))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        out, cache = batchnorm_forward(
            x, self.params["gamma"], self.params["beta"], mean, var, self.eps
        )
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(
            dout, self._check_cached(), batch_stats=True
        )
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        return check_shape(self, in_shape, 3, self.num_features)

    def scratch(self, in_shape: Shape) -> int:
        """The centred input and the normalised one, x-hat."""
        return 2 * math.prod(in_shape)

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "name": self.name}
