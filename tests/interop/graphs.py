"""ONNX graphs for the tests, built with the onnx helper API (seeded weights), and the
comparison of a graph in onnxruntime with the engine model imported from it."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tinycompress.interop.onnx_import import import_graph
from tinycompress.interop.onnx_read import parse_onnx
from tinycompress.interop.runtime import engine_logits, run_onnx
from tinycompress.nn.data import Normalization
from tinycompress.nn.model import Sequential


def weights(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.5


def model_bytes(nodes: list[Any], initializers: dict[str, np.ndarray],
                input_dims: list[Any] | None = None, opset: int = 17, output: str = "y",
                producer: str = "test", elem_type: int = TensorProto.FLOAT) -> bytes:
    """A one-input, one-output model; the output is (N, classes), its sizes symbolic."""
    dims = ["N", 3, 8, 8] if input_dims is None else input_dims
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem_type, dims)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", "classes"])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=producer, ir_version=8)
    return model.SerializeToString()


def node(op: str, inputs: list[str], output: str, **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], name=f"{op.lower()}_{output}", **attrs)


def imported(blob: bytes, mean: float = 0.0, std: float = 1.0
             ) -> tuple[Sequential, Normalization]:
    return import_graph(parse_onnx(blob, "g.onnx"), "g.onnx", Normalization(mean, std), "g")


def pixels(shape: tuple[int, ...], n: int = 6) -> np.ndarray:
    return np.random.default_rng(1).random((n, *shape), dtype=np.float32)


def check_against_runtime(blob: bytes, input_shape: tuple[int, ...]) -> Sequential:
    """Import ``blob``; its engine model must compute what onnxruntime computes."""
    model, norm = imported(blob)
    x = pixels(input_shape)
    np.testing.assert_allclose(engine_logits(model, norm, x), run_onnx(blob, x), atol=1e-5,
                               rtol=1e-5)
    return model
