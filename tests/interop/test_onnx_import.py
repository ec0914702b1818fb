"""ONNX graphs of every supported operator, built with the onnx helper API, imported and run by
the engine against onnxruntime; and the one-line refusal of what the engine cannot run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from . import EXTRA_MISSING

onnx = pytest.importorskip("onnx", reason=EXTRA_MISSING)
pytest.importorskip("onnxruntime", reason=EXTRA_MISSING)

from onnx import TensorProto, helper  # noqa: E402

from tinycompress.errors import InteropError  # noqa: E402
from tinycompress.interop.onnx_read import parse_onnx, read_onnx, tensor_array  # noqa: E402
from tinycompress.interop.runtime import run_onnx  # noqa: E402

from .graphs import (  # noqa: E402
    check_against_runtime,
    imported,
    model_bytes,
    node,
    pixels,
    weights,
)


def _types(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_conv_relu_maxpool_flatten_gemm() -> None:
    blob = model_bytes(
        [node("Conv", ["x", "W", "b"], "c", kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1]),
         node("Relu", ["c"], "r"), node("MaxPool", ["r"], "p", kernel_shape=[2, 2],
                                        strides=[2, 2]),
         node("Flatten", ["p"], "f"), node("Gemm", ["f", "B", "C"], "y", transB=1)],
        {"W": weights(4, 3, 3, 3), "b": weights(4, seed=1), "B": weights(5, 16, seed=2),
         "C": weights(5, seed=3)})
    model = check_against_runtime(blob, (3, 8, 8))
    assert _types(model) == ["Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"]
    conv, dense = model.layers[0], model.layers[-1]
    assert (conv.kernel_size, conv.stride, conv.padding) == (3, 2, 1)
    np.testing.assert_array_equal(dense.params["W"], weights(5, 16, seed=2).T)  # (out, in)
    assert [layer.name for layer in model.layers] == ["conv1", "relu1", "pool1", "flatten1",
                                                      "fc1"]


def test_pointwise_avgpool_global_average_matmul_add() -> None:
    blob = model_bytes(
        [node("Conv", ["x", "W"], "c"), node("AveragePool", ["c"], "a", kernel_shape=[2, 2]),
         node("GlobalAveragePool", ["a"], "g"), node("Flatten", ["g"], "f"),
         node("MatMul", ["f", "B"], "m"), node("Add", ["m", "C"], "y")],
        {"W": weights(6, 3, 1, 1), "B": weights(6, 4, seed=1), "C": weights(1, 4, seed=2)})
    model = check_against_runtime(blob, (3, 8, 8))
    assert _types(model) == ["PointwiseConv2D", "AvgPool2D", "GlobalAvgPool2D", "Flatten",
                             "Dense"]
    assert not model.layers[0].bias and model.layers[1].stride == 1  # ONNX's default stride


def test_depthwise_batchnorm_reduce_mean_gemm_with_alpha_and_beta() -> None:
    blob = model_bytes(
        [node("Conv", ["x", "W", "b"], "c", group=3, pads=[1, 1, 1, 1]),
         node("BatchNormalization", ["c", "s", "o", "m", "v"], "n", epsilon=1e-3,
              momentum=0.8),
         node("Relu", ["n"], "r"), node("ReduceMean", ["r"], "g", axes=[-2, -1], keepdims=0),
         node("Gemm", ["g", "B", "C"], "y", alpha=0.5, beta=2.0)],
        {"W": weights(3, 1, 3, 3), "b": weights(3, seed=1), "s": weights(3, seed=2),
         "o": weights(3, seed=3), "m": weights(3, seed=4),
         "v": np.abs(weights(3, seed=5)) + 0.1, "B": weights(3, 4, seed=6),
         "C": weights(4, seed=7)})
    model = check_against_runtime(blob, (3, 8, 8))
    assert _types(model) == ["DepthwiseConv2D", "BatchNorm2D", "ReLU", "GlobalAvgPool2D",
                             "Dense"]
    bn = model.layers[1]
    assert (bn.eps, bn.momentum) == (1e-3, 0.2)  # ONNX's momentum 0.8 is the engine's 0.2
    np.testing.assert_array_equal(bn.buffers["running_var"], np.abs(weights(3, seed=5)) + 0.1)


def test_reshape_dropout_identity_and_reduce_mean_with_axes_input() -> None:
    blob = model_bytes(
        [node("Conv", ["x", "W"], "c", kernel_shape=[3, 3]),
         node("ReduceMean", ["c", "axes"], "g", keepdims=1),
         node("Reshape", ["g", "shape"], "f"), node("Dropout", ["f", "ratio"], "d"),
         node("Identity", ["d"], "i"), node("Gemm", ["i", "B"], "y")],
        {"W": weights(2, 3, 3, 3), "axes": np.array([2, 3]), "shape": np.array([0, -1]),
         "ratio": np.array(0.3, np.float32), "B": weights(2, 5, seed=1)}, opset=18)
    model = check_against_runtime(blob, (3, 8, 8))
    assert _types(model) == ["Conv2D", "GlobalAvgPool2D", "Flatten", "Dropout", "Dense"]
    assert model.layers[3].p == 0.3 and not model.layers[-1].params["b"].any()


def test_dropout_ratio_as_an_attribute_in_opset_11_and_a_flat_input() -> None:
    blob = model_bytes([node("Sub", ["x", "c"], "s"), node("Dropout", ["s"], "d", ratio=0.25),
                        node("Gemm", ["d", "B"], "y")],
                       {"c": np.array(0.5, np.float32), "B": weights(16, 3)},
                       input_dims=["N", 16], opset=11)
    model, norm = imported(blob)
    assert model.input_shape == (1, 4, 4)  # 16 features: a flattened 4 x 4 image
    assert _types(model) == ["Flatten", "Dropout", "Dense"] and model.layers[1].p == 0.25
    assert (norm.mean, norm.std) == (0.5, 1.0)
    x = pixels((16,))
    np.testing.assert_allclose(model.forward(x.reshape(-1, 1, 4, 4) - np.float32(0.5)),
                               run_onnx(blob, x), atol=1e-6)


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.1, 2.0)])
def test_leading_sub_and_div_fold_into_the_normalisation(mean: float, std: float) -> None:
    blob = model_bytes(
        [node("Sub", ["x", "c"], "s"), node("Div", ["s", "d"], "t"), node("Flatten", ["t"], "f"),
         node("MatMul", ["f", "B"], "m"), node("Add", ["C", "m"], "y")],  # bias named first
        {"c": np.array(0.5, np.float32), "d": np.array([0.25], np.float32),
         "B": weights(192, 3), "C": weights(3, seed=1)})
    model, norm = imported(blob, mean, std)
    assert (norm.mean, norm.std) == pytest.approx((mean + 0.5 * std, std * 0.25))
    u = pixels((3, 8, 8))  # pixel/255
    engine = model.forward((u - np.float32(norm.mean)) / np.float32(norm.std))
    np.testing.assert_allclose(engine, run_onnx(blob, (u - np.float32(mean)) / np.float32(std)),
                               atol=1e-4)


def _refused(blob: bytes, match: str) -> str:
    with pytest.raises(InteropError, match=match) as info:
        imported(blob)
    assert "\n" not in str(info.value) and str(info.value).startswith("g.onnx")
    return str(info.value)


def _after_conv(*nodes: onnx.NodeProto, **inits: np.ndarray) -> bytes:
    return model_bytes([node("Conv", ["x", "W"], "c", kernel_shape=[3, 3]), *nodes],
                       {"W": weights(4, 3, 3, 3), **inits})


@pytest.mark.parametrize(("blob", "match"), [
    (_after_conv(node("Softmax", ["c"], "y")), r"node 'softmax_y' \(Softmax\): unsupported "
     "operator; the engine's models output logits"),
    (_after_conv(node("Tanh", ["c"], "y")), r"\(Tanh\): unsupported operator; the operators"),
    (model_bytes([node("Shape", ["x"], "y")], {}), r"\(Shape\).*nn\.Flatten"),
    (model_bytes([node("Conv", ["x", "W"], "y", group=3)], {"W": weights(6, 1, 3, 3)}),
     "group 3 with 3 input and 6 output channels"),
    (model_bytes([node("Conv", ["x", "W"], "y", dilations=[2, 2])], {"W": weights(2, 3, 3, 3)}),
     "dilated"),
    (model_bytes([node("Conv", ["x", "W"], "y", pads=[1, 1, 0, 0])], {"W": weights(2, 3, 3, 3)}),
     r"pads \[1, 1, 0, 0\]: the engine's layers have square kernels"),
    (model_bytes([node("Conv", ["x", "W"], "y")], {"W": weights(2, 3, 3, 1)}),
     r"kernel_shape \[3, 1\]"),
    (model_bytes([node("Conv", ["x", "W"], "y", auto_pad="SAME_UPPER")],
                 {"W": weights(2, 3, 3, 3)}), "auto_pad SAME_UPPER"),
    (_after_conv(node("MaxPool", ["c"], "y", kernel_shape=[2, 2], pads=[1, 1, 1, 1])),
     "no padding"),
    (_after_conv(node("MaxPool", ["c"], "y", kernel_shape=[4, 4], strides=[4, 4],
                      ceil_mode=1)), "ceil_mode"),
    (_after_conv(node("AveragePool", ["c"], "y")), "not a valid ONNX model.*'kernel_shape'"),
    (_after_conv(node("BatchNormalization", ["c", "s", "s", "s", "s"], "y", training_mode=1),
                 s=np.ones(4, np.float32)), "inference-mode"),
    (_after_conv(node("BatchNormalization", ["c", "s", "s", "s", "v"], "y"),
                 s=np.ones(4, np.float32), v=-np.ones(4, np.float32)), "negative"),
    (_after_conv(node("Reshape", ["c", "shape"], "y"), shape=np.array([0, 4, 36])),
     r"a reshape to \[0, 4, 36\]; only a flatten to \(N, 144\)"),
    (_after_conv(node("Flatten", ["c"], "y", axis=2)), "axis 2"),
    (_after_conv(node("Reshape", ["c", "shape"], "y"), shape=np.array([0.0, 144.0], np.float32)),
     "expected a vector of integers"),
    (_after_conv(node("ReduceMean", ["c"], "y", axes=[1])), r"axes \[1\]"),
    (_after_conv(node("Sub", ["c", "k"], "y"), k=np.array(1.0, np.float32)),
     "before the first layer"),
    (model_bytes([node("Div", ["x", "k"], "y")], {"k": np.array(-2.0, np.float32)}),
     "a division by -2.0"),
    (model_bytes([node("Sub", ["x", "k"], "y")], {"k": np.ones(3, np.float32)}),
     "expected one finite number"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Gemm", ["f", "B"], "g"),
                 node("Add", ["g", "C"], "y"), B=weights(144, 2), C=weights(2)),
     "right after a MatMul"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Gemm", ["f", "B"], "y", transA=1),
                 B=weights(144, 2)), "transA"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Gemm", ["f", "B"], "y"),
                 B=weights(100, 2)), "does not fit its input"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Gemm", ["f", "B", "C"], "y"),
                 B=weights(144, 2), C=weights(3)), r"its bias has shape \(3,\)"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Gemm", ["f", "B"], "y"),
                 B=weights(144, 2).astype(np.float64)), "float32"),
    (_after_conv(node("Flatten", ["c"], "f"), node("Transpose", ["B"], "t"),
                 node("Gemm", ["f", "t"], "y"), B=weights(2, 144)), "computes a constant"),
    (_after_conv(node("Relu", ["x"], "y")), "not the output of the node before it"),
    (model_bytes([node("Relu", ["x"], "r"), node("Add", ["r", "x"], "y")], {}),
     r"node 'add_y' \(Add\): it adds 'x', a computed tensor \(a residual connection\?\)"),
    (_after_conv(node("Dropout", ["c", "r", "t"], "y"), r=np.array(0.5, np.float32),
                 t=np.array(True)), "inference-mode dropout"),
    (_after_conv(node("Conv", ["c", "c"], "y", kernel_shape=[1, 1])), "must be a constant"),
    (model_bytes([node("Flatten", ["x"], "y"), node("Relu", ["y"], "r")], {}),
     "is not the output of a chain"),
    (model_bytes([node("Flatten", ["x"], "y")], {}, input_dims=["N", 15]), "not a square"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_what_the_engine_cannot_run_is_refused_in_one_line(blob: bytes, match: str) -> None:
    _refused(blob, match)


def test_a_second_output_in_use_is_refused() -> None:
    mp = helper.make_node("MaxPool", ["c"], ["p", "idx"], "pool", kernel_shape=[2, 2])
    blob = _after_conv(mp, node("Add", ["p", "idx"], "y"))
    _refused(blob, r"node 'pool' \(MaxPool\): a second output of it is used")


def _graph(**changes) -> bytes:
    blob = _after_conv(node("Flatten", ["c"], "y"))
    model = onnx.ModelProto.FromString(blob)
    for key, value in changes.items():
        value(model) if callable(value) else setattr(model, key, value)
    return model.SerializeToString()


def _external(model) -> None:
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location="weights.bin")
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL


@pytest.mark.parametrize(("change", "match"), [
    ({"opset": lambda m: setattr(m.opset_import[0], "version", 7)}, "default operator set"),
    ({"domain": lambda m: setattr(m.graph.node[0], "domain", "com.example")}, "domain"),
    ({"int": lambda m: setattr(m.graph.input[0].type.tensor_type, "elem_type", 7)},
     "not a float32 tensor"),
    ({"rank": lambda m: m.graph.input[0].type.tensor_type.shape.dim.pop()}, "rank 3"),
    ({"outputs": lambda m: m.graph.output.append(m.graph.output[0])}, "1 inputs and 2 outputs"),
])
def test_malformed_graphs_are_refused(change: dict, match: str) -> None:
    with pytest.raises(InteropError, match=match) as info:
        parse_onnx(_graph(**change), "g.onnx")
    assert "\n" not in str(info.value)


def test_a_tensor_stored_outside_the_file_is_never_opened(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 432)  # a file the checker finds
    with pytest.raises(InteropError, match="tensor 'W' is stored outside the file"):
        parse_onnx(_graph(external=_external), "g.onnx")
    monkeypatch.chdir(Path(__file__).parent)  # and where it is missing, the checker refuses
    with pytest.raises(InteropError, match="weights.bin"):
        parse_onnx(_graph(external=_external), "g.onnx")


def _tensor(dims: list[int], values: list[float], raw: bytes | None = None) -> TensorProto:
    tensor = TensorProto(name="k", data_type=TensorProto.FLOAT, dims=dims, float_data=values)
    if raw is not None:
        tensor.raw_data = raw
    return tensor


def test_constants_are_checked_before_numpy_sees_them() -> None:
    np.testing.assert_array_equal(tensor_array(_tensor([3], [1, 2, 3]), "g"), [1, 2, 3])
    with pytest.raises(InteropError, match=r"declares \(1048576, 3\) \(3,145,728 values\) "
                       "but stores 3"):
        tensor_array(_tensor([1 << 20, 3], [1, 2, 3]), "g")
    with pytest.raises(InteropError, match="but stores 2"):
        tensor_array(_tensor([3], [], raw=b"\0" * 8), "g")
    with pytest.raises(InteropError, match="the product at most 268,435,456"):
        tensor_array(_tensor([1 << 40, 1 << 40], []), "g")
    with pytest.raises(InteropError, match="element type 10"):
        tensor_array(TensorProto(name="h", data_type=TensorProto.FLOAT16, dims=[1]), "g")


def test_every_truncation_and_garbage_are_refused() -> None:
    blob = _after_conv(node("Flatten", ["c"], "y"))
    for n in range(0, len(blob), 3):
        with pytest.raises(InteropError):
            parse_onnx(blob[:n], "g.onnx")
    for junk in (b"\xff" * 64, b"not an onnx file at all", bytes(range(256))):
        with pytest.raises(InteropError, match="not a valid ONNX model"):
            parse_onnx(junk, "g.onnx")


def test_a_model_over_the_parameter_limit_is_refused_before_conversion() -> None:
    blob = _after_conv(node("Flatten", ["c"], "y"))  # 108 weights
    assert parse_onnx(blob, "g.onnx", max_parameters=108).constants["W"].size == 108
    with pytest.raises(InteropError, match="hold 108 values, over the limit of 107"):
        parse_onnx(blob, "g.onnx", max_parameters=107)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InteropError, match="cannot read"):
        read_onnx(tmp_path / "nothing.onnx")
