"""im2col: sliding windows unfolded into a matrix, so a convolution is one matrix product.

The K x K patches a convolution slides over its input, laid out as the columns of a *patch
matrix*, turn the convolution of :mod:`.conv` into a single short-and-wide product that BLAS
runs near peak speed (Chellapilla et al. 2006; Caffe's ``im2col``). Pooling reads the same
windows as a strided view, without copying. Each unfolding has an adjoint that *adds* every
gradient back where its value was read from (an input pixel in several windows receives the sum
of their gradients): all that the backward passes need.

Memory layout: the patch matrix is built from a batch-last (C, H, W, N) copy of the input, and a
convolution's output is an NCHW *view* of batch-last memory, which elementwise layers and
pooling keep (NumPy allocates results in their inputs' memory order): see :func:`im2col` for
why.

Holds :func:`conv_output_size`, :func:`pad_hw`, :func:`windows` and its adjoint
:func:`scatter_windows`, :func:`batch_last`, and :func:`im2col` and its adjoint :func:`col2im`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ShapeError
from .base import Shape


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    r"""Spatial output size of a convolution or pooling window.

    .. math:: O = \lfloor (I + 2P - K) / S \rfloor + 1

    The kernel and the stride must be at least 1 and the padding at least 0.
    """
    if kernel < 1 or stride < 1 or padding < 0:
        raise ShapeError(f"a window needs kernel >= 1, stride >= 1 and padding >= 0; got kernel "
                         f"{kernel}, stride {stride}, padding {padding}")
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ShapeError(
            f"a {kernel}x{kernel} window with stride {stride} and padding {padding} does not fit "
            f"an input of size {size}; use a larger input or a smaller kernel"
        )
    return out


def pad_hw(x: np.ndarray, padding: int) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def windows(x: np.ndarray, kernel: int, stride: int, padding: int = 0) -> np.ndarray:
    """All K x K windows of a padded NCHW tensor, as a strided *view* (no copy).

    Returns shape (N, C, Ho, Wo, K, K): ``windows(x)[n, c, i, j]`` is the window whose top-left
    corner sits at row ``i*stride``, column ``j*stride`` of the padded input.
    """
    return sliding_window_view(pad_hw(x, padding), (kernel, kernel), axis=(2, 3))[
        :, :, ::stride, ::stride
    ]


def scatter_windows(
    dwin: np.ndarray, x_shape: Shape, stride: int, padding: int = 0
) -> np.ndarray:
    """Adjoint of :func:`windows`: add every window's gradient back where it was read from.

    ``dwin`` has shape (N, C, Ho, Wo, K, K). An input pixel that appears in several windows
    (overlap) receives the sum of their gradients. One strided add per kernel offset (K*K
    vectorised adds) instead of a loop over output positions. The result has the memory order
    of ``dwin[..., 0, 0]``, so the adds run along the same axes in both arrays.
    """
    N, C, H, W = x_shape
    _, _, Ho, Wo, K, _ = dwin.shape
    dxp = np.zeros_like(dwin[..., 0, 0], shape=(N, C, H + 2 * padding, W + 2 * padding))
    for i in range(K):
        for j in range(K):
            dxp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += dwin[
                :, :, :, :, i, j
            ]
    return dxp[:, :, padding : padding + H, padding : padding + W]


def batch_last(x: np.ndarray, padding: int = 0) -> np.ndarray:
    """Zero-padded copy of (N, C, H, W) in batch-last layout: (C, H+2P, W+2P, N), contiguous.

    The convolution's own output is an (N, C, H, W) view of batch-last memory, so between
    convolutions (and the pooling in between, which keeps its input's memory order) this copy
    reads contiguous memory.
    """
    N, C, H, W = x.shape
    xt = np.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=x.dtype)
    xt[:, padding : padding + H, padding : padding + W] = x.transpose(1, 2, 3, 0)
    return xt


def im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    r"""Unfold (N, C, H, W) into the patch matrix of shape (C*K*K, N*Ho*Wo), one *column* per patch.

    .. math:: \mathrm{cols}[(c, p, q),\, (i, j, n)] = x^{pad}_{n,\,c,\,iS+p,\,jS+q}

    Rows are ordered (c, p, q) like the last three axes of W (F, C, K, K), so the convolution
    is ``W.reshape(F, -1) @ cols``, a short-and-wide product that runs near peak speed: the long
    N*Ho*Wo axis is last, where BLAS wants it.

    Columns are ordered (i, j, n): the *batch index varies fastest*. Any fixed order gives the
    same product; this one is chosen for NumPy's sake. The input is first copied to batch-last
    (C, H, W, N) memory, and then row (c, p, q) of ``cols`` is the input shifted by (p, q): K*K
    strided copies whose innermost contiguous runs are Wo*N numbers long (with the batch first,
    they would be only Wo long, and NumPy's per-run overhead would dominate).
    """
    xt = batch_last(x, padding)  # (C, H+2P, W+2P, N)
    C, N = xt.shape[0], xt.shape[3]
    Ho = conv_output_size(x.shape[2], kernel, stride, padding)
    Wo = conv_output_size(x.shape[3], kernel, stride, padding)
    cols = np.empty((C, kernel, kernel, Ho, Wo, N), dtype=x.dtype)
    for p in range(kernel):
        for q in range(kernel):
            cols[:, p, q] = xt[:, p : p + stride * Ho : stride, q : q + stride * Wo : stride]
    return cols.reshape(C * kernel * kernel, Ho * Wo * N)


def col2im(
    dcols: np.ndarray, x_shape: Shape, kernel: int, stride: int, padding: int
) -> np.ndarray:
    """Adjoint of :func:`im2col`: fold (C*K*K, N*Ho*Wo) patch gradients back onto (N, C, H, W).

    Every copy of :func:`im2col` becomes an add (a pixel copied into several patches receives
    the sum of their gradients), in the same batch-last memory. The result is an (N, C, H, W)
    view of that (C, H, W, N) memory.
    """
    N, C, H, W = x_shape
    Ho = conv_output_size(H, kernel, stride, padding)
    Wo = conv_output_size(W, kernel, stride, padding)
    dcols = dcols.reshape(C, kernel, kernel, Ho, Wo, N)
    dxt = np.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=dcols.dtype)
    for p in range(kernel):
        for q in range(kernel):
            dxt[:, p : p + stride * Ho : stride, q : q + stride * Wo : stride] += dcols[:, p, q]
    return dxt[:, padding : padding + H, padding : padding + W].transpose(3, 0, 1, 2)
