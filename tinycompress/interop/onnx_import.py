"""Import an ONNX graph of a sequential network into the engine, one node at a time.

A network the engine can run is a chain: every node reads the previous node's output (and
constants: weights, shapes) and the last node writes the graph's output. :func:`import_graph`
walks the nodes of a checked :class:`~.onnx_read.Graph` in order and maps each operator to a
layer of the engine (:data:`OPS`):

============================== =================== =============================================
ONNX                           engine              what must hold
============================== =================== =============================================
Conv                           Conv2D              a square kernel, one stride, the same padding
                                                   on every side, no dilation
Conv, 1 x 1, stride 1, pad 0   PointwiseConv2D     (the same maths, computed faster)
Conv, group = C = F            DepthwiseConv2D     one filter per channel
Gemm                           Dense               ``B`` transposed when ``transB = 1`` (the
                                                   (out, in) of ``nn.Linear``); alpha, beta
                                                   folded into W and b
MatMul, then Add of a vector   Dense               ``B`` is already (in, out)
Relu                           ReLU
MaxPool, AveragePool           MaxPool2D, AvgPool2D a square window, no padding
GlobalAveragePool, ReduceMean  GlobalAvgPool2D     ReduceMean over the axes (2, 3)
BatchNormalization             BatchNorm2D         inference mode; momentum ``1 - m``
                                                   (:func:`~.layout.engine_momentum`)
Flatten (axis 1), Reshape      Flatten             a reshape to (N, C*H*W); NCHW order in both
Dropout                        Dropout             (the identity at inference)
Identity                       (nothing)
============================== =================== =============================================

Anything else, or these with attributes the engine's layer cannot honour, is refused: one line
naming the node and its operator.

**The input convention.** The engine's models take ``x = (pixel/255 - mean)/std`` and record
``(mean, std)`` with the model (:class:`~tinycompress.nn.data.Normalization`). An imported
graph is taken to receive ``(pixel/255 - M)/S`` for the ``M`` and ``S`` the caller states
(default 0 and 1: ``pixel/255``). Leading ``Sub`` and ``Div`` nodes by scalars (a
standardisation inside the graph, as :mod:`.onnx_export` writes one) are folded into it:
subtracting ``c`` from ``(p/255 - M)/S`` gives ``(p/255 - (M + cS))/S``, dividing by ``d``
gives ``(p/255 - M)/(Sd)``. A graph input (N, D) with ``D = s*s`` is taken as a flattened
s x s greyscale image: the model gets the input (1, s, s) and a Flatten first.

Layer names come from the nodes of a graph tinycompress wrote (its producer name), else they
are the engine's defaults (conv1, pool1, fc1, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InteropError, ShapeError, shown
from ..nn.architecture import MAX_NAME
from ..nn.base import SHAPE_ONLY, Layer, Shape
from ..nn.batchnorm import BatchNorm2D
from ..nn.conv import Conv2D
from ..nn.data import Normalization
from ..nn.dense import Dense, Flatten
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from ..nn.elementwise import Dropout, ReLU
from ..nn.model import Sequential
from ..nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .layout import engine_momentum, engine_param, float32
from .onnx_read import Graph, Node

PRODUCER = "tinycompress"
"""The producer name of the graphs :mod:`.onnx_export` writes."""

HINTS = {
    "Softmax": "the engine's models output logits: export the network without its softmax",
    "LogSoftmax": "the engine's models output logits: export the network without its softmax",
    "Shape": "flatten with nn.Flatten() or torch.flatten(x, 1), not x.view(x.size(0), -1)",
}


@dataclass
class _Chain:
    """An import in progress: the layers so far, one example's shape, the input convention."""

    graph: Graph
    where: str
    shape: Shape
    mean: float
    std: float
    layers: list[Layer] = field(default_factory=list)
    open_bias: Dense | None = None  # a Dense from a MatMul, whose bias an Add may give

    def refuse(self, node: Node, why: str) -> InteropError:
        return InteropError(f"{self.where}: {node.where}: {why}")

    def const(self, node: Node, i: int, required: bool = True) -> np.ndarray | None:
        """The constant the node reads as its input ``i`` (None if absent and optional)."""
        name = node.inputs[i] if i < len(node.inputs) else ""
        if name in self.graph.constants:
            return self.graph.constants[name]
        if name or required:
            raise self.refuse(node, f"its input {i} ({shown(name)}) must be a constant")
        return None

    def fill(self, node: Node, layer: Layer, **arrays: np.ndarray | None) -> Layer:
        """Put the node's arrays into the layer's placeholders, each checked."""
        for key, value in arrays.items():
            if value is not None:
                store = layer.params if key in layer.params else layer.buffers
                where = f"{self.where}: {node.where}: {key}"
                store[key] = engine_param(value, store[key].shape, where)
        return layer

    def add(self, node: Node, layer: Layer) -> None:
        """Append the layer, inferring the next shape; named after a tinycompress node."""
        try:
            self.shape = tuple(layer.output_shape(self.shape))
        except ShapeError as exc:
            raise self.refuse(node, f"does not fit its input: {exc}") from exc
        used = {lay.name for lay in self.layers}
        if (self.graph.producer.startswith(PRODUCER) and _is_name(node.name)
                and "/" not in node.name and node.name not in used):
            layer.name = node.name
        self.layers.append(layer)


def _is_name(text: str) -> bool:
    """Whether ``text`` may name a model or a layer (a printable string, not too long)."""
    return text.isprintable() and 0 < len(text) <= MAX_NAME


def _scalar(chain: _Chain, node: Node, value: Any, what: str) -> float:
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind != "f" or not np.isfinite(array).all():
        raise chain.refuse(node, f"{what} is {shown(array.tolist())}; expected one finite number")
    return float(array.reshape(()))


def _ints(chain: _Chain, node: Node, i: int) -> list[int]:
    """The node's constant input ``i``: a vector of integers (axes, a shape)."""
    value = chain.const(node, i)
    if value.ndim != 1 or value.dtype.kind not in "iu":
        raise chain.refuse(node, f"its input {i} is {shown(value.tolist())}; expected a vector "
                                 "of integers")
    return [int(v) for v in value]


def _one(chain: _Chain, node: Node, key: str, default: list[int]) -> int:
    """The one value of a per-axis attribute (the engine's layers hold one of each)."""
    values = list(node.attrs.get(key, default))
    if len(set(values)) != 1:
        raise chain.refuse(node, f"{key} {values}: the engine's layers have square kernels, "
                                 "one stride and the same padding on every side")
    return int(values[0])


def _window(chain: _Chain, node: Node, kernel: list[int] | None) -> tuple[int, int, int]:
    """``(kernel, stride, padding)`` of a convolution or pooling node."""
    if node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise chain.refuse(node, f"auto_pad {node.attrs['auto_pad']}: give explicit pads")
    if any(d != 1 for d in node.attrs.get("dilations", [1])):
        raise chain.refuse(node, "dilated windows are not in the engine")
    k = _one(chain, node, "kernel_shape", kernel or [])
    if kernel is not None and list(node.attrs.get("kernel_shape", kernel)) != [k, k]:
        raise chain.refuse(node, f"kernel_shape {node.attrs['kernel_shape']} is not the "
                                 "weight's")
    return k, _one(chain, node, "strides", [1]), _one(chain, node, "pads", [0])


def _channels(chain: _Chain, node: Node) -> int:
    if len(chain.shape) != 3:
        raise chain.refuse(node, f"it reads a tensor of per-example shape {chain.shape}; "
                                 "expected (C, H, W)")
    return chain.shape[0]


def _conv(chain: _Chain, node: Node) -> Layer:
    W, b = chain.const(node, 1), chain.const(node, 2, required=False)
    if W.ndim != 4:
        raise chain.refuse(node, f"its weight has shape {W.shape}; expected (F, C, K, K)")
    F, per_group, kh, kw = W.shape
    k, s, p = _window(chain, node, [kh, kw])
    C, groups = _channels(chain, node), node.attrs.get("group", 1)
    if groups == 1 and (k, s, p) == (1, 1, 0):
        layer: Layer = PointwiseConv2D(C, F, b is not None, rng=SHAPE_ONLY)
    elif groups == 1:
        layer = Conv2D(C, F, k, s, p, b is not None, rng=SHAPE_ONLY)
    elif groups == C == F and per_group == 1:
        layer = DepthwiseConv2D(C, k, s, p, b is not None, rng=SHAPE_ONLY)
    else:
        raise chain.refuse(node, f"group {groups} with {C} input and {F} output channels: the "
                                 "engine has full (group 1) and depthwise convolutions only")
    return chain.fill(node, layer, W=W, b=b)


def _dense(chain: _Chain, node: Node, W: np.ndarray, b: np.ndarray | None) -> Dense:
    if W.ndim != 2:
        raise chain.refuse(node, f"its weight has shape {W.shape}; expected a matrix")
    layer = Dense(*W.shape, rng=SHAPE_ONLY)
    bias = np.zeros(W.shape[1], W.dtype) if b is None else _bias(chain, node, b, W.shape[1])
    return chain.fill(node, layer, W=W, b=bias)


def _bias(chain: _Chain, node: Node, b: np.ndarray, width: int) -> np.ndarray:
    if b.size not in (1, width) or b.ndim > 2:
        raise chain.refuse(node, f"its bias has shape {b.shape}; expected ({width},)")
    return np.broadcast_to(b.reshape(-1), (width,))


def _gemm(chain: _Chain, node: Node) -> Layer:
    if node.attrs.get("transA", 0):
        raise chain.refuse(node, "transA = 1: the engine multiplies the input from the left")
    B, C = chain.const(node, 1), chain.const(node, 2, required=False)
    W = B.T if node.attrs.get("transB", 0) else B  # nn.Linear's (out, in) -> (in, out)
    alpha, beta = node.attrs.get("alpha", 1.0), node.attrs.get("beta", 1.0)
    return _dense(chain, node, alpha * W, None if C is None else beta * C)


def _matmul(chain: _Chain, node: Node) -> Layer:
    chain.open_bias = _dense(chain, node, chain.const(node, 1), None)
    return chain.open_bias


def _add(chain: _Chain, node: Node) -> None:
    if node.inputs[1] not in chain.graph.constants:
        raise chain.refuse(node, f"it adds {shown(node.inputs[1])}, a computed tensor (a "
                                 "residual connection?): not a sequential network")
    layer = chain.open_bias
    if layer is None or not chain.layers or chain.layers[-1] is not layer:
        raise chain.refuse(node, "an Add is read only as the bias right after a MatMul")
    bias = _bias(chain, node, chain.const(node, 1), layer.out_features)
    chain.fill(node, layer, b=bias)
    chain.open_bias = None


def _pool(cls: type[MaxPool2D | AvgPool2D]) -> Callable[[_Chain, Node], Layer]:
    def convert(chain: _Chain, node: Node) -> Layer:
        k, s, p = _window(chain, node, None)
        _channels(chain, node)
        if p:
            raise chain.refuse(node, f"pads {p}: the engine's pooling has no padding")
        if node.attrs.get("ceil_mode", 0) and any((d - k) % s for d in chain.shape[1:]):
            raise chain.refuse(node, "ceil_mode = 1 changes the output size here; the engine "
                                     "rounds down")
        return cls(k, s)
    return convert


def _reduce_mean(chain: _Chain, node: Node) -> Layer:
    axes = node.attrs.get("axes")
    axes = _ints(chain, node, 1) if axes is None else axes  # an input from opset 18
    if sorted(a % 4 for a in axes) != [2, 3] or len(chain.shape) != 3:
        raise chain.refuse(node, f"a mean over the axes {axes} of a {len(chain.shape) + 1}-D "
                                 "tensor; only the global average over (H, W) is a layer")
    return GlobalAvgPool2D()


def _batchnorm(chain: _Chain, node: Node) -> Layer:
    if node.attrs.get("training_mode", 0) or node.attrs.get("spatial", 1) != 1:
        raise chain.refuse(node, "only inference-mode, spatial batch normalisation is read")
    scale, beta, mean, var = (chain.const(node, i) for i in range(1, 5))
    if np.any(var < 0):
        raise chain.refuse(node, "its running variance has negative values")
    layer = BatchNorm2D(_channels(chain, node), rng=SHAPE_ONLY,
                        momentum=engine_momentum(node.attrs.get("momentum", 0.9)),
                        eps=float32(node.attrs.get("epsilon", 1e-5)))
    return chain.fill(node, layer, gamma=scale, beta=beta, running_mean=mean, running_var=var)


def _flatten(chain: _Chain, node: Node) -> Layer:
    if node.attrs.get("axis", 1) != 1:
        raise chain.refuse(node, f"axis {node.attrs['axis']}: only a flatten after the batch "
                                 "axis (axis 1) is a layer")
    return Flatten()


def _reshape(chain: _Chain, node: Node) -> Layer:
    target = _ints(chain, node, 1)
    D = math.prod(chain.shape)
    keep = (-1,) if node.attrs.get("allowzero", 0) else (-1, 0)  # 0 copies the batch size
    if (len(target) != 2 or target[0] not in keep or target[1] not in (-1, D)
            or target == [-1, -1]):
        raise chain.refuse(node, f"a reshape to {shown(target)}; only a flatten to (N, {D}) "
                                 "is a layer")
    return Flatten()


def _dropout(chain: _Chain, node: Node) -> Layer:
    ratio = chain.const(node, 1, required=False)  # an input from opset 12, else an attribute
    p = _scalar(chain, node, node.attrs.get("ratio", 0.5) if ratio is None else ratio, "ratio")
    mode = chain.const(node, 2, required=False)
    if (mode is not None and mode.any()) or not 0 <= p < 1:
        raise chain.refuse(node, "only inference-mode dropout with a ratio in [0, 1) is read")
    return Dropout(float32(p))


def _standardise(chain: _Chain, node: Node) -> None:
    """A leading Sub or Div by a scalar: folded into the input convention."""
    if chain.layers:
        raise chain.refuse(node, f"a {node.op} is read only before the first layer, as the "
                                 "input's standardisation")
    c = _scalar(chain, node, chain.const(node, 1), "its constant")
    if node.op == "Sub":
        chain.mean += c * chain.std
    elif c > 0:
        chain.std *= c
    else:
        raise chain.refuse(node, f"a division by {c}; a standard deviation is positive")


OPS: dict[str, Callable[[_Chain, Node], Layer | None]] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Add": _add,
    "Relu": lambda chain, node: ReLU(), "MaxPool": _pool(MaxPool2D),
    "AveragePool": _pool(AvgPool2D), "GlobalAveragePool": lambda chain, node: GlobalAvgPool2D(),
    "ReduceMean": _reduce_mean, "BatchNormalization": _batchnorm, "Flatten": _flatten,
    "Reshape": _reshape, "Dropout": _dropout, "Identity": lambda chain, node: None,
    "Sub": _standardise, "Div": _standardise,
}
"""Every operator read, and the function that turns its node into an engine layer (or none)."""


def _next_node(chain: _Chain, node: Node, current: str, consumed: set[str]) -> Node:
    """The node, checked to continue the chain from ``current`` (an Add may name it second)."""
    if node.op == "Add" and len(node.inputs) == 2 and node.inputs[1] == current:
        node = replace(node, inputs=node.inputs[::-1])
    if not node.inputs or node.inputs[0] != current:
        if all(not i or i in chain.graph.constants for i in node.inputs):
            raise chain.refuse(node, "it computes a constant; weights must be stored as "
                                     "initializers (import a dense export, not a compact one)")
        raise chain.refuse(node, f"it reads {shown(list(node.inputs))}, not the output of the "
                                 f"node before it ({shown(current)}): not a sequential network")
    if node.op not in OPS:
        hint = HINTS.get(node.op, f"the operators read are {', '.join(OPS)}")
        raise chain.refuse(node, f"unsupported operator; {hint}")
    if any(out and out in consumed for out in node.outputs[1:]):
        raise chain.refuse(node, "a second output of it is used; only the first is read")
    return node


def import_graph(graph: Graph, where: str, norm: Normalization, name: str
                 ) -> tuple[Sequential, Normalization]:
    """The engine model of a checked ONNX graph, and the normalisation its input expects.

    Parameters
    ----------
    graph : what :func:`~.onnx_read.parse_onnx` read.
    where : how error messages name the file.
    norm : what the graph's input receives, ``(pixel/255 - mean)/std``.
    name : the model's name (a graph tinycompress wrote keeps its own).

    Raises
    ------
    InteropError
        For any node the engine cannot run (see the module docstring).
    """
    flat = len(graph.input_shape) == 1
    side = math.isqrt(graph.input_shape[0]) if flat else 0
    if flat and side * side != graph.input_shape[0]:
        raise InteropError(f"{where}: the input has {graph.input_shape[0]} features, not a "
                           "square image; export the network with an (N, C, H, W) input")
    input_shape = (1, side, side) if flat else graph.input_shape
    chain = _Chain(graph, where, graph.input_shape, norm.mean, norm.std)
    consumed = {i for node in graph.nodes for i in node.inputs} | {graph.output}
    current = graph.input
    for node in graph.nodes:
        node = _next_node(chain, node, current, consumed)
        layer = OPS[node.op](chain, node)
        if layer is not None:
            chain.add(node, layer)
        current = node.outputs[0]
    if current != graph.output or not chain.layers:
        raise InteropError(f"{where}: the graph's output {shown(graph.output)} is not the "
                           "output of a chain of layers from its input")
    if graph.producer.startswith(PRODUCER) and _is_name(graph.name):
        name = graph.name
    # the engine standardises in float32: the shortest decimals of the float32 values
    norm = Normalization(float32(chain.mean), float32(chain.std))
    layers = [Flatten(), *chain.layers] if flat else chain.layers
    return Sequential(layers, input_shape, name), norm
