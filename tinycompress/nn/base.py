"""The layer abstraction of the NumPy engine, CS231n style: pure maths under thin objects.

Every layer keeps its maths in small pure functions (the modular design of CS231n's
assignments)::

    out, cache = conv2d_forward(x, W, b, stride, padding)   # forward -> (out, cache)
    dx, dW, db = conv2d_backward(dout, cache)               # backward(dout, cache)

each backward pass derived in its docstring and proved against float64 finite differences
(:mod:`.gradcheck`), and a thin :class:`Layer` around them that holds ``params``, ``grads``,
``buffers`` (non-trainable state such as BatchNorm's running statistics) and ``constraints``
(compression state, see :class:`Constraint`). Shapes are NCHW; arrays are float32 unless a test
asks for float64.

Counting convention (the MobileNet paper's, used by every counter and every chapter): a
*MultAdd* is one multiply-accumulate of a convolution or fully-connected weight. Bias additions,
BatchNorm, activations and pooling are not counted. Counting needs shapes only, never data
(:meth:`Layer.output_shape`, :meth:`Layer.multadds`), so :data:`SHAPE_ONLY` layers, whose
weights occupy no memory, give the same parameter and MultAdd counts as real ones.

Evaluation keeps nothing for a backward pass: a layer stores its cache only when its forward
pass runs with ``train=True`` (:meth:`Layer._keep`), so a deep model evaluated batch after batch
holds no activations it will never use.

Holds :class:`Layer`, :class:`Constraint`, :class:`ShapeOnly` and :data:`SHAPE_ONLY`,
:func:`uniform_init`, :func:`constant_init`, :func:`is_placeholder`, :func:`count_nonzero`,
:func:`check_input` and :func:`check_shape`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Protocol

import numpy as np

from ..errors import ShapeError

Shape = tuple[int, ...]


class Constraint(Protocol):
    """Compression state that constrains one parameter (a pruning mask, a shared-weight codebook).

    The optimiser passes the parameter's gradient through :meth:`grad` before its update and the
    updated parameter through :meth:`project` after it, so every constraint is honoured by every
    training step without the optimiser knowing what kind it is.
    """

    def grad(self, g: np.ndarray) -> np.ndarray: ...

    def project(self, w: np.ndarray) -> np.ndarray: ...


class Layer:
    """Base class: parameters, gradients, buffers, constraints, and shape-only counting."""

    prefix: ClassVar[str] = "layer"  # default name stem, e.g. "conv" -> conv1, conv2
    kind: ClassVar[str] = "layer"  # what it is to compression: "conv", "fc", "depthwise", "bn", ...

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

    def scratch(self, in_shape: Shape) -> int:
        """Values of the temporary arrays one example needs in a forward pass besides its input
        and output (a padded copy, im2col's patch matrix): an estimate from shapes alone."""
        return 0

    def working_values(self, in_shape: Shape) -> int:
        """Values one example holds at once in this layer's forward pass: input, output and
        scratch (what bounds an evaluation batch, :meth:`~.model.Sequential.batch_for`)."""
        return math.prod(in_shape) + math.prod(self.output_shape(in_shape)) + self.scratch(in_shape)

    def config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable, so a checkpoint can rebuild the layer."""
        return {"name": self.name}

    # --- shared behaviour ------------------------------------------------------------------
    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def num_nonzero_params(self) -> int:
        return int(sum(count_nonzero(p) for p in self.params.values()))

    def _keep(self, cache: Any, train: bool) -> None:
        """Keep what :meth:`backward` needs, in training only; evaluation keeps nothing."""
        self._cache = cache if train else None

    def _check_cached(self) -> Any:
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward(train=True)")
        return self._cache

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ShapeOnly:
    """Pass ``rng=SHAPE_ONLY`` to build a layer for counting only.

    Its weights are then read-only zero-stride placeholders (``np.broadcast_to`` of a single
    value: 1 for drawn weights, so they count as nonzero, like a dense model's; BatchNorm's own
    constants for its arrays): they have the right shape, so every counter works, but occupy no
    memory and cost no random draws, so a 29 M-parameter network is counted in milliseconds, and
    a file's architecture is checked before its arrays are read. Such a layer cannot be trained
    (the optimiser's in-place update fails on the read-only view).
    """


SHAPE_ONLY = ShapeOnly()


def _placeholder(value: float, shape: Shape, dtype: Any) -> np.ndarray:
    """A read-only zero-stride view of one ``value`` with the given shape: no memory."""
    scalar = np.full((), value, dtype)
    if math.prod(shape) > np.iinfo(np.intp).max // scalar.itemsize:
        raise ShapeError(f"a parameter of shape {tuple(shape)} is too large to address")
    return np.broadcast_to(scalar, shape)


def uniform_init(
    rng: np.random.Generator | ShapeOnly, fan_in: int, shape: Shape, dtype: np.dtype
) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv2d."""
    if isinstance(rng, ShapeOnly):
        return _placeholder(1, shape, dtype)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def constant_init(
    rng: np.random.Generator | ShapeOnly | None, value: float, shape: Shape, dtype: Any
) -> np.ndarray:
    """An array filled with ``value`` (nothing is drawn), or its placeholder for SHAPE_ONLY."""
    if isinstance(rng, ShapeOnly):
        return _placeholder(value, shape, dtype)
    return np.full(shape, value, dtype)


def is_placeholder(a: np.ndarray) -> bool:
    """Whether ``a`` is a shape-only placeholder (a zero-stride view of a single value)."""
    return a.ndim > 0 and not any(a.strides)


def count_nonzero(a: np.ndarray) -> int:
    """Nonzero entries of ``a``; of a placeholder, from its one value (no pass over it)."""
    if is_placeholder(a):
        return a.size if a.size and a.flat[0] != 0 else 0
    return int(np.count_nonzero(a))


def _expectation(ndim: int, channels: int | None) -> str:
    return f"{ndim}-D input" + (f" with {channels} channels" if channels else "")


def check_input(layer: Layer, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
    """Refuse a batch ``x`` that is not ``ndim``-D with ``channels`` channels (axis 1)."""
    if x.ndim != ndim or (channels is not None and x.shape[1] != channels):
        raise ShapeError(f"{layer.name}: expected {_expectation(ndim, channels)}, got shape "
                         f"{x.shape}")


def check_shape(layer: Layer, in_shape: Shape, ndim: int, channels: int | None = None) -> Shape:
    """Shape inference's :func:`check_input`: one example's shape (no batch axis), returned."""
    in_shape = tuple(in_shape)
    if len(in_shape) != ndim or (channels is not None and in_shape[0] != channels):
        raise ShapeError(f"{layer.name}: expected {_expectation(ndim, channels)} per example, "
                         f"got shape {in_shape}")
    return in_shape
