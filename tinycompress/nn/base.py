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

Holds :class:`Layer`, :class:`Constraint`, :class:`ShapeOnly` and :data:`SHAPE_ONLY`,
:func:`uniform_init` and :func:`check_input`.
"""

from __future__ import annotations

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


def uniform_init(
    rng: np.random.Generator | ShapeOnly, fan_in: int, shape: Shape, dtype: np.dtype
) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv2d."""
    if isinstance(rng, ShapeOnly):
        return np.broadcast_to(np.ones((), dtype), shape)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def check_input(layer: Layer, x: np.ndarray, ndim: int, channels: int | None = None) -> None:
    if x.ndim != ndim or (channels is not None and x.shape[1] != channels):
        want = f"{ndim}-D input" + (f" with {channels} channels" if channels else "")
        raise ShapeError(f"{layer.name}: expected {want}, got shape {x.shape}")
