"""Helpers shared by the test modules, as fixtures (small, seeded, fast).

- ``rand(*shape, seed=0)``: float64 standard-normal arrays for gradient checks;
- ``write_idx(path, array, compress=True)`` and ``make_dataset(folder, ...)``: IDX files in
  MNIST's layout, for commands that take ``--data DIR``;
- ``tiny_net(dtype=np.float32, prune=True)`` and ``tiny_batch(n=32, seed=2)``: a 6x6-input
  conv + two fully-connected layers network (fc1 60% zeros when ``prune``) and data for it;
- ``as64(layer)`` and ``check_gradients(net, x, train=True, reset=None)``: a layer cast to
  float64, and every backward pass of a layer or model against central differences;
- ``mobilenet_paper_counts(alpha=1.0, resolution=224, full_conv=False, classes=1000)``:
  MobileNetV1's MultAdds and conv + FC weights from the paper's formulas alone;
- ``same_bits(a, b)``, ``pruned_quantised(name, sparsity, bits)`` and ``small_tcz`` (bytes):
  models compared bit for bit, a zoo model pruned and quantised, a small ``.tcz`` file;
- ``bad_huffman_streams``: ``(data, nbits, n, code, match)`` that every Huffman decoder must
  refuse with a :class:`FormatError` matching ``match``;
- ``tiny_mlp(seed=0)`` and ``blobs(n=120, seed=0)``: a 4x4-input Flatten -> fc 16x12 -> ReLU ->
  fc 12x3 network, and three linearly separable classes of 4x4 images for it.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.coding import huffman, tcz
from tinycompress.models.mobilenet import V1_BODY
from tinycompress.nn.architecture import state_arrays
from tinycompress.nn.base import Layer
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.depthwise import (
    conv_multadds,
    depthwise_multadds,
    pointwise_multadds,
    scale_width,
)
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude
from tinycompress.quantization import trained


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _make_dataset(folder: Path, n_train: int = 12, n_test: int = 5,
                  size: tuple[int, int] = (6, 7), classes: int = 3,
                  compress: bool = True) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        suffix = ".gz" if compress else ""
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                   rng.integers(0, 256, (n, *size)), compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}",
                   np.arange(n) % classes, compress)
    return folder


def _tiny_net(dtype: type = np.float32, prune: bool = True) -> Sequential:
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 3, 3, name="conv1", rng=rng, dtype=dtype), ReLU(name="r1"),
                        Flatten(name="flat"), Dense(3 * 4 * 4, 5, name="fc1", rng=rng, dtype=dtype),
                        ReLU(name="r2"), Dense(5, 3, name="fc2", rng=rng, dtype=dtype)],
                       (1, 6, 6), "tiny")
    if prune:  # a pruned fc1: 60% of its weights exactly zero
        W = model.layer("fc1").params["W"]
        W *= np.random.default_rng(1).random(W.shape) < 0.4
    return model


def _tiny_batch(n: int = 32, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=n)


@pytest.fixture
def rand() -> Callable[..., np.ndarray]:
    return _rand


@pytest.fixture
def write_idx() -> Callable[..., None]:
    return _write_idx


@pytest.fixture
def make_dataset() -> Callable[..., Path]:
    return _make_dataset


@pytest.fixture
def tiny_net() -> Callable[..., Sequential]:
    return _tiny_net


@pytest.fixture
def tiny_batch() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return _tiny_batch


def _as64(layer: Layer) -> Layer:
    for store in (layer.params, layer.buffers):
        for key in store:
            store[key] = store[key].astype(np.float64)
    return layer


def _check_gradients(net: Layer | Sequential, x: np.ndarray, train: bool = True,
                     reset: Callable[[], object] | None = None, tol: float = 1e-6) -> None:
    """A layer's input gradient and every parameter gradient of ``net`` (a layer or a model)
    against central differences of ``sum(net(x) * r)``, r fixed and random. ``reset`` runs
    before every forward pass (to replay a dropout layer's random draws, say)."""

    def forward() -> np.ndarray:
        if reset is not None:
            reset()
        return net.forward(x, train=train)

    r = np.random.default_rng(1).standard_normal(forward().shape)

    def f() -> float:
        return float((forward() * r).sum())

    forward()
    dx = net.backward(r)
    layers = net.layers if isinstance(net, Sequential) else [net]
    analytic = [{k: g.copy() for k, g in layer.grads.items()} for layer in layers]
    if isinstance(net, Layer):  # a model's backward returns nothing
        assert rel_error(dx, numerical_gradient(f, x)) < tol
    for layer, grads in zip(layers, analytic, strict=True):
        for key, value in layer.params.items():
            assert rel_error(grads[key], numerical_gradient(f, value)) < tol, (layer.name, key)


def _mobilenet_paper_counts(alpha: float = 1.0, resolution: int = 224, full_conv: bool = False,
                            classes: int = 1000) -> tuple[int, int]:
    """MultAdds and conv + FC weights of Table 1 from the formulas alone (no layers)."""
    side = math.ceil(resolution / 2)  # stem: 3x3, stride 2, padding 1
    m = scale_width(32, alpha)
    multadds, weights = conv_multadds(3, 3, m, side), 27 * m
    for channels, stride in V1_BODY:
        n = scale_width(channels, alpha)
        side = math.ceil(side / stride)
        if full_conv:
            multadds += conv_multadds(3, m, n, side)
            weights += 9 * m * n
        else:
            multadds += depthwise_multadds(3, m, side) + pointwise_multadds(m, n, side)
            weights += 9 * m + m * n
        m = n
    return multadds + m * classes, weights + m * classes


@pytest.fixture
def as64() -> Callable[[Layer], Layer]:
    return _as64


@pytest.fixture
def check_gradients() -> Callable[..., None]:
    return _check_gradients


@pytest.fixture(scope="session")  # a pure function: hypothesis tests may share it
def mobilenet_paper_counts() -> Callable[..., tuple[int, int]]:
    return _mobilenet_paper_counts


def _same_bits(a: Sequential, b: Sequential) -> bool:
    """Every parameter and buffer of ``a`` and ``b`` has the same name, dtype, shape and bytes."""
    sa, sb = state_arrays(a), state_arrays(b)
    return sa.keys() == sb.keys() and all(
        sa[k].dtype == sb[k].dtype and sa[k].shape == sb[k].shape
        and np.array_equal(sa[k].view(np.uint8), sb[k].view(np.uint8)) for k in sa)


def _pruned_quantised(name: str, sparsity: float, bits: int) -> Sequential:
    model = zoo.build(name, seed=1)
    magnitude.prune(model, sparsity=sparsity)
    trained.quantize_model(model, bits, rng=0)
    return model


@pytest.fixture(scope="session")  # a pure function: usable in Hypothesis tests
def same_bits() -> Callable[[Sequential, Sequential], bool]:
    return _same_bits


@pytest.fixture
def pruned_quantised() -> Callable[[str, float, int], Sequential]:
    return _pruned_quantised


@pytest.fixture(scope="session")
def small_tcz() -> bytes:
    """A small pruned + quantised MLP's file (gap width 3, so fillers occur)."""
    rng = np.random.default_rng(0)
    model = Sequential([Dense(64, 32, rng=rng), ReLU(), Dense(32, 10, rng=rng)], (64,), "mlp")
    for layer in (model.layers[0], model.layers[2]):
        w = layer.params["W"]
        w[np.abs(w) < np.quantile(np.abs(w), 0.85)] = 0
        levels = np.linspace(w.min(), w.max(), 8).astype(np.float32)
        q = levels[np.abs(w[..., None] - levels).argmin(-1)]
        layer.params["W"] = np.where(w == 0, 0, q).astype(np.float32)
    return tcz.to_bytes(model, index_bits=3, meta={"note": "test"})


@pytest.fixture
def bad_huffman_streams() -> list[tuple[bytes, int, int, huffman.HuffmanCode, str]]:
    x = np.array([0, 1, 2, 2, 2, 1, 0, 2])
    code = huffman.HuffmanCode.from_counts(np.bincount(x))
    data, nbits = huffman.encode(x, code)
    partial = huffman.HuffmanCode.from_lengths(np.array([1, 2]))  # "0" and "10" only
    return [
        (data[:1], nbits, x.size, code, "ends early|announced"),  # truncated bytes
        (data, nbits - 1, x.size, code, "ends early|corrupt"),  # last word cut
        (data, nbits, x.size + 5, code, "ends early|fit"),  # more symbols than the bits hold
        (data, nbits, x.size - 2, code, "trailing"),  # bits left over
        (bytes([0b01100000]), 4, 3, partial, "no .*code word"),  # the bits 11 match no word
    ]


def _tiny_mlp(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential([Flatten(), Dense(16, 12, rng=rng), ReLU(), Dense(12, 3, rng=rng)],
                      (1, 4, 4), "tiny")


def _blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 1, 4, 4)) * 2
    X = (centres[y] + 0.5 * rng.standard_normal((n, 1, 4, 4))).astype(np.float32)
    return X, y


@pytest.fixture
def tiny_mlp() -> Callable[..., Sequential]:
    return _tiny_mlp


@pytest.fixture
def blobs() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return _blobs
