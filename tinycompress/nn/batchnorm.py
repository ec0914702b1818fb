"""Batch normalization (Ioffe & Szegedy 2015) of convolutional feature maps.

Each channel is standardised with the mean and variance of its N*H*W values, then scaled by
``gamma`` and shifted by ``beta``. :func:`batchnorm_train_forward` computes the batch statistics
and normalises with them; :func:`batchnorm_forward` normalises with given (running) ones; both
return ``(out, cache)``, and :func:`batchnorm_backward` derives the input gradient through the
batch statistics, or with fixed ones (as when fine-tuning with BatchNorm frozen): the house
style of :mod:`.base`. :class:`BatchNorm2D` is the layer, with running statistics kept as
buffers for evaluation; it backpropagates through the batch statistics of its last training
forward pass. BatchNorm costs no MultAdds (the convention of :mod:`.base`).

Speed. BatchNorm does a handful of operations per value, so its time is the number of passes
over memory; the code keeps that number small:

- *The input's memory order is kept.* The convolutions here return (N, C, H, W) views of
  batch-last (C, H, W, N) memory; every array BatchNorm allocates has its input's order
  (``np.empty_like`` and NumPy's elementwise results keep it), so a reduction over
  (N, H, W) runs along contiguous memory, and the next layer reads its input for free. An
  upstream gradient in another order is copied once into the cache's order
  (:func:`in_layout_of`), not re-strided in every operation.
- *Centre once, reduce without temporaries.* The batch variance is the mean square of the
  centred values, which are then scaled in place into x-hat (the cache); per-channel sums of
  products are ``np.einsum`` calls, which allocate nothing.
- *In place.* Each step after the first allocation updates the same array (``out=``, ``+=``),
  in the input's dtype (float32 stays float32).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Layer, Shape, ShapeOnly, check_input, check_shape, constant_init
from .elementwise import in_layout_of

AXES = (0, 2, 3)
"""The axes a channel's statistics run over: batch and both spatial axes of (N, C, H, W)."""

_C = (slice(None), None, None)
"""Index that broadcasts a per-channel (C,) array over (C, H, W): ``a[_C]``."""


def channel_sum_of_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\sum_{n,h,w} a_{nchw} b_{nchw}` for each channel, shape (C,), with no temporary."""
    return np.einsum("nchw,nchw->c", a, b)


def _normalise(xhat: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``gamma * xhat + beta`` per channel, into one new array of xhat's memory order."""
    out = np.multiply(xhat, gamma[_C])
    out += beta[_C]
    return out


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, Any]:
    r"""Normalise each channel with the given statistics, then scale and shift.

    .. math:: \hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon},\qquad y = \gamma \hat x + \beta

    Shapes: x (N, C, H, W); gamma, beta, mean, var (C,) -> y (N, C, H, W) in x's memory order.
    The cache is ``(xhat, gamma, inv_std)``, what :func:`batchnorm_backward` reads.
    """
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = np.subtract(x, mean[_C])
    xhat *= inv_std[_C]
    return _normalise(xhat, gamma, beta), (xhat, gamma, inv_std)


def batchnorm_train_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, Any, np.ndarray, np.ndarray]:
    r"""Normalise each channel with the batch's own mean and (biased) variance.

    With m = N*H*W values per channel,

    .. math::
        \mu = \frac{1}{m}\sum_{n,h,w} x,\qquad
        \sigma^2 = \frac{1}{m}\sum_{n,h,w} (x - \mu)^2,\qquad
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}},\qquad y = \gamma\hat x + \beta.

    Five passes over the data: the mean, the centred copy, the variance (a sum of squares of
    that copy, no temporary), its scaling in place into x-hat, and the output. The centred form
    is kept for the variance (not :math:`E[x^2] - \mu^2`, which cancels catastrophically in
    float32 when the mean is large against the spread).

    Shapes: x (N, C, H, W); gamma, beta (C,). Returns ``(y, cache, mean, var)``: y in x's
    memory order, the cache of :func:`batchnorm_forward`, and the batch statistics (C,) for the
    running estimates.
    """
    m = x.size // x.shape[1]
    mean = x.mean(axis=AXES)
    xhat = np.subtract(x, mean[_C])  # centred, becomes x-hat in place
    var = channel_sum_of_products(xhat, xhat) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= inv_std[_C]
    return _normalise(xhat, gamma, beta), (xhat, gamma, inv_std), mean, var


def batchnorm_backward(
    dout: np.ndarray, cache: Any, batch_stats: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward of :func:`batchnorm_forward` and :func:`batchnorm_train_forward`.

    :math:`\partial L/\partial\gamma = \sum g\,\hat x` and :math:`\partial L/\partial\beta = \sum g`
    (sums over N, H, W). With fixed (running) statistics, :math:`\partial L/\partial x =
    g\,\gamma/\sigma`. With batch statistics, :math:`\mu` and :math:`\sigma` depend on x too;
    differentiating through them (m = N*H*W values per channel, :math:`\hat g = g\gamma`) gives

    .. math::
        \frac{\partial L}{\partial x} = \frac{1}{m\sigma}\Big(m\,\hat g - \sum \hat g
        - \hat x \sum \hat g\, \hat x\Big).

    Because :math:`\gamma` is constant per channel, the two sums are :math:`\gamma\,\partial
    L/\partial\beta` and :math:`\gamma\,\partial L/\partial\gamma`, already computed: the
    input gradient then costs one new array and three in-place passes,
    :math:`\partial L/\partial x = \sigma^{-1}(\hat g - \hat x\,\gamma\,\overline{g\hat x}
    - \gamma\,\bar g)` with bars for means over the m values.

    Shapes: dout (N, C, H, W), any memory order (copied once into the cache's);
    returns ``(dx (N, C, H, W) in the forward input's order, dgamma (C,), dbeta (C,))``.
    """
    xhat, gamma, inv_std = cache
    dout = in_layout_of(dout, xhat)
    axes, c = AXES, _C
    dgamma = channel_sum_of_products(dout, xhat)
    dbeta = dout.sum(axis=axes)
    dxhat = np.multiply(dout, gamma[c])
    if not batch_stats:
        dxhat *= inv_std[c]
        return dxhat, dgamma, dbeta
    # BEGIN SOLUTION batchnorm-backward
    m = dout.size // dout.shape[1]
    # sum(dxhat * xhat) = gamma * dgamma and sum(dxhat) = gamma * dbeta, per channel.
    dx = np.multiply(xhat, (-gamma * dgamma / m)[c])
    dx += dxhat
    dx -= (gamma * dbeta / m)[c]
    dx *= inv_std[c]
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
        gamma, beta = self.params["gamma"], self.params["beta"]
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        if not train:
            out, cache = batchnorm_forward(x, gamma, beta, rm, rv, self.eps)
        else:
            out, cache, mean, var = batchnorm_train_forward(x, gamma, beta, self.eps)
            m = x.size // x.shape[1]
            mom = self.momentum
            rm[...] = (1 - mom) * rm + mom * mean
            rv[...] = (1 - mom) * rv + mom * var * (m / max(m - 1, 1))
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
        """The normalised input, x-hat (the centred input, scaled in place)."""
        return math.prod(in_shape)

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "name": self.name}
