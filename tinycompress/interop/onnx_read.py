"""An ONNX file, validated field by field into plain Python before anything is built from it.

An ONNX model (https://onnx.ai) is a protobuf message: a graph of *nodes* (an operator, its
attributes, the names of the tensors it reads and writes), *initializers* (the constant tensors:
weights), and the graph's inputs and outputs. :func:`parse_onnx` reads one with the ``onnx``
package (the optional extra, :mod:`.extra`) and turns it into a :class:`Graph` of plain values,
checking first:

- the file: at most :data:`MAX_FILE_BYTES`; a protobuf message ``onnx.checker`` accepts (a
  truncated or corrupt file fails one or the other); the default operator set in
  :data:`MIN_OPSET`..the installed ``onnx``'s newest; no sparse initializers, no tensor stored
  outside the file (``external_data``: a path the file would make us open), no operator of
  another domain, at most :data:`MAX_NODES` nodes;
- every constant (initializer or ``Constant`` node): a dtype of :data:`TENSOR_DTYPES`, sizes
  >= 0 whose product is at most :data:`MAX_ELEMENTS`, and exactly as many stored values
  (or raw bytes) as the sizes declare, before NumPy sees it;
- one input, a float32 tensor of rank 2 or 4 with fixed sizes after the batch axis; one output.

Any violation raises :class:`~tinycompress.errors.InteropError`, one line naming the file.
What the nodes *mean* is :mod:`.onnx_import`'s business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InteropError, shown
from ..nn.architecture import MAX_PARAMETERS
from ..nn.schema import plain
from .support import read_bounded, require

MAX_FILE_BYTES = (1 << 31) - 1
"""The largest file read (protobuf's own limit is 2 GiB)."""

MAX_NODES = 1 << 12
MAX_ELEMENTS = 1 << 28
"""At most this many nodes in a graph, and values in one constant tensor."""

MIN_OPSET = 9
"""The oldest default-domain operator set read (BatchNormalization's current form)."""

TENSOR_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}
"""ONNX element types a constant may have (FLOAT, INT32, INT64, BOOL, DOUBLE)."""

_TYPED_FIELD = {1: "float_data", 6: "int32_data", 7: "int64_data", 9: "int32_data",
                11: "double_data"}

_FLOAT = 1


@dataclass(frozen=True)
class Node:
    """One node: its name, operator, the tensors it reads and writes, its attributes."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]

    @property
    def where(self) -> str:
        """How an error message names the node: ``node '/conv1/Conv' (Conv)``."""
        return f"node {shown(self.name)} ({shown(self.op)[1:-1]})"


@dataclass
class Graph:
    """A checked ONNX graph: the model's name and producer, the input (its name and the shape
    of one example), the output's name, the nodes in order and every constant by name."""

    name: str
    producer: str
    opset: int
    input: str
    input_shape: tuple[int, ...]
    output: str
    nodes: list[Node]
    constants: dict[str, np.ndarray]


def tensor_array(tensor: Any, where: str) -> np.ndarray:
    """A ``TensorProto`` as a NumPy array, its fields checked before any array is made."""
    onnx = require("onnx")
    at = f"{where}: tensor {shown(tensor.name)}"
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise InteropError(f"{at} is stored outside the file (external data); save the model "
                           "with every tensor inside it (torch.onnx.export(..., "
                           "external_data=False))")
    if tensor.data_type not in TENSOR_DTYPES:
        raise InteropError(f"{at} has the ONNX element type {tensor.data_type}; constants may "
                           "be float32, float64, int32, int64 or bool")
    dims = tuple(tensor.dims)
    if any(d < 0 for d in dims) or math.prod(dims) > MAX_ELEMENTS:
        raise InteropError(f"{at} has the sizes {shown(dims)}; each must be >= 0 and the "
                           f"product at most {MAX_ELEMENTS:,}")
    dtype, n = np.dtype(TENSOR_DTYPES[tensor.data_type]), math.prod(dims)
    stored = (len(tensor.raw_data) if tensor.HasField("raw_data")
              else len(getattr(tensor, _TYPED_FIELD[tensor.data_type])) * dtype.itemsize)
    if stored != n * dtype.itemsize:
        raise InteropError(f"{at} declares {shown(dims)} ({n:,} values) but stores "
                           f"{stored // dtype.itemsize:,}")
    return onnx.numpy_helper.to_array(tensor)


def _attribute(attr: Any, where: str) -> Any:
    onnx = require("onnx")
    if attr.type == onnx.AttributeProto.TENSOR:
        return tensor_array(attr.t, where)
    value = onnx.helper.get_attribute_value(attr)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _node(proto: Any, index: int, where: str) -> Node:
    name = proto.name or f"#{index}"
    at = f"{where}: node {shown(name)}"
    if proto.domain not in ("", "ai.onnx"):
        raise InteropError(f"{at} ({shown(proto.op_type)}) is an operator of the domain "
                           f"{shown(proto.domain)}; only standard ONNX operators are read")
    attrs = {a.name: _attribute(a, at) for a in proto.attribute}
    return Node(name, proto.op_type, tuple(proto.input), tuple(proto.output), attrs)


def _fixed_dims(info: Any, where: str) -> tuple[int, ...]:
    """The sizes of one example of the graph input ``info`` (all but the batch axis)."""
    tensor_type = info.type.tensor_type
    if tensor_type.elem_type != _FLOAT or not tensor_type.HasField("shape"):
        raise InteropError(f"{where}: the input {shown(info.name)} is not a float32 tensor of "
                           "known rank")
    dims = list(tensor_type.shape.dim)
    sizes = tuple(d.dim_value if d.HasField("dim_value") else 0 for d in dims[1:])
    if len(dims) not in (2, 4) or any(s <= 0 for s in sizes):
        raise InteropError(f"{where}: the input {shown(info.name)} has the sizes "
                           f"{shown(sizes)} after the batch axis (rank {len(dims)}); expected "
                           "(N, C, H, W) or (N, D) with fixed C, H, W or D")
    return sizes


def _opset(model: Any, where: str) -> int:
    onnx = require("onnx")
    newest = onnx.defs.onnx_opset_version()
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if len(versions) != 1 or not MIN_OPSET <= versions[0] <= newest:
        raise InteropError(f"{where}: default operator set {shown(versions)}; this reads "
                           f"opset {MIN_OPSET}..{newest} (the installed onnx's newest)")
    return versions[0]


def _load(blob: bytes, where: str) -> Any:
    onnx = require("onnx")
    from google.protobuf.message import DecodeError  # protobuf comes with onnx

    try:
        model = onnx.ModelProto.FromString(blob)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InteropError(f"{where}: not a valid ONNX model, truncated or corrupt "
                           f"({plain(first)})") from exc
    graph = model.graph
    if len(graph.sparse_initializer) or len(model.functions):
        raise InteropError(f"{where}: sparse initializers and model-local functions are not "
                           "read; export a plain graph")
    if len(graph.node) > MAX_NODES:
        raise InteropError(f"{where}: {len(graph.node):,} nodes, over the limit of {MAX_NODES:,}")
    return model


def parse_onnx(blob: bytes, where: str = "ONNX model",
               max_parameters: int = MAX_PARAMETERS) -> Graph:
    """Validate ONNX bytes (see the module docstring) into a :class:`Graph`; initializers of
    more than ``max_parameters`` values in all are refused before any is converted."""
    model = _load(blob, where)
    graph, opset = model.graph, _opset(model, where)
    total = sum(math.prod(t.dims) for t in graph.initializer)
    if total > max_parameters:
        raise InteropError(f"{where}: the initializers hold {total:,} values, over the limit of "
                           f"{max_parameters:,}; a genuine model this large needs a larger "
                           "limit (--max-params)")
    constants = {t.name: tensor_array(t, where) for t in graph.initializer}
    nodes = []
    for i, proto in enumerate(graph.node):
        node = _node(proto, i, where)
        if node.op == "Constant":
            constants[node.outputs[0]] = _constant(node, where)
        else:
            nodes.append(node)
    inputs = [info for info in graph.input if info.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise InteropError(f"{where}: {len(inputs)} inputs and {len(graph.output)} outputs; "
                           "a sequential network has one of each")
    producer = plain(f"{model.producer_name} {model.producer_version}".strip())
    return Graph(graph.name, producer, opset,
                 inputs[0].name, _fixed_dims(inputs[0], where), graph.output[0].name, nodes,
                 constants)


def _constant(node: Node, where: str) -> np.ndarray:
    """The value of a ``Constant`` node (``value`` or one of its ``value_*`` shorthands)."""
    kinds = {"value": None, "value_float": np.float32, "value_floats": np.float32,
             "value_int": np.int64, "value_ints": np.int64}
    if len(node.attrs) != 1 or next(iter(node.attrs)) not in kinds:
        raise InteropError(f"{where}: {node.where} has the attributes {shown(list(node.attrs))};"
                           f" expected one of {', '.join(kinds)}")
    key, value = next(iter(node.attrs.items()))
    return value if kinds[key] is None else np.asarray(value, kinds[key])


def read_onnx(path: str | Path, max_parameters: int = MAX_PARAMETERS) -> Graph:
    """Read and validate an ONNX file (:func:`parse_onnx`, naming the file)."""
    return parse_onnx(*read_bounded(path, MAX_FILE_BYTES), max_parameters)
