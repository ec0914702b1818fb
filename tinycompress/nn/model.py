"""A Sequential model: a list of layers, forward and backward through them, and counting.

Counting is shape inference: each layer maps one example's input shape to its output shape
and reports its parameters and MultAdds from shapes alone, so summarising a 224x224 ImageNet
model costs no memory for activations. The MultAdd convention is stated in
:mod:`tinycompress.nn.base`. Shape inference also bounds evaluation: a batch holds at most
:data:`EVAL_BUDGET` working values (:meth:`Sequential.batch_for`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError, UsageError, shown
from .base import Layer, Shape, is_placeholder
from .schema import plain

EVAL_BUDGET = 1 << 26
"""The most working values (inputs, outputs and scratch of one layer, over the batch) an
evaluation batch may hold: 256 MiB of float32. MNIST's models evaluate 1,000 images at a time
well within it; a model with huge activations is evaluated a few examples at a time."""


@dataclass(frozen=True)
class LayerRow:
    """One line of a model summary."""

    name: str
    type: str
    output_shape: Shape
    params: int
    nonzero_params: int
    weights: int  # entries of the multiplying weight tensor "W" (conv, dense); 0 elsewhere
    multadds: int
    bytes: int  # float32 storage of the layer's parameters
    distinct_weights: int  # distinct nonzero values of "W" (2**b at most after weight sharing)

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["output_shape"] = list(self.output_shape)
        return row


class Sequential:
    """Layers applied one after the other.

    Parameters
    ----------
    layers : the layers, in order. Unnamed layers get ``<prefix><k>`` names (conv1, fc2, ...).
    input_shape : shape of one example, without the batch dimension, e.g. (1, 28, 28).
    name : the model's name (a zoo name for shipped models).
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Shape, name: str = "model") -> None:
        self.layers: list[Layer] = list(layers)
        self.input_shape: Shape = tuple(int(d) for d in input_shape)
        self.name = name
        counts: dict[str, int] = {}
        for layer in self.layers:
            if layer.name is None:
                counts[layer.prefix] = counts.get(layer.prefix, 0) + 1
                layer.name = f"{layer.prefix}{counts[layer.prefix]}"
        first: dict[str, int] = {}
        for i, layer in enumerate(self.layers):
            if first.setdefault(layer.name, i) != i:
                raise UsageError(f"layer names must be unique: {shown(layer.name)} names layers "
                                 f"{first[layer.name]} and {i}")
        # Backpropagation can stop at the first layer with parameters: nothing before it learns,
        # and nobody uses that layer's input gradient (LeNet-300-100: Flatten, then fc1).
        self.first_trainable = next(
            (i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        for i, layer in enumerate(self.layers):
            layer.needs_input_grad = i > self.first_trainable
        self.shapes()  # fail now, not at the first batch, if the layers do not fit together

    # --- running -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Run a batch (N, *input_shape) through every layer; ``train`` caches for backward."""
        if x.ndim != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            dims = ", ".join(map(str, self.input_shape))
            raise ShapeError(f"{self.name} expects a batch of shape (N, {dims}), got {x.shape}")
        for layer in self.layers:
            x = layer.forward(x, train=train)
        return x

    __call__ = forward

    def backward(self, dout: np.ndarray) -> None:
        """Backpropagate ``dL/dlogits`` and fill every layer's ``grads``."""
        for layer in reversed(self.layers[self.first_trainable :]):
            dout = layer.backward(dout)

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class predictions (N,) in evaluation mode, batch by batch (:meth:`batch_for`)."""
        batch_size = self.batch_for(batch_size)
        preds = [self.forward(x[i : i + batch_size]).argmax(axis=1)
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)

    # --- access ------------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [lay.name for lay in self.layers]
        raise UsageError(f"{plain(self.name)} has no layer {shown(name)}; layers: "
                         f"{plain(', '.join(names))}")

    def parameters(self) -> Iterator[tuple[Layer, str, np.ndarray]]:
        """Every (layer, parameter name, array), in layer order."""
        for layer in self.layers:
            for key, value in layer.params.items():
                yield layer, key, value

    def astype(self, dtype: Any) -> Sequential:
        """Cast every parameter and buffer in place (float64 for gradient checks); returns self."""
        for layer in self.layers:
            for store in (layer.params, layer.buffers):
                for key in store:
                    store[key] = store[key].astype(dtype)
        return self

    # --- counting ----------------------------------------------------------------------------
    def shapes(self) -> list[Shape]:
        """Input shape of every layer followed by the final output shape (len = layers + 1)."""
        shapes = [self.input_shape]
        for layer in self.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return shapes

    def rows(self) -> list[LayerRow]:
        """Per-layer counts by shape inference alone."""
        shapes = self.shapes()
        rows = []
        for layer, in_shape, out_shape in zip(self.layers, shapes[:-1], shapes[1:], strict=True):
            n = layer.num_params()
            rows.append(LayerRow(
                name=layer.name, type=type(layer).__name__, output_shape=out_shape, params=n,
                nonzero_params=layer.num_nonzero_params(),
                weights=int(layer.params["W"].size) if "W" in layer.params else 0,
                multadds=int(layer.multadds(in_shape)), bytes=4 * n,
                distinct_weights=distinct_nonzero(layer.params["W"]) if "W" in layer.params else 0,
            ))
        return rows

    def summary(self) -> dict[str, Any]:
        """Totals and per-layer rows as a JSON-ready dict (``tinycompress summary --json``)."""
        rows = self.rows()
        return {
            "model": self.name,
            "input_shape": list(self.input_shape),
            "params": sum(r.params for r in rows),
            "nonzero_params": sum(r.nonzero_params for r in rows),
            "weights": sum(r.weights for r in rows),
            "multadds": sum(r.multadds for r in rows),
            "bytes": sum(r.bytes for r in rows),
            "layers": [r.to_json() for r in rows],
        }

    def num_params(self) -> int:
        return sum(layer.num_params() for layer in self.layers)

    def working_values(self) -> int:
        """The most values one example holds at once in a forward pass (at its busiest layer)."""
        shapes = self.shapes()
        return max((layer.working_values(s)
                    for layer, s in zip(self.layers, shapes[:-1], strict=True)),
                   default=math.prod(self.input_shape))

    def batch_for(self, batch_size: int) -> int:
        """``batch_size``, or as many examples as :data:`EVAL_BUDGET` working values allow (at
        least one): what evaluation runs at once."""
        return max(1, min(batch_size, EVAL_BUDGET // self.working_values()))

    def multadds(self) -> int:
        return sum(r.multadds for r in self.rows())


def distinct_nonzero(W: np.ndarray) -> int:
    """Distinct nonzero values of a weight tensor (a pruned zero is not a shared value)."""
    if is_placeholder(W):  # one value, counted as none
        return 0
    return int(np.unique(W[W != 0]).size)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as an aligned text table, one line per layer plus totals."""
    head = ("layer", "type", "output", "params", "nonzero", "MultAdds", "bytes")
    lines = [head]
    for r in summary["layers"]:
        lines.append((r["name"], r["type"], "x".join(map(str, r["output_shape"])),
                      f"{r['params']:,}", f"{r['nonzero_params']:,}", f"{r['multadds']:,}",
                      f"{r['bytes']:,}"))
    lines.append(("total", "", "", f"{summary['params']:,}", f"{summary['nonzero_params']:,}",
                  f"{summary['multadds']:,}", f"{summary['bytes']:,}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        cells = [c.ljust(w) if i < 3 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if k == 0 or k == len(lines) - 2:
            out.append("-" * len(out[-1]))
    title = f"{summary['model']}  input {'x'.join(map(str, summary['input_shape']))}"
    return "\n".join([title, *out])
