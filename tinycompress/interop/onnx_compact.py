"""Deep Compression's storage inside an ONNX graph: codebook indices and relative positions.

After pruning and weight sharing a weight tensor holds a few distinct values, most of them
zero. ONNX has no tensor type for that, but a graph can rebuild the tensor from small integer
tensors with a handful of standard operators, which the runtime evaluates once, when it loads
the graph (they depend on constants only). :func:`encode` stores each tensor in the cheapest of
three forms, counting the bytes each stores:

- ``raw``: the float32 values, ``4 n`` bytes;
- ``indexed``: a codebook of ``c <= 256`` float32 values and one uint8 index per value,
  ``4 c + n`` bytes::

      W = Reshape(Gather(codebook, Cast(indices)), shape)

- ``sparse``: the nonzero entries only, in the relative-index form of
  :mod:`tinycompress.coding.relative_index` with 8-bit gaps (a filler zero wherever two kept
  entries are more than 256 apart), each entry a uint8 gap symbol ``g`` and a uint8 codebook
  index, ``4 c + 2 e`` bytes for ``e`` entries. The positions are the cumulative sum of the
  distances, ``q_k = sum_{j<=k} (g_j + 1) - 1``::

      q = CumSum(Cast(gaps) + 1) - 1
      W = Reshape(ScatterElements(zeros(n), q, Gather(codebook, Cast(indices))), shape)

The decoded tensor equals the original value for value (a pruned ``-0.0`` comes back as
``+0.0``, which no product or sum can tell apart). Unlike the ``.tcz`` file the indices are
not Huffman-coded: ONNX has no operator to decode a bit stream, so fixed bytes are the
smallest the graph can read directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..coding.relative_index import encode_relative
from .support import require

GAP_BITS = 8
"""Gap symbols and codebook indices are one byte each (uint8)."""

MAX_CODEBOOK = 1 << 8
"""The most distinct values a uint8 index can address."""

FLOAT, INT64 = 1, 7
"""ONNX's element type codes of float32 and int64."""


@dataclass
class Encoded:
    """One tensor as the graph stores it: its form, the bytes it stores, the constants and
    the nodes that rebuild the tensor under its own name."""

    form: str
    bytes: int
    initializers: list[Any]
    nodes: list[Any]


def _codebook(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codebook, uint8 indices)`` with ``codebook[indices] == values``, or None if there
    are more than :data:`MAX_CODEBOOK` distinct values."""
    codebook, indices = np.unique(values, return_inverse=True)
    if codebook.size > MAX_CODEBOOK:
        return None
    return codebook.astype(np.float32), indices.astype(np.uint8)


def sizes(array: np.ndarray) -> dict[str, int]:
    """The bytes each form stores for ``array`` (a form that cannot hold it is left out)."""
    flat = np.asarray(array, np.float32).reshape(-1)
    out = {"raw": 4 * flat.size}
    dense = _codebook(flat)
    if dense is not None:
        out["indexed"] = 4 * dense[0].size + flat.size
    rel = encode_relative(flat, GAP_BITS)
    sparse = _codebook(rel.values)
    if sparse is not None:
        out["sparse"] = 4 * sparse[0].size + 2 * rel.values.size
    return out


def _part(name: str, what: str) -> str:
    """The name of one constant or intermediate tensor of the tensor ``name``."""
    return f"{name}:{what}"


def encode(name: str, array: np.ndarray) -> Encoded:
    """The constants and nodes that give the graph the tensor ``name`` (float32 ``array``),
    in the cheapest form of :func:`sizes`."""
    onnx = require("onnx")
    const = onnx.numpy_helper.from_array
    flat = np.asarray(array, np.float32).reshape(-1)
    costs = sizes(flat)
    form = min(costs, key=costs.__getitem__)
    if form == "raw":
        return Encoded(form, costs[form], [const(flat.reshape(np.shape(array)), name)], [])
    if form == "indexed":
        codebook, indices = _codebook(flat)
        inits, nodes = [], _gather_nodes(name, _part(name, "flat"))
    else:
        rel = encode_relative(flat, GAP_BITS)
        codebook, indices = _codebook(rel.values)
        inits = [const(rel.gaps.astype(np.uint8), _part(name, "gaps")),
                 const(np.array([flat.size], np.int64), _part(name, "size")),
                 const(np.array(1, np.int64), _part(name, "one")),
                 const(np.array(0, np.int64), _part(name, "axis"))]
        nodes = _gather_nodes(name, _part(name, "values")) + _scatter_nodes(name)
    inits += [const(codebook, _part(name, "codebook")), const(indices, _part(name, "indices")),
              const(np.array(np.shape(array), np.int64), _part(name, "shape"))]
    nodes.append(onnx.helper.make_node("Reshape", [_part(name, "flat"), _part(name, "shape")],
                                       [name], _part(name, "reshape")))
    return Encoded(form, costs[form], inits, nodes)


def _gather_nodes(name: str, out: str) -> list[Any]:
    """``out = codebook[indices]``: the uint8 indices widened to int64, then looked up."""
    make = require("onnx").helper.make_node
    return [make("Cast", [_part(name, "indices")], [_part(name, "i64")], _part(name, "cast"),
                 to=INT64),
            make("Gather", [_part(name, "codebook"), _part(name, "i64")], [out],
                 _part(name, "gather"))]


def _scatter_nodes(name: str) -> list[Any]:
    """The positions from the gaps, and the values scattered there into zeros."""
    helper = require("onnx").helper
    t = {what: _part(name, what) for what in ("gaps", "g", "one", "d", "axis", "end", "q",
                                              "size", "zeros", "values", "flat")}
    zero = helper.make_tensor(_part(name, "zero"), FLOAT, [1], [0.0])
    return [
        helper.make_node("Cast", [t["gaps"]], [t["g"]], _part(name, "cast_gaps"), to=INT64),
        helper.make_node("Add", [t["g"], t["one"]], [t["d"]], _part(name, "distance")),
        helper.make_node("CumSum", [t["d"], t["axis"]], [t["end"]], _part(name, "cumsum")),
        helper.make_node("Sub", [t["end"], t["one"]], [t["q"]], _part(name, "positions")),
        helper.make_node("ConstantOfShape", [t["size"]], [t["zeros"]], _part(name, "zeros"),
                         value=zero),
        helper.make_node("ScatterElements", [t["zeros"], t["q"], t["values"]], [t["flat"]],
                         _part(name, "scatter"), axis=0),
    ]
