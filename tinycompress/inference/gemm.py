"""Every convolution and fully-connected layer as one matrix product, ``Y = A @ cols + b``.

The three ways of running a model in this package (float16, integers, codebooks) change the
arithmetic of the products and nothing else, so they share one view of a weight layer: a matrix
``A`` (out, in), a bias ``b`` (out,) and a :class:`Geometry` that turns the layer's input into
the columns ``A`` multiplies and the product back into the layer's output.

- A Dense layer, :math:`y = xW + b` with x (N, D) and W (D, M), is :math:`A = W^T` (M, D) on
  the columns :math:`x^T` (D, N): :math:`y^T = A x^T + b`.
- A Conv2D, W (F, C, K, K), is :math:`A` = W reshaped to (F, C*K*K) on the im2col patch matrix
  (C*K*K, Ho*Wo*N) of :func:`~tinycompress.nn.im2col.im2col`, exactly as
  :func:`~tinycompress.nn.conv.conv2d_forward` computes it.

:func:`fold_batchnorm` merges a BatchNorm that follows a convolution into the convolution's
weights and bias (inference only), so that the integer path sees one product per layer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..nn.base import SHAPE_ONLY, Layer
from ..nn.batchnorm import BatchNorm2D
from ..nn.conv import Conv2D
from ..nn.dense import Dense
from ..nn.im2col import conv_output_size, im2col
from ..nn.model import Sequential


@dataclass(frozen=True)
class Geometry:
    """How a weight layer reads its input as columns; ``kernel == 0`` means a dense layer."""

    kernel: int = 0
    stride: int = 1
    padding: int = 0

    def columns(self, x: np.ndarray) -> np.ndarray:
        """The columns the layer's matrix multiplies, in ``x``'s dtype.

        Shapes: dense x (N, D) -> (D, N); conv x (N, C, H, W) -> (C*K*K, Ho*Wo*N), the
        patches zero-padded (padding is a real 0: callers shift integers by their zero point
        first).
        """
        if self.kernel == 0:
            return x.T
        return im2col(x, self.kernel, self.stride, self.padding)

    def fold(self, y: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
        """The layer's output from the product ``y`` (out, columns), for an input of ``x_shape``.

        Shapes: dense (M, N) -> (N, M); conv (F, Ho*Wo*N) -> (N, F, Ho, Wo), a view of
        batch-last memory like :func:`~tinycompress.nn.conv.conv2d_forward`'s output.
        """
        if self.kernel == 0:
            return y.T
        n, _, h, w = x_shape
        ho = conv_output_size(h, self.kernel, self.stride, self.padding)
        wo = conv_output_size(w, self.kernel, self.stride, self.padding)
        return y.reshape(y.shape[0], ho, wo, n).transpose(3, 0, 1, 2)

    def positions(self, out_shape: tuple[int, ...]) -> int:
        """Columns per example: Ho*Wo output pixels for a convolution, 1 for a dense layer."""
        return int(np.prod(out_shape[1:])) if self.kernel else 1


def is_weight_layer(layer: Layer) -> bool:
    """True for the layers this package runs as a matrix product: Dense and Conv2D."""
    return isinstance(layer, Dense | Conv2D)


def as_gemm(layer: Layer) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """``(A, b, geometry)`` of a Dense or Conv2D layer: A (out, in) a view of its weights.

    A convolution without bias gets a zero bias. Raises :class:`UsageError` for other layers.
    """
    if isinstance(layer, Dense):
        return layer.params["W"].T, layer.params["b"], Geometry()
    if isinstance(layer, Conv2D):
        W = layer.params["W"]
        b = layer.params.get("b", np.zeros(W.shape[0], W.dtype))
        return W.reshape(W.shape[0], -1), b, Geometry(layer.kernel_size, layer.stride,
                                                      layer.padding)
    raise UsageError(f"{layer.name}: a {type(layer).__name__} is not a Dense or Conv2D layer")


def fold_batchnorm(model: Sequential) -> Sequential:
    r"""A copy of ``model`` in which every BatchNorm2D right after a Conv2D is merged into it.

    In evaluation mode BatchNorm is the per-channel affine map
    :math:`\gamma (y - \mu)/\sigma + \beta` with :math:`\sigma = \sqrt{\mathrm{var} + \epsilon}`,
    so after :math:`y = W * x + b` it gives the convolution

    .. math:: W'_f = \frac{\gamma_f}{\sigma_f} W_f, \qquad
              b'_f = \frac{\gamma_f}{\sigma_f}(b_f - \mu_f) + \beta_f .

    Other layers are deep copies of the originals; a BatchNorm that follows anything else is
    kept as it is.
    """
    layers: list[Layer] = []
    for layer in model.layers:
        previous = layers[-1] if layers else None
        if isinstance(layer, BatchNorm2D) and type(previous) is Conv2D:
            layers[-1] = _folded(previous, layer)
        else:
            layers.append(copy.deepcopy(layer))
    return Sequential(layers, model.input_shape, model.name)


def _folded(conv: Conv2D, bn: BatchNorm2D) -> Conv2D:
    """The Conv2D (with bias) equal to ``conv`` followed by ``bn`` in evaluation mode."""
    W = conv.params["W"].astype(np.float64)
    b = conv.params.get("b", np.zeros(W.shape[0])).astype(np.float64)
    gain = bn.params["gamma"] / np.sqrt(bn.buffers["running_var"].astype(np.float64) + bn.eps)
    out = Conv2D(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                 conv.padding, bias=True, name=conv.name, rng=SHAPE_ONLY)
    dtype = conv.params["W"].dtype
    out.params["W"] = (W * gain[:, None, None, None]).astype(dtype)
    out.params["b"] = (gain * (b - bn.buffers["running_mean"]) + bn.params["beta"]).astype(dtype)
    return out
