"""Max, average and global average pooling (the last from Lin et al. 2014, Network in Network).

Pooling summarises each K x K window (no padding; the stride defaults to K) and has no weights,
so it costs no MultAdds (the convention of :mod:`.base`). The forward passes read the windows as
a strided view (:func:`~.im2col.windows`); the backward passes route each window's gradient back
with its adjoint, :func:`~.im2col.scatter_windows`: all of it to the winning element for max
pooling, 1/K^2 of it to every element for average pooling. Holds the pure ``forward -> (out,
cache)`` / ``backward(dout, cache)`` functions and :class:`MaxPool2D`, :class:`AvgPool2D` and
:class:`GlobalAvgPool2D`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Layer, Shape, check_input, check_shape
from .im2col import conv_output_size, scatter_windows, windows


def maxpool_forward(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, Any]:
    """Max over each K x K window. Shapes: (N, C, H, W) -> (N, C, Ho, Wo).

    A running maximum over the K*K window offsets: ``windows(x)[..., p, q]`` is the (N, C, Ho,
    Wo) view of every window's element (p, q), so each of the K*K steps compares whole feature
    maps at once and no window is copied out of ``x`` (an ``argmax`` over flattened windows
    would first copy every window into an array whose last axis is only K*K long, slow in
    NumPy). The index of the winning offset, ``arg`` (N, C, Ho, Wo), is kept for the backward.

    Ties: offsets are visited in row-major order and only a strictly larger value takes over,
    so the gradient of a window with tied maxima goes to exactly one element, the first (the
    subgradient convention of the major frameworks, and ``argmax``'s). MNIST's constant
    background makes such ties the common case.
    """
    win = windows(x, kernel, stride)  # (N, C, Ho, Wo, K, K) view
    out = win[..., 0, 0]
    arg = np.zeros_like(out, dtype=np.intp)  # same memory order as x
    for k in range(1, kernel * kernel):
        v = win[..., k // kernel, k % kernel]
        better = v > out  # strictly: a tie keeps the earlier offset
        out = np.maximum(out, v)
        arg = np.maximum(arg, k * better)  # k exceeds all earlier offsets: "arg = k where better"
    return out, (x.shape, arg, kernel, stride)


def maxpool_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    r"""Backward of max pooling: :math:`\partial y/\partial x` is 1 at the window's argmax, else 0.

    So each window's upstream gradient is routed to the one element that won, and overlapping
    windows add up. The window gradients are built offset-major, (K*K, N, C, Ho, Wo), so that
    the K*K adds of :func:`~.im2col.scatter_windows` read whole contiguous feature maps.
    """
    x_shape, arg, kernel, stride = cache
    offsets = np.arange(kernel * kernel).reshape(-1, 1, 1, 1, 1)
    dwin = ((arg == offsets) * dout).reshape(kernel, kernel, *dout.shape)
    return scatter_windows(np.moveaxis(dwin, (0, 1), (-2, -1)), x_shape, stride)


def avgpool_forward(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, Any]:
    """Mean over each K x K window. Shapes: (N, C, H, W) -> (N, C, Ho, Wo)."""
    return windows(x, kernel, stride).mean(axis=(-2, -1)), (x.shape, kernel, stride)


def avgpool_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    r"""Each input of a window receives :math:`1/K^2` of the window's gradient."""
    x_shape, kernel, stride = cache
    # BEGIN SOLUTION avgpool-backward
    share = dout[..., None, None] / (kernel * kernel)
    dwin = np.broadcast_to(share, (*dout.shape, kernel, kernel))
    # END SOLUTION
    return scatter_windows(dwin, x_shape, stride)


class _Pool(Layer):
    """Common shape logic of the windowed pooling layers (no padding)."""

    prefix = "pool"
    kind = "pool"

    def __init__(self, kernel_size: int = 2, stride: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride) if stride is not None else self.kernel_size

    def output_shape(self, in_shape: Shape) -> Shape:
        C, H, W = check_shape(self, in_shape, 3)
        k, s = self.kernel_size, self.stride
        return (C, conv_output_size(H, k, s), conv_output_size(W, k, s))

    def config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "name": self.name}


class MaxPool2D(_Pool):
    """Max pooling; ties route the gradient to the first maximum of the window."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4)
        out, cache = maxpool_forward(x, self.kernel_size, self.stride)
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return maxpool_backward(dout, self._check_cached())

    def scratch(self, in_shape: Shape) -> int:
        """The running maximum, the winners' offsets (8 bytes each) and the comparisons."""
        return 6 * math.prod(self.output_shape(in_shape))


class AvgPool2D(_Pool):
    """Average pooling over K x K windows."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4)
        out, cache = avgpool_forward(x, self.kernel_size, self.stride)
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return avgpool_backward(dout, self._check_cached())


class GlobalAvgPool2D(Layer):
    r"""Mean over the whole feature map: (N, C, H, W) -> (N, C). Backward spreads
    :math:`g/(HW)` evenly over the map."""

    prefix = "gap"
    kind = "pool"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4)
        self._keep(x.shape, train)
        return x.mean(axis=(2, 3))

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        N, C, H, W = self._check_cached()
        return np.broadcast_to((dout / (H * W))[:, :, None, None], (N, C, H, W)).copy()

    def output_shape(self, in_shape: Shape) -> Shape:
        return (check_shape(self, in_shape, 3)[0],)
