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

from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ShapeError

Shape = tuple[int, ...]

# --------------------------------------------------------------------------------------------
# Shared helpers: output size, windows, and the scatter that undoes them
# --------------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    r"""Spatial output size of a convolution or pooling window.

    .. math:: O = \lfloor (I + 2P - K) / S \rfloor + 1
    """
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ShapeError(
            f"a {kernel}x{kernel} window with stride {stride} and padding {padding} does not fit "
            f"an input of size {size}; use a larger input or a smaller kernel"
        )
    return out


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def windows(x: np.ndarray, kernel: int, stride: int, padding: int = 0) -> np.ndarray:
    """All K x K windows of a padded NCHW tensor, as a strided *view* (no copy).

    Returns shape (N, C, Ho, Wo, K, K): ``windows(x)[n, c, i, j]`` is the window whose top-left
    corner sits at row ``i*stride``, column ``j*stride`` of the padded input.
    """
    return sliding_window_view(_pad(x, padding), (kernel, kernel), axis=(2, 3))[
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


# --------------------------------------------------------------------------------------------
# Pure functions: forward -> (out, cache), backward(dout, cache) -> gradients
# --------------------------------------------------------------------------------------------


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
    xp = _pad(x, padding)
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
    columns are ordered (i, j, n) (see :func:`im2col`), so y is an (N, F, Ho, Wo) *view* of
    batch-last (F, Ho, Wo, N) memory, which is what the next convolution's im2col reads fastest.
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

    where G (F, N*Ho*Wo) is dout laid out like Y, columns ordered (i, j, n) as in :func:`im2col`
    (no copy when dout is batch-last in memory, as the pooling after a conv keeps it). Each
    input pixel was copied into every patch that covers it, so its gradient is the sum over
    those patches: :func:`col2im` adds them back.
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
    the K*K adds of :func:`scatter_windows` read whole contiguous feature maps.
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


# --------------------------------------------------------------------------------------------
# Layer objects
# --------------------------------------------------------------------------------------------


class Constraint(Protocol):
    """Compression state that constrains one parameter (a pruning mask, a shared-weight codebook).

    The optimiser passes the parameter's gradient through :meth:`grad` before its update and the
    updated parameter through :meth:`project` after it, so every constraint is honoured by every
    training step without the optimiser knowing what kind it is.
    """

    def grad(self, g: np.ndarray) -> np.ndarray: ...

    def project(self, w: np.ndarray) -> np.ndarray: ...


LAYER_TYPES: dict[str, type[Layer]] = {}
"""Every Layer subclass by class name; checkpoints rebuild models through it."""


class Layer:
    """Base class: parameters, gradients, buffers, constraints, and shape-only counting."""

    prefix: ClassVar[str] = "layer"  # default name stem, e.g. "conv" -> conv1, conv2
    has_weights: ClassVar[bool] = False  # True for layers whose "W" multiplies (conv, dense)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYER_TYPES[cls.__name__] = cls

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.constraints: dict[str, Constraint] = {}
        self.needs_input_grad = True  # False for a model's first layer: dx is never used
        self._cache: Any = None

    # --- interface -------------------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, in_shape: Shape) -> Shape:
        """Shape of one output example (no batch dimension) for one input example's shape."""
        return tuple(in_shape)

    def multadds(self, in_shape: Shape) -> int:
        """Multiply-accumulates of one forward pass of one example (see the module docstring)."""
        return 0

    def config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable, so a checkpoint can rebuild the layer."""
        return {"name": self.name}

    # --- shared behaviour ------------------------------------------------------------------
    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def num_nonzero_params(self) -> int:
        return int(sum(np.count_nonzero(p) for p in self.params.values()))

    def _check_cached(self) -> Any:
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward(train=True)")
        return self._cache

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ShapeOnly:
    """Pass ``rng=SHAPE_ONLY`` to build a layer for counting only.

    Its weights are then read-only zero-stride placeholders (``np.broadcast_to`` of a single 1,
    so they count as nonzero, like a dense model's): they have the right shape, so every counter
    works, but occupy no memory and cost no random draws, so a 29 M-parameter network is
    counted in milliseconds. Such a layer cannot be trained (the optimiser's in-place update
    fails on the read-only view).
    """


SHAPE_ONLY = ShapeOnly()


def _uniform_init(
    rng: np.random.Generator | ShapeOnly, fan_in: int, shape: Shape, dtype: np.dtype
) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv2d."""
    if isinstance(rng, ShapeOnly):
        return np.broadcast_to(np.ones((), dtype), shape)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _check_input(layer: Layer, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
    if x.ndim != ndim or (channels is not None and x.shape[1] != channels):
        want = f"{ndim}-D input" + (f" with {channels} channels" if channels else "")
        raise ShapeError(f"{layer.name}: expected {want}, got shape {x.shape}")


class Dense(Layer):
    """Fully-connected layer ``y = x W + b``; W (in_features, out_features)."""

    prefix = "fc"
    has_weights = True

    def __init__(
        self, in_features: int, out_features: int, name: str | None = None,
        rng: np.random.Generator | ShapeOnly | None = None, dtype: Any = np.float32,
    ) -> None:
        super().__init__(name)
        rng = np.random.default_rng(0) if rng is None else rng
        self.in_features, self.out_features = int(in_features), int(out_features)
        shape = (self.in_features, self.out_features)
        self.params["W"] = _uniform_init(rng, self.in_features, shape, dtype)
        self.params["b"] = _uniform_init(rng, self.in_features, (self.out_features,), dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 2, self.in_features)
        out, self._cache = dense_forward(x, self.params["W"], self.params["b"])
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

    def config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "name": self.name}


class Conv2D(Layer):
    """2-D convolution (cross-correlation); W (F, C, K, K), b (F,) unless ``bias=False``."""

    prefix = "conv"
    has_weights = True

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
        self.params["W"] = _uniform_init(
            rng, fan_in, (self.out_channels, self.in_channels, K, K), dtype
        )
        if self.bias:
            self.params["b"] = _uniform_init(rng, fan_in, (self.out_channels,), dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 4, self.in_channels)
        out, self._cache = conv2d_forward(
            x, self.params["W"], self.params.get("b"), self.stride, self.padding
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dx, self.grads["W"], db = conv2d_backward(
            dout, self._check_cached(), self.needs_input_grad
        )
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        C, H, W = in_shape
        if C != self.in_channels:
            raise ShapeError(f"{self.name}: expects {self.in_channels} channels, got {C}")
        k, s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))

    def multadds(self, in_shape: Shape) -> int:
        """K*K*M*N*Ho*Wo: every output pixel of every filter is a K*K*M dot product."""
        _, Ho, Wo = self.output_shape(in_shape)
        return self.kernel_size**2 * self.in_channels * self.out_channels * Ho * Wo

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "bias": self.bias, "name": self.name}


class _Pool(Layer):
    """Common shape logic of the windowed pooling layers (no padding)."""

    prefix = "pool"

    def __init__(self, kernel_size: int = 2, stride: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride) if stride is not None else self.kernel_size

    def output_shape(self, in_shape: Shape) -> Shape:
        C, H, W = in_shape
        k, s = self.kernel_size, self.stride
        return (C, conv_output_size(H, k, s), conv_output_size(W, k, s))

    def config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "name": self.name}


class MaxPool2D(_Pool):
    """Max pooling; ties route the gradient to the first maximum of the window."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 4)
        out, self._cache = maxpool_forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return maxpool_backward(dout, self._check_cached())


class AvgPool2D(_Pool):
    """Average pooling over K x K windows."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 4)
        out, self._cache = avgpool_forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return avgpool_backward(dout, self._check_cached())


class GlobalAvgPool2D(Layer):
    r"""Mean over the whole feature map: (N, C, H, W) -> (N, C). Backward spreads
    :math:`g/(HW)` evenly over the map."""

    prefix = "gap"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 4)
        self._cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        N, C, H, W = self._check_cached()
        return np.broadcast_to((dout / (H * W))[:, :, None, None], (N, C, H, W)).copy()

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0],)


class ReLU(Layer):
    r"""``max(0, x)``; backward passes the gradient where :math:`x > 0`."""

    prefix = "relu"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout * self._check_cached()


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W); backward reshapes back."""

    prefix = "flatten"

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout.reshape(self._check_cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        return (int(np.prod(in_shape)),)


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


class BatchNorm2D(Layer):
    """Batch normalisation over (N, H, W) per channel, with running statistics for evaluation.

    Training uses the batch's mean and (biased) variance and updates the running estimates with
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance, as PyTorch).
    """

    prefix = "bn"

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 name: str | None = None, dtype: Any = np.float32) -> None:
        super().__init__(name)
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), float(eps)
        C = self.num_features
        self.params["gamma"] = np.ones(C, dtype=dtype)
        self.params["beta"] = np.zeros(C, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(C, dtype=dtype)
        self.buffers["running_var"] = np.ones(C, dtype=dtype)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        _check_input(self, x, 4, self.num_features)
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
        self._cache = (cache, train)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        cache, train = self._check_cached()
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(dout, cache, train)
        return dx

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "name": self.name}
