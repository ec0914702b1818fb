"""Export an engine model as a self-contained ONNX graph, dense or compact.

The graph needs nothing from tinycompress to run (onnxruntime, or any ONNX runtime, runs it):

- its input ``pixels`` is ``pixel/255`` as float32, (N, C, H, W) (N x 1 x 28 x 28 for the
  MNIST models); its first nodes are the model's standardisation, ``Sub`` then ``Div`` by
  float32 scalars, exactly the engine's ``(x - mean)/std``
  (:class:`~tinycompress.nn.data.Normalization`);
- then one node per layer, named after the layer (:data:`EMITTERS`): Conv (``group = C`` for
  a depthwise layer), Gemm with the engine's (in, out) weight as ``B`` (``transB = 0``),
  MaxPool / AveragePool, ReduceMean over (H, W) for the global average (whose output is
  (N, C), as the engine's), BatchNormalization (momentum ``1 - m``, :mod:`.layout`), Relu,
  Flatten, Dropout (the identity at inference);
- its output ``logits``, (N, classes).

Every constant is named ``<layer>/<param>``, the engine's own key. The *compact* graph stores
each of them in the cheapest form of :mod:`.onnx_compact` (a shared-weight layer as uint8
indices into its codebook, sparse ones in relative-index form), so the ONNX file keeps the
compression; the *dense* graph stores float32 initializers. Both compute the same tensors.

The graph uses operator set :data:`OPSET` and IR version :data:`IR_VERSION` (onnx >= 1.12,
onnxruntime >= 1.12), and is checked by ``onnx.checker`` before its bytes are returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InteropError, shown
from ..nn.base import Layer
from ..nn.batchnorm import BatchNorm2D
from ..nn.conv import Conv2D
from ..nn.data import Normalization
from ..nn.dense import Dense, Flatten
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from ..nn.elementwise import Dropout, ReLU
from ..nn.model import Sequential
from ..nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from . import onnx_compact
from .layout import onnx_momentum
from .onnx_import import PRODUCER
from .support import require

OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT = "pixels", "logits"


class _Builder:
    """The nodes and constants of a graph being written, dense or compact."""

    def __init__(self, compact: bool) -> None:
        self.helper = require("onnx").helper
        self.compact = compact
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.forms: dict[str, str] = {}

    def constant(self, name: str, array: np.ndarray) -> str:
        """Store ``array`` as the tensor ``name`` (compactly if asked); returns the name."""
        array = np.asarray(array, np.float32)
        if self.compact:
            encoded = onnx_compact.encode(name, array)
            self.initializers += encoded.initializers
            self.nodes += encoded.nodes
            self.forms[name] = encoded.form
        else:
            self.initializers.append(require("onnx").numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, name: str, inputs: list[str], **attrs: Any) -> str:
        """Append a node; returns the name of its output, ``<name>:0``."""
        self.nodes.append(self.helper.make_node(op, inputs, [f"{name}:0"], name, **attrs))
        return f"{name}:0"

    def params(self, layer: Layer) -> list[str]:
        """The layer's parameters as constants, in the order its ONNX node reads them."""
        return [self.constant(f"{layer.name}/{key}", value)
                for key, value in layer.params.items()]


Emitter = Callable[[_Builder, Any, str], str]


def _conv(b: _Builder, layer: Conv2D | DepthwiseConv2D, x: str) -> str:
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    groups = layer.channels if isinstance(layer, DepthwiseConv2D) else 1
    return b.node("Conv", layer.name, [x, *b.params(layer)], kernel_shape=[k, k],
                  strides=[s, s], pads=[p] * 4, group=groups)


def _pool(op: str) -> Emitter:
    def emit(b: _Builder, layer: MaxPool2D | AvgPool2D, x: str) -> str:
        k, s = layer.kernel_size, layer.stride
        return b.node(op, layer.name, [x], kernel_shape=[k, k], strides=[s, s])
    return emit


def _batchnorm(b: _Builder, layer: BatchNorm2D, x: str) -> str:
    stats = [b.constant(f"{layer.name}/{key}", value) for key, value in layer.buffers.items()]
    return b.node("BatchNormalization", layer.name, [x, *b.params(layer), *stats],
                  epsilon=layer.eps, momentum=onnx_momentum(layer.momentum))


def _dropout(b: _Builder, layer: Dropout, x: str) -> str:
    ratio = b.constant(f"{layer.name}/ratio", np.array(layer.p))
    return b.node("Dropout", layer.name, [x, ratio])


EMITTERS: dict[type[Layer], Emitter] = {
    Conv2D: _conv, PointwiseConv2D: _conv, DepthwiseConv2D: _conv,
    Dense: lambda b, layer, x: b.node("Gemm", layer.name, [x, *b.params(layer)]),
    MaxPool2D: _pool("MaxPool"), AvgPool2D: _pool("AveragePool"),
    GlobalAvgPool2D: lambda b, layer, x: b.node("ReduceMean", layer.name, [x], axes=[2, 3],
                                                keepdims=0),
    BatchNorm2D: _batchnorm,
    ReLU: lambda b, layer, x: b.node("Relu", layer.name, [x]),
    Flatten: lambda b, layer, x: b.node("Flatten", layer.name, [x], axis=1),
    Dropout: _dropout,
}
"""Every layer type exported, and the function that appends its node."""


def build_graph(model: Sequential, norm: Normalization, compact: bool = False
                ) -> tuple[Any, dict[str, str]]:
    """The ONNX ``ModelProto`` of ``model`` with ``norm`` as its first nodes, and the form
    :mod:`.onnx_compact` chose for each constant (empty for a dense graph).

    Raises
    ------
    InteropError
        If the model has a layer type without an ONNX form, or the graph fails the checker.
    """
    onnx = require("onnx")
    helper = onnx.helper
    b = _Builder(compact)
    x = b.node("Sub", "input/sub", [INPUT, b.constant("input/mean", np.array(norm.mean))])
    x = b.node("Div", "input/div", [x, b.constant("input/std", np.array(norm.std))])
    for layer in model.layers:
        emit = EMITTERS.get(type(layer))
        if emit is None:
            raise InteropError(f"layer {shown(layer.name)} ({type(layer).__name__}) has no "
                               "ONNX form here")
        x = emit(b, layer, x)
    b.nodes[-1].output[0] = OUTPUT
    classes = model.shapes()[-1]
    graph = helper.make_graph(
        b.nodes, model.name,
        [helper.make_tensor_value_info(INPUT, 1, ["N", *model.input_shape])],
        [helper.make_tensor_value_info(OUTPUT, 1, ["N", *classes])], b.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version=__version__,
                              ir_version=IR_VERSION)
    proto.doc_string = (f"input {INPUT}: pixel/255 as float32 (N, "
                        f"{', '.join(map(str, model.input_shape))}); the first nodes "
                        f"standardise it, (x - {norm.mean:.6g}) / {norm.std:.6g}")
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:  # a bug here, not bad input
        raise InteropError(f"the exported graph fails the ONNX checker: {exc}") from exc
    return proto, b.forms


def export_onnx(model: Sequential, norm: Normalization, compact: bool = False) -> bytes:
    """The bytes of the ONNX file of ``model`` (see :func:`build_graph`)."""
    return build_graph(model, norm, compact)[0].SerializeToString()
