"""2-D convolution (LeCun et al. 1998), computed as one matrix product over im2col patches.

:func:`conv2d_forward_naive` is the definition written as loops over output positions: the
reference the fast version is tested against. :func:`conv2d_forward` unfolds the input with
:func:`~.im2col.im2col` and multiplies once; :func:`conv2d_backward` is then a dense layer's
backward on the patch matrix, folded back onto the input by :func:`~.im2col.col2im` (the house
style of :mod:`.base`: ``forward -> (out, cache)``, ``backward(dout, cache)``). :class:`Conv2D`
is the layer; it counts K*K*M*N*Ho*Wo MultAdds (the convention of :mod:`.base`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from .base import Layer, Shape, ShapeOnly, check_input, check_shape, uniform_init
from .im2col import col2im, conv_output_size, im2col, pad_hw


def conv2d_forward_naive(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    r"""Cross-correlation written as the definition, with loops: the reference for tests.

    .. math:: y_{n,f,i,j} = b_f + \sum_{c,p,q} x^{pad}_{n,c,\,iS+p,\,jS+q}\; W_{f,c,p,q}

    Shapes: x (N, C, H, W), W (F, C, K, K), b (F,) -> y (N, F, Ho, Wo).
    """
    N, _, H, Wd = x.shape
    F, _, K, _ = W.shape
    Ho = conv_output_size(H, K, stride, padding)
    Wo = conv_output_size(Wd, K, stride, padding)
    xp = pad_hw(x, padding)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, W))
    # BEGIN SOLUTION conv-forward-naive
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride : i * stride + K, j * stride : j * stride + K]
            out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3]))
    # END SOLUTION
    return out + b[None, :, None, None]


def conv2d_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, Any]:
    """Convolution as one matrix product: ``W_mat (F, C*K*K) @ cols (C*K*K, N*Ho*Wo)``.

    Shapes: x (N, C, H, W), W (F, C, K, K), b (F,) or None -> y (N, F, Ho, Wo). The product's
    columns are ordered (i, j, n) (see :func:`~.im2col.im2col`), so y is an (N, F, Ho, Wo)
    *view* of batch-last (F, Ho, Wo, N) memory, which is what the next convolution's im2col
    reads fastest.
    """
    N, C, H, Wd = x.shape
    F, Cw, K, _ = W.shape
    if C != Cw:
        raise ShapeError(f"conv expects {Cw} input channels, got {C} (input shape {x.shape})")
    Ho = conv_output_size(H, K, stride, padding)
    Wo = conv_output_size(Wd, K, stride, padding)
    cols = im2col(x, K, stride, padding)  # (C*K*K, Ho*Wo*N)
    out = W.reshape(F, -1) @ cols  # (F, Ho*Wo*N)
    if b is not None:
        out += b[:, None]
    out = out.reshape(F, Ho, Wo, N).transpose(3, 0, 1, 2)  # (N, F, Ho, Wo), a view
    return out, (x.shape, cols, W, stride, padding)


def conv2d_backward(
    dout: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    r"""Backward pass of :func:`conv2d_forward`.

    In matrix form the forward pass is :math:`Y = W_{mat} X_{col}` with :math:`W_{mat}`
    (F, C*K*K) and :math:`X_{col}` (C*K*K, N*Ho*Wo). Like a dense layer:

    .. math::
        \frac{\partial L}{\partial W_{mat}} = G X_{col}^T,\qquad
        \frac{\partial L}{\partial b_f} = \sum_{n,i,j} g_{n,f,i,j},\qquad
        \frac{\partial L}{\partial X_{col}} = W_{mat}^T G

    where G (F, N*Ho*Wo) is dout laid out like Y, columns ordered (i, j, n) as in
    :func:`~.im2col.im2col` (no copy when dout is batch-last in memory, as the pooling after a
    conv keeps it). Each input pixel was copied into every patch that covers it, so its
    gradient is the sum over those patches: :func:`~.im2col.col2im` adds them back.
    """
    x_shape, cols, W, stride, padding = cache
    F = W.shape[0]
    G = dout.transpose(1, 2, 3, 0).reshape(F, -1)  # (F, Ho*Wo*N)
    dW = (cols @ G.T).T.reshape(W.shape)  # = G @ cols.T; OpenBLAS runs this order ~20% faster
    db = G.sum(axis=1)
    dx = None
    if need_dx:
        dx = col2im(W.reshape(F, -1).T @ G, x_shape, W.shape[2], stride, padding)
    return dx, dW, db


class Conv2D(Layer):
    """2-D convolution (cross-correlation); W (F, C, K, K), b (F,) unless ``bias=False``."""

    prefix = "conv"
    kind = "conv"

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        padding: int = 0, bias: bool = True, name: str | None = None,
        rng: np.random.Generator | ShapeOnly | None = None, dtype: Any = np.float32,
    ) -> None:
        super().__init__(name)
        rng = np.random.default_rng(0) if rng is None else rng
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        self.bias = bool(bias)
        K = self.kernel_size
        fan_in = self.in_channels * K * K
        self.params["W"] = uniform_init(
            rng, fan_in, (self.out_channels, self.in_channels, K, K), dtype
        )
        if self.bias:
            self.params["b"] = uniform_init(rng, fan_in, (self.out_channels,), dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4, self.in_channels)
        out, cache = conv2d_forward(
            x, self.params["W"], self.params.get("b"), self.stride, self.padding
        )
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dx, self.grads["W"], db = conv2d_backward(
            dout, self._check_cached(), self.needs_input_grad
        )
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        _, H, W = check_shape(self, in_shape, 3, self.in_channels)
        k, s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))

    def multadds(self, in_shape: Shape) -> int:
        """K*K*M*N*Ho*Wo: every output pixel of every filter is a K*K*M dot product."""
        _, Ho, Wo = self.output_shape(in_shape)
        return self.kernel_size**2 * self.in_channels * self.out_channels * Ho * Wo

    def scratch(self, in_shape: Shape) -> int:
        """The padded batch-last copy of the input and the patch matrix (K*K*M rows)."""
        C, H, W = in_shape
        _, Ho, Wo = self.output_shape(in_shape)
        p = self.padding
        return C * (H + 2 * p) * (W + 2 * p) + self.kernel_size**2 * C * Ho * Wo

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "bias": self.bias, "name": self.name}
