"""The ONNX export: every shipped model (dense and compressed) runs in onnxruntime as in the
engine, the compact graph keeps the compression, and importing the export gives the model back."""

from __future__ import annotations

import numpy as np
import pytest

from . import EXTRA_MISSING

onnx = pytest.importorskip("onnx", reason=EXTRA_MISSING)
pytest.importorskip("onnxruntime", reason=EXTRA_MISSING)

from tinycompress import zoo  # noqa: E402
from tinycompress.errors import InteropError  # noqa: E402
from tinycompress.interop import onnx_compact  # noqa: E402
from tinycompress.interop.onnx_export import OPSET, build_graph, export_onnx  # noqa: E402
from tinycompress.interop.onnx_import import import_graph  # noqa: E402
from tinycompress.interop.onnx_read import parse_onnx  # noqa: E402
from tinycompress.interop.runtime import engine_logits, run_onnx  # noqa: E402
from tinycompress.nn.architecture import architecture, state_arrays  # noqa: E402
from tinycompress.nn.base import Layer  # noqa: E402
from tinycompress.nn.batchnorm import BatchNorm2D  # noqa: E402
from tinycompress.nn.conv import Conv2D  # noqa: E402
from tinycompress.nn.data import Normalization, data_dir, load_arrays, load_split  # noqa: E402
from tinycompress.nn.dense import Dense, Flatten  # noqa: E402
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D  # noqa: E402
from tinycompress.nn.elementwise import Dropout, ReLU  # noqa: E402
from tinycompress.nn.model import Sequential  # noqa: E402
from tinycompress.nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D  # noqa: E402

SHIPPED = ["lenet-300-100", "lenet5", "compressed/lenet-300-100.tcz", "compressed/lenet5.tcz"]
SAMPLE = 500  # test images in the default suite; the slow test takes all 10,000


def _load(name: str) -> tuple[Sequential, Normalization]:
    model, meta = zoo.resolve_model(name if name in zoo.PRETRAINED else str(data_dir() / name))
    return model, Normalization.from_json(meta["normalization"])


@pytest.fixture(scope="module")
def test_pixels() -> np.ndarray:
    """The MNIST test images as the exported graphs take them: pixel/255, float32."""
    return load_split("test").images.astype(np.float32)[:, None] / np.float32(255)


def _same_model(a: Sequential, b: Sequential) -> bool:
    return architecture(a) == architecture(b) and all(
        np.array_equal(x, y) for x, y in zip(state_arrays(a).values(), state_arrays(b).values(),
                                             strict=True))


def _agrees(model: Sequential, norm: Normalization, blob: bytes, pixels: np.ndarray
            ) -> np.ndarray:
    ours, theirs = engine_logits(model, norm, pixels), run_onnx(blob, pixels)
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
    return theirs


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_run_in_onnxruntime_as_in_the_engine(name: str,
                                                            test_pixels: np.ndarray) -> None:
    model, norm = _load(name)
    dense, compact = export_onnx(model, norm), export_onnx(model, norm, compact=True)
    sample = test_pixels[:SAMPLE]
    logits = _agrees(model, norm, dense, sample)
    np.testing.assert_array_equal(run_onnx(compact, sample), logits)  # the very same weights
    back, back_norm = import_graph(parse_onnx(dense), "x.onnx", Normalization(0.0, 1.0), "x")
    assert _same_model(back, model)
    assert (np.float32(back_norm.mean), np.float32(back_norm.std)) == (np.float32(norm.mean),
                                                                       np.float32(norm.std))


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_agree_on_all_10000_test_images(name: str,
                                                       test_pixels: np.ndarray) -> None:
    model, norm = _load(name)
    X, _ = load_arrays("test", None, norm)  # what `tinycompress evaluate` classifies
    np.testing.assert_array_equal((test_pixels - np.float32(norm.mean)) / np.float32(norm.std),
                                  X)  # is what the engine is given here
    logits = _agrees(model, norm, export_onnx(model, norm), test_pixels)
    np.testing.assert_array_equal(run_onnx(export_onnx(model, norm, True), test_pixels), logits)


@pytest.mark.parametrize("name", ["compressed/lenet5.tcz", "compressed/lenet-300-100.tcz"])
def test_the_compact_export_keeps_the_compression(name: str) -> None:
    model, norm = _load(name)
    proto, forms = build_graph(model, norm, compact=True)
    dense = len(export_onnx(model, norm))
    assert proto.ByteSize() * 6 <= dense  # the target: at most 1/6 of the dense file
    assert {forms[f"{layer.name}/W"] for layer in model.layers if "W" in layer.params} <= {
        "indexed", "sparse"}
    # biases stay raw, or indexed where the file stores them as few distinct values (int8)
    assert all(forms[f"{layer.name}/b"] in {"raw", "indexed"}
               for layer in model.layers if layer.params)


def _every_layer_model() -> Sequential:
    rng = np.random.default_rng(0)
    layers: list[Layer] = [
        Conv2D(2, 4, 3, padding=1, rng=rng), BatchNorm2D(4, momentum=0.2, eps=1e-3), ReLU(),
        DepthwiseConv2D(4, 3, stride=2, padding=1, rng=rng), PointwiseConv2D(4, 6, rng=rng),
        MaxPool2D(2, 1), AvgPool2D(2), GlobalAvgPool2D(), Dropout(0.3),
        Dense(6, 5, rng=rng)]
    bn = layers[1]
    bn.buffers["running_mean"] = rng.standard_normal(4).astype(np.float32)
    bn.buffers["running_var"] = rng.random(4, dtype=np.float32) + 0.5
    bn.params["gamma"] = rng.random(4, dtype=np.float32) + 0.5
    return Sequential(layers, (2, 9, 9), "every-layer")


def test_every_layer_type_exports_runs_and_imports_back() -> None:
    model, norm = _every_layer_model(), Normalization(0.25, 0.5)
    pixels = np.random.default_rng(1).random((7, 2, 9, 9), dtype=np.float32)
    for compact in (False, True):
        _agrees(model, norm, export_onnx(model, norm, compact), pixels)
    proto = onnx.ModelProto.FromString(export_onnx(model, norm))
    assert [n.op_type for n in proto.graph.node] == [
        "Sub", "Div", "Conv", "BatchNormalization", "Relu", "Conv", "Conv", "MaxPool",
        "AveragePool", "ReduceMean", "Dropout", "Gemm"]
    assert (proto.opset_import[0].version, proto.ir_version) == (OPSET, 8)
    back, back_norm = import_graph(parse_onnx(proto.SerializeToString()), "x", Normalization(
        0.0, 1.0), "x")
    assert _same_model(back, model) and back_norm == norm


def test_a_layer_without_an_onnx_form_is_refused() -> None:
    class Square(Layer):
        def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
            return x * x

    model = Sequential([Flatten(), Square(name="sq")], (1, 2, 2))
    with pytest.raises(InteropError, match=r"layer 'sq' \(Square\) has no ONNX form"):
        export_onnx(model, Normalization(0.0, 1.0))


def _codebook_tensor(rng: np.random.Generator, shape: tuple[int, ...], values: int,
                     kept: float) -> np.ndarray:
    codebook = rng.standard_normal(values).astype(np.float32)
    w = codebook[rng.integers(0, values, shape)]
    return np.where(rng.random(shape) < kept, w, np.float32(0))


@pytest.mark.parametrize(("kept", "values", "form"), [
    (1.0, 300, "raw"),  # too many distinct values for a uint8 index
    (0.9, 16, "indexed"),
    (0.05, 16, "sparse"),
    (0.0, 1, "sparse"),  # all zero: no entry at all
    (1.0, 256, "indexed"),  # the largest codebook a byte addresses
])
def test_each_compact_form_decodes_to_the_same_tensor(kept: float, values: int,
                                                      form: str) -> None:
    rng = np.random.default_rng(3)
    w = _codebook_tensor(rng, (40, 30), values, kept) if values < 300 else (
        rng.standard_normal((40, 30)).astype(np.float32))
    w[0, 0], w[-1, -1] = (w[0, 0], w[-1, -1]) if kept else (0, 0)
    encoded = onnx_compact.encode("t", w)
    n, c = w.size, np.unique(w).size
    assert encoded.form == form
    assert onnx_compact.sizes(w)["raw"] == 4 * n
    if form == "indexed":
        assert encoded.bytes == 4 * c + n
    model = Sequential([Flatten(), Dense(n, 1, rng=rng)], (1, 40, 30))
    model.layers[1].params["W"] = w.reshape(n, 1)
    blob = export_onnx(model, Normalization(0.0, 1.0), compact=True)
    x = rng.random((3, 1, 40, 30), dtype=np.float32)
    np.testing.assert_array_equal(run_onnx(blob, x), run_onnx(export_onnx(
        model, Normalization(0.0, 1.0)), x))


def test_sparse_positions_far_apart_need_filler_entries() -> None:
    w = np.zeros(3000, np.float32)
    w[[5, 1000, 2999]] = [1.5, -2.0, 1.5]  # gaps over 256: filler zeros in between
    sizes = onnx_compact.sizes(w)
    entries = 3 + (1000 - 5 - 1) // 256 + (2999 - 1000 - 1) // 256
    assert sizes["sparse"] == 4 * 3 + 2 * entries  # codebook {-2, 0, 1.5}: zero for fillers
    encoded = onnx_compact.encode("w", w)
    assert encoded.form == "sparse"
    model = Sequential([Flatten(), Dense(3000, 1)], (1, 60, 50))
    model.layers[1].params["W"] = w.reshape(-1, 1)
    x = np.random.default_rng(0).random((2, 1, 60, 50), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(export_onnx(model, Normalization(0.0, 1.0), True), x),
                               model.forward(x), rtol=1e-6)
