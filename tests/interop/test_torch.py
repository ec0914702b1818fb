"""With PyTorch installed: a PyTorch LeNet-5 trained a few steps (seeded), exported by
``torch.onnx.export``, imported, evaluated to PyTorch's own predictions and compressed; state
dicts travel as safetensors in both directions."""

from __future__ import annotations

import importlib.util
import json
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from . import EXTRA_MISSING

torch = pytest.importorskip("torch", reason="PyTorch is not installed (the optional oracle)")
pytest.importorskip("onnx", reason=EXTRA_MISSING)
pytest.importorskip("onnxruntime", reason=EXTRA_MISSING)

from torch import nn  # noqa: E402

from tinycompress.coding import tcz  # noqa: E402
from tinycompress.interop import convert, safetensors  # noqa: E402
from tinycompress.interop.onnx_export import export_onnx  # noqa: E402
from tinycompress.interop.runtime import engine_logits, run_onnx  # noqa: E402
from tinycompress.nn.data import Normalization, load_split  # noqa: E402
from tinycompress.pruning import magnitude  # noqa: E402
from tinycompress.quantization import trained  # noqa: E402

MEAN, STD = 0.1307, 0.3081
N_TEST = 1000
EXPORTERS = [False, pytest.param(True, marks=[pytest.mark.slow, pytest.mark.skipif(
    importlib.util.find_spec("onnxscript") is None,
    reason="torch's default (dynamo) exporter needs onnxscript, which is not installed")])]


ZOO_NAMES = ("conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "relu", "fc2")
"""The layer names of the zoo's lenet5."""


def lenet5(names: tuple[str, ...] | None = None) -> nn.Module:
    """Caffe's LeNet-5, as the zoo's: no ReLU after the convolutions; modules named ``names``
    (default: PyTorch's 0, 1, ...)."""
    layers = [nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
              nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10)]
    if names is None:
        return nn.Sequential(*layers)
    return nn.Sequential(OrderedDict(zip(names, layers, strict=True)))


def separable() -> nn.Module:
    """Every other layer type: batch norm, depthwise and pointwise convolutions, average and
    global pooling, dropout."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(8),
                         nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
                         nn.Conv2d(8, 16, 1), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 10))


def _inputs(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images[:, None].astype(np.float32) / np.float32(255)) - MEAN) / STD


class Mnist(NamedTuple):
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray  # the first N_TEST
    test_labels: np.ndarray


@pytest.fixture(scope="module")
def mnist() -> Iterator[Mnist]:
    """The training set and the first test images, with PyTorch on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    train, test = load_split("train"), load_split("test")
    yield Mnist(train.images, train.labels, test.images[:N_TEST], test.labels[:N_TEST])
    torch.set_num_threads(threads)


def _trained(net: nn.Module, mnist: Mnist, steps: int = 20) -> nn.Module:
    """``net`` after ``steps`` seeded steps of SGD on batches of 64, in evaluation mode."""
    torch.manual_seed(0)
    images, labels = mnist.train_images, torch.from_numpy(mnist.train_labels)
    optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    for step in range(steps):
        batch = order[64 * step : 64 * (step + 1)].numpy()
        loss = nn.functional.cross_entropy(net(_inputs(images[batch])), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval()


@pytest.fixture(scope="module")
def torch_lenet5(mnist) -> nn.Module:
    torch.manual_seed(0)
    return _trained(lenet5(), mnist)


def _torch_logits(net: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(_inputs(images)).numpy()


def _export(net: nn.Module, path: Path, dynamo: bool = False) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        kwargs = ({"dynamic_shapes": ({0: torch.export.Dim("N")},), "external_data": False}
                  if dynamo else {"dynamic_axes": {"x": {0: "N"}}})
        torch.onnx.export(net, (torch.zeros(2, 1, 28, 28),), str(path), input_names=["x"],
                          dynamo=dynamo, **kwargs)
    return path


def _engine_logits(model, meta, images: np.ndarray) -> np.ndarray:
    pixels = images.astype(np.float32)[:, None] / np.float32(255)
    return engine_logits(model, Normalization.from_json(meta["normalization"]), pixels)


def _same_predictions(ours: np.ndarray, theirs: np.ndarray, labels: np.ndarray) -> None:
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    assert (ours.argmax(axis=1) == labels).mean() == (theirs.argmax(axis=1) == labels).mean()
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


@pytest.mark.parametrize("dynamo", EXPORTERS)
def test_a_pytorch_lenet5_imports_to_pytorchs_own_predictions(
        torch_lenet5, mnist, tmp_path: Path, dynamo: bool) -> None:
    path = _export(torch_lenet5, tmp_path / "lenet5.onnx", dynamo)
    model, meta = convert.import_model(path, mean=MEAN, std=STD)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense"]
    assert meta["normalization"] == {"mean": MEAN, "std": STD}
    _same_predictions(_engine_logits(model, meta, mnist.test_images),
                      _torch_logits(torch_lenet5, mnist.test_images), mnist.test_labels)


@pytest.mark.task_magnitude_prune
def test_the_imported_model_compresses_and_the_export_runs_in_onnxruntime(
        torch_lenet5, mnist, tmp_path: Path) -> None:
    model, meta = convert.import_model(_export(torch_lenet5, tmp_path / "l.onnx"), mean=MEAN,
                                       std=STD)
    magnitude.prune(model, sparsity=0.9)
    trained.quantize_model(model, "conv=5,fc=4")
    decoded, decoded_meta = tcz.from_bytes(tcz.to_bytes(model, meta=meta))
    norm = Normalization.from_json(decoded_meta["normalization"])
    compact, dense = export_onnx(decoded, norm, compact=True), export_onnx(decoded, norm)
    assert 6 * len(compact) <= len(dense)
    pixels = mnist.test_images.astype(np.float32)[:, None] / np.float32(255)
    ours = engine_logits(decoded, norm, pixels)
    np.testing.assert_array_equal(ours.argmax(axis=1), run_onnx(compact, pixels).argmax(axis=1))
    np.testing.assert_allclose(run_onnx(compact, pixels), ours, atol=1e-4, rtol=0)


def test_batchnorm_depthwise_pooling_and_dropout_from_pytorch(mnist, tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = _trained(separable(), mnist, steps=5)  # training moves the running statistics
    model, meta = convert.import_model(_export(net, tmp_path / "s.onnx"), mean=MEAN, std=STD)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPool2D", "BatchNorm2D", "ReLU", "DepthwiseConv2D", "PointwiseConv2D",
        "AvgPool2D", "GlobalAvgPool2D", "Flatten", "Dense"]  # dropout: gone in eval mode
    assert (model.layers[2].momentum, model.layers[2].eps) == (0.1, 1e-5)
    _same_predictions(_engine_logits(model, meta, mnist.test_images),
                      _torch_logits(net, mnist.test_images), mnist.test_labels)


def _arch_for(net: nn.Module) -> dict:
    """The engine's architecture of :func:`lenet5`, its layers named as PyTorch's modules."""
    layers = [("Conv2D", {"in_channels": 1, "out_channels": 20, "kernel_size": 5}),
              ("MaxPool2D", {"kernel_size": 2}),
              ("Conv2D", {"in_channels": 20, "out_channels": 50, "kernel_size": 5}),
              ("MaxPool2D", {"kernel_size": 2}), ("Flatten", {}),
              ("Dense", {"in_features": 800, "out_features": 500}), ("ReLU", {}),
              ("Dense", {"in_features": 500, "out_features": 10})]
    names = [name for name, _ in net.named_children()]
    return {"name": "torch-lenet5", "input_shape": [1, 28, 28],
            "layers": [{"type": t, "config": {**c, "name": n}}
                       for (t, c), n in zip(layers, names, strict=True)]}


def test_a_pytorch_state_dict_in_safetensors_imports_with_its_architecture(
        torch_lenet5, mnist, tmp_path: Path) -> None:
    state = {k: v.numpy() for k, v in torch_lenet5.state_dict().items()}
    path = safetensors.save(tmp_path / "lenet5.safetensors", state, {"format": "pt"})
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(_arch_for(torch_lenet5)))
    model, meta = convert.import_model(path, arch=arch, mean=MEAN, std=STD)
    _same_predictions(_engine_logits(model, meta, mnist.test_images),
                      _torch_logits(torch_lenet5, mnist.test_images), mnist.test_labels)


def test_an_exported_state_dict_loads_into_pytorch(mnist, tmp_path: Path) -> None:
    out = tmp_path / "lenet5.safetensors"
    convert.export_model("lenet5", out, "safetensors")
    tensors, _ = safetensors.load(out)
    net = lenet5(ZOO_NAMES)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()},
                        strict=True)
    model, meta = convert.import_model(out)  # its architecture and normalisation recorded
    norm = meta["normalization"]
    with torch.no_grad():
        x = (torch.from_numpy(mnist.test_images[:, None].astype(np.float32) / np.float32(255))
             - norm["mean"]) / norm["std"]
        theirs = net.eval()(x).numpy()
    _same_predictions(_engine_logits(model, meta, mnist.test_images), theirs, mnist.test_labels)
