"""Depthwise-separable convolution and its cost algebra (Howard et al. 2017, MobileNets, §3.1).

A standard K x K convolution from M to N channels filters and combines in one step. MobileNet
factorises it into a *depthwise* convolution (one K x K filter per input channel, no mixing
across channels) followed by a *pointwise* 1 x 1 convolution (a per-pixel linear map M -> N).
For an output of O x O pixels the costs in MultAdds (one multiply-accumulate of a weight, the
convention of :mod:`tinycompress.nn.base`) are

.. math::
    \\text{standard} = K^2 M N O^2,\\qquad \\text{depthwise} = K^2 M O^2,\\qquad
    \\text{pointwise} = M N O^2,

so the separable pair costs :math:`(K^2 M O^2 + M N O^2) / (K^2 M N O^2) = 1/N + 1/K^2` of
the standard convolution: 8 to 9 times less for 3 x 3 kernels. The width multiplier
:math:`\\alpha` thins every layer (M -> int(αM), N -> int(αN)) and the resolution multiplier
:math:`\\rho` shrinks the input (I -> ρI), so the cost falls by about :math:`\\alpha^2\\rho^2`.

Layers here:

- :class:`DepthwiseConv2D`: weight ``W`` of shape (C, 1, K, K), PyTorch's grouped layout
  (``groups = C``): ``W[c, 0]`` is channel c's filter; optional bias ``b`` (C,). Pruning a
  channel c of the pointwise layer that feeds it removes ``W[c]`` (and ``b[c]``) here.
- :class:`PointwiseConv2D`: a :class:`~tinycompress.nn.conv.Conv2D` with a 1 x 1 kernel
  (weight (F, C, 1, 1), stride 1, no padding) and a faster forward/backward: one matrix
  product over all pixels, no patch matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UsageError
from .base import Layer, Shape, ShapeOnly, check_input, check_shape, uniform_init
from .conv import Conv2D
from .im2col import batch_last, conv_output_size, pad_hw


def conv_multadds(k: int, m: int, n: int, ho: int, wo: int | None = None) -> int:
    """Standard convolution, K x K from M to N channels onto Ho x Wo outputs: K·K·M·N·Ho·Wo."""
    wo = ho if wo is None else wo
    # BEGIN SOLUTION conv-multadds
    count = k * k * m * n * ho * wo
    # END SOLUTION
    return count


def depthwise_multadds(k: int, m: int, ho: int, wo: int | None = None) -> int:
    """Depthwise convolution, one K x K filter on each of M channels: K·K·M·Ho·Wo."""
    return k * k * m * ho * (ho if wo is None else wo)


def pointwise_multadds(m: int, n: int, ho: int, wo: int | None = None) -> int:
    """Pointwise (1 x 1) convolution from M to N channels: M·N·Ho·Wo."""
    return m * n * ho * (ho if wo is None else wo)


def separable_multadds(k: int, m: int, n: int, ho: int, wo: int | None = None) -> int:
    """Depthwise then pointwise: K·K·M·Ho·Wo + M·N·Ho·Wo."""
    return depthwise_multadds(k, m, ho, wo) + pointwise_multadds(m, n, ho, wo)


def separable_ratio(k: int, n: int) -> float:
    r"""Separable over standard cost, :math:`1/N + 1/K^2` (independent of M and of the size)."""
    return 1.0 / n + 1.0 / k**2


def scale_width(channels: int, alpha: float) -> int:
    """Channels under the width multiplier: ``int(alpha * channels)`` (floor, as Keras), >= 1."""
    if not (math.isfinite(alpha) and alpha > 0):
        raise UsageError(f"the width multiplier must be a positive finite number, got {alpha!r}")
    return max(1, int(alpha * channels))


def scaled_separable_multadds(
    k: int, m: int, n: int, size: int, alpha: float = 1.0, rho: float = 1.0
) -> int:
    r"""Eq. 7 of the paper for a stride-1, 'same'-padded layer on a size x size feature map:

    .. math:: K^2 \cdot \alpha M \cdot (\rho D_F)^2 + \alpha M \cdot \alpha N \cdot (\rho D_F)^2

    with :math:`\alpha M` rounded down by :func:`scale_width` and :math:`\rho D_F` rounded to
    the nearest integer (an image has a whole number of pixels).
    """
    side = int(round(rho * size))
    return separable_multadds(k, scale_width(m, alpha), scale_width(n, alpha), side)


CHUNK_ELEMENTS = 1 << 17
"""Channels are processed in chunks of about this many padded input values (512 KB of float32):
the K*K passes over a chunk then run in the CPU cache instead of main memory."""


def _tap(xt: np.ndarray, p: int, q: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """The input value under kernel offset (p, q) for every output pixel: the strided view
    ``xt[:, i*stride + p, j*stride + q, :]`` of a batch-last (C, Hp, Wp, N) array, shape
    (C, Ho, Wo, N)."""
    return xt[:, p : p + stride * ho : stride, q : q + stride * wo : stride]


def _channel_chunks(xt: np.ndarray) -> range:
    """Start indices of channel chunks of about :data:`CHUNK_ELEMENTS` values each."""
    C = xt.shape[0]
    return range(0, C, max(1, CHUNK_ELEMENTS // (xt.size // C)))


def depthwise_forward_naive(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: int = 1, padding: int = 0
) -> np.ndarray:
    r"""The definition, looping over output pixels: the reference the fast version is tested on.

    .. math:: y_{n,c,i,j} = b_c + \sum_{p,q} x^{pad}_{n,c,\,iS+p,\,jS+q}\; W_{c,0,p,q}

    Shapes: x (N, C, H, W), W (C, 1, K, K), b (C,) or None -> y (N, C, Ho, Wo).
    """
    N, C, H, Wd = x.shape
    K = W.shape[-1]
    Ho, Wo = conv_output_size(H, K, stride, padding), conv_output_size(Wd, K, stride, padding)
    xp = pad_hw(x, padding)
    out = np.zeros((N, C, Ho, Wo), dtype=np.result_type(x, W))
    # BEGIN SOLUTION depthwise-forward-naive
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride : i * stride + K, j * stride : j * stride + K]
            out[:, :, i, j] = (patch * W[:, 0]).sum(axis=(2, 3))
    # END SOLUTION
    return out if b is None else out + b[:, None, None]


def depthwise_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, Any]:
    r"""Depthwise convolution as K*K shifted multiply-adds over whole feature maps.

    The loop over output pixels of the naive version becomes a loop over the K*K kernel
    offsets: for each offset (p, q), the strided view of the input under that tap (one value
    per output pixel, every image and channel at once) is scaled by the per-channel weight
    :math:`W_{c,0,p,q}` and accumulated,

    .. math:: y = b + \sum_{p,q} W_{:,0,p,q} \odot x^{pad}[:, :, p::S, q::S],

    9 vectorised passes for a 3 x 3 kernel. (A patch matrix as in ``Conv2D`` would copy the
    input K*K times for no BLAS benefit: there is no sum over channels for a matrix product.)
    Two details make the passes fast in NumPy:

    - *Batch-last memory*. The input is copied once (padding it on the way) to (C, H, W, N)
      order, so a tap's view has contiguous runs of Wo*N numbers (stride 1) or N (stride 2),
      not Wo: on a 4x4 map, NumPy's per-run overhead would otherwise dominate. The output is
      an (N, C, Ho, Wo) view of batch-last memory, the layout ``Conv2D`` and
      :func:`pointwise_forward` also produce and read for free.
    - *Cache-sized chunks* of channels (:data:`CHUNK_ELEMENTS`): each pass does about one
      multiply-add per number read, so it is memory-bound; in chunks, the 9 passes re-read
      the cache instead of main memory.

    Shapes: x (N, C, H, W), W (C, 1, K, K), b (C,) or None -> y (N, C, Ho, Wo).
    """
    N, C, H, Wd = x.shape
    K = W.shape[-1]
    Ho, Wo = conv_output_size(H, K, stride, padding), conv_output_size(Wd, K, stride, padding)
    xt = batch_last(x, padding)  # (C, Hp, Wp, N)
    w = W.reshape(C, K, K, 1, 1, 1)  # each tap's weight, broadcast over (Ho, Wo, N)
    out = np.empty((C, Ho, Wo, N), dtype=np.result_type(x, W))
    chunks = _channel_chunks(xt)
    tmp = np.empty_like(out[: chunks.step])
    for c0 in chunks:
        c1 = c0 + chunks.step
        xc, o, t = xt[c0:c1], out[c0:c1], tmp[: len(out[c0:c1])]
        np.multiply(_tap(xc, 0, 0, stride, Ho, Wo), w[c0:c1, 0, 0], out=o)
        for p in range(K):
            for q in range(K):
                if p or q:
                    o += np.multiply(_tap(xc, p, q, stride, Ho, Wo), w[c0:c1, p, q], out=t)
    if b is not None:
        out += b[:, None, None, None]
    return out.transpose(3, 0, 1, 2), (xt, W, x.shape, stride, padding)


def depthwise_backward(
    dout: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    r"""Backward pass of :func:`depthwise_forward`.

    From :math:`y_{n,c,i,j} = b_c + \sum_{p,q} x^{pad}_{n,c,iS+p,jS+q} W_{c,0,p,q}` and the
    upstream gradient :math:`g = \partial L/\partial y`:

    - Each weight multiplies one tap of every output pixel of its own channel only:

      .. math:: \frac{\partial L}{\partial W_{c,0,p,q}} = \sum_{n,i,j} g_{n,c,i,j}\,
                x^{pad}_{n,c,\,iS+p,\,jS+q}

      (for each offset, a dot product per channel of g with the same tap view as forward).
    - :math:`\partial L/\partial b_c = \sum_{n,i,j} g_{n,c,i,j}`.
    - An input pixel (u, v) of channel c is read by every output pixel (i, j) and offset
      (p, q) with u = iS + p, v = jS + q, so

      .. math:: \frac{\partial L}{\partial x^{pad}_{n,c,u,v}} = \sum_{(i,j,p,q):\;
                iS+p=u,\; jS+q=v} g_{n,c,i,j}\, W_{c,0,p,q}:

      for each offset, scale g by the tap's weight and *add* it into the same strided view of
      a zero array it was read from (the adjoint of reading), then crop the padding.
      For stride 1 this is the full correlation of g with the flipped filter.

    Everything runs in the forward pass's batch-last memory. Returns ``(dx or None,
    dW (C, 1, K, K), db (C,))``; dx is an (N, C, H, W) view of batch-last memory.
    """
    xt, W, x_shape, stride, padding = cache
    N, C, H, Wd = x_shape
    K = W.shape[-1]
    g = np.ascontiguousarray(dout.transpose(1, 2, 3, 0))  # (C, Ho, Wo, N), free if batch-last
    _, Ho, Wo, _ = g.shape
    w = W.reshape(C, K, K, 1, 1, 1)
    dW = np.zeros((C, K, K), dtype=np.result_type(g, xt))
    dxt = np.zeros(xt.shape, dtype=np.result_type(g, W)) if need_dx else None
    chunks = _channel_chunks(xt)
    for c0 in chunks:
        c1 = c0 + chunks.step
        xc, gc = xt[c0:c1], g[c0:c1]
        for p in range(K):
            for q in range(K):
                dW[c0:c1, p, q] = np.einsum("chwn,chwn->c", gc, _tap(xc, p, q, stride, Ho, Wo))
                if dxt is not None:
                    _tap(dxt[c0:c1], p, q, stride, Ho, Wo)[...] += gc * w[c0:c1, p, q]
    dx = None
    if dxt is not None:
        dx = dxt[:, padding : padding + H, padding : padding + Wd].transpose(3, 0, 1, 2)
    return dx, dW.reshape(W.shape), g.sum(axis=(1, 2, 3))


def pointwise_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None
) -> tuple[np.ndarray, Any]:
    r"""A 1 x 1 convolution is one matrix product over all pixels: :math:`Y = W X + b`.

    With X (C, H*W*N) every pixel of every image as a column (batch-last order, as
    :func:`depthwise_forward` leaves it: then the reshape is free, otherwise it is one copy)
    and W (F, C): one BLAS product, no patch matrix (a 1 x 1 window is the pixel itself).
    The output is an (N, F, H, W) view of batch-last (F, H, W, N) memory.

    Shapes: x (N, C, H, W), W (F, C, 1, 1), b (F,) or None -> y (N, F, H, W).
    """
    N, C, H, Wd = x.shape
    F = W.shape[0]
    X = x.transpose(1, 2, 3, 0).reshape(C, -1)  # (C, H*W*N)
    out = W.reshape(F, C) @ X
    if b is not None:
        out += b[:, None]
    return out.reshape(F, H, Wd, N).transpose(3, 0, 1, 2), (X, W, x.shape)


def pointwise_backward(
    dout: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    r"""Backward of :func:`pointwise_forward`, a dense layer applied to every pixel.

    With G (F, H*W*N) the upstream gradient laid out like Y:

    .. math::
        \frac{\partial L}{\partial W} = G X^T,\qquad
        \frac{\partial L}{\partial b_f} = \sum_{n,h,w} g_{n,f,h,w},\qquad
        \frac{\partial L}{\partial X} = W^T G.
    """
    X, W, (N, C, H, Wd) = cache
    F = W.shape[0]
    G = dout.transpose(1, 2, 3, 0).reshape(F, -1)  # (F, H*W*N), free if batch-last
    dW = (G @ X.T).reshape(W.shape)
    dx = None
    if need_dx:
        dx = (W.reshape(F, C).T @ G).reshape(C, H, Wd, N).transpose(3, 0, 1, 2)
    return dx, dW, G.sum(axis=1)


def _keep_grads(layer: Layer, grads: tuple[np.ndarray | None, np.ndarray, np.ndarray]
                ) -> np.ndarray | None:
    """Store ``(dx, dW, db)`` of a backward function in ``layer.grads``; return dx."""
    dx, layer.grads["W"], db = grads
    if "b" in layer.params:
        layer.grads["b"] = db
    return dx


class DepthwiseConv2D(Layer):
    """One K x K filter per channel; W (C, 1, K, K), b (C,) unless ``bias=False``.

    Output channels = input channels. Initialised U(±1/sqrt(K*K)) (fan-in K*K), as PyTorch's
    ``Conv2d(C, C, K, groups=C)``.
    """

    prefix = "dw"
    kind = "depthwise"

    def __init__(
        self, channels: int, kernel_size: int = 3, stride: int = 1, padding: int = 0,
        bias: bool = True, name: str | None = None,
        rng: np.random.Generator | ShapeOnly | None = None, dtype: Any = np.float32,
    ) -> None:
        super().__init__(name)
        rng = np.random.default_rng(0) if rng is None else rng
        self.channels, self.kernel_size = int(channels), int(kernel_size)
        self.stride, self.padding, self.bias = int(stride), int(padding), bool(bias)
        K = self.kernel_size
        self.params["W"] = uniform_init(rng, K * K, (self.channels, 1, K, K), dtype)
        if self.bias:
            self.params["b"] = uniform_init(rng, K * K, (self.channels,), dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4, self.channels)
        out, cache = depthwise_forward(
            x, self.params["W"], self.params.get("b"), self.stride, self.padding
        )
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return _keep_grads(self, depthwise_backward(dout, self._check_cached(),
                                                    self.needs_input_grad))

    def output_shape(self, in_shape: Shape) -> Shape:
        C, H, W = check_shape(self, in_shape, 3, self.channels)
        k, s, p = self.kernel_size, self.stride, self.padding
        return (C, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))

    def multadds(self, in_shape: Shape) -> int:
        """K*K*M*Ho*Wo: every output pixel of every channel is one K*K dot product."""
        _, Ho, Wo = self.output_shape(in_shape)
        return depthwise_multadds(self.kernel_size, self.channels, Ho, Wo)

    def scratch(self, in_shape: Shape) -> int:
        """The padded batch-last copy of the input."""
        C, H, W = in_shape
        return C * (H + 2 * self.padding) * (W + 2 * self.padding)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "bias": self.bias,
                "name": self.name}


class PointwiseConv2D(Conv2D):
    """1 x 1 convolution (MobileNet's channel mixer): a ``Conv2D`` with kernel 1, stride 1 and
    no padding (same W (F, C, 1, 1), same counting), computed by :func:`pointwise_forward`."""

    prefix = "pw"

    def __init__(
        self, in_channels: int, out_channels: int, bias: bool = True, name: str | None = None,
        rng: np.random.Generator | ShapeOnly | None = None, dtype: Any = np.float32,
    ) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias, name=name, rng=rng,
                         dtype=dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        check_input(self, x, 4, self.in_channels)
        out, cache = pointwise_forward(x, self.params["W"], self.params.get("b"))
        self._keep(cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return _keep_grads(self, pointwise_backward(dout, self._check_cached(),
                                                    self.needs_input_grad))

    def scratch(self, in_shape: Shape) -> int:
        """The pixel matrix X (a copy of the input unless it is batch-last already)."""
        return math.prod(in_shape)

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "bias": self.bias, "name": self.name}
