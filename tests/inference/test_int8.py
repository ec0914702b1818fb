"""Integer-only inference: the fast path equals the int64 reference bit for bit, and both stay
close to the float model; the shipped LeNets keep their accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import tcz
from tinycompress.errors import UsageError
from tinycompress.inference.calibration import QParams, calibration_images
from tinycompress.inference.int8 import IntPool, compile_int8, int_linear
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.data import data_dir, load_arrays, normalization_of
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import Dropout, ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D

NETS = ("lenet-300-100", "lenet5")


def _calibrated(model: Sequential, seed: int = 0, n: int = 200):
    """The model compiled on n standard-normal images; those images and the generator."""
    rng = np.random.default_rng(seed)
    calibration = rng.standard_normal((n, *model.input_shape)).astype(np.float32)
    return compile_int8(model, calibration), calibration, rng


@pytest.mark.task_requantize
def test_fast_path_equals_the_int64_reference_and_tracks_the_float_model(tiny_net) -> None:
    model = tiny_net()
    int_model, calibration, rng = _calibrated(model)
    x = (2 * rng.standard_normal((64, 1, 6, 6))).astype(np.float32)  # some beyond calibration
    fast, exact = int_model.forward(x), int_model.forward(x, exact=True)
    assert fast.dtype == np.uint8 and fast.shape == (64, 3)
    assert np.array_equal(fast, exact)
    x = calibration[:64]  # every activation within its calibrated range: a few steps off
    float_logits = model.forward(x)
    assert np.abs(int_model.logits(x) - float_logits).max() < 3 * int_model.q_out.scale
    assert (int_model.forward(x).argmax(1) == float_logits.argmax(1)).mean() >= 0.9
    assert [op.name for op in int_model.ops] == ["conv1", "flat", "fc1", "fc2"]  # ReLUs fused
    assert int_model.ops[0].relu and int_model.ops[0].q_out.zero_point == 0


@pytest.mark.task_requantize
def test_narrower_layers_stay_in_their_levels_and_fast_still_equals_exact(tiny_net) -> None:
    model = tiny_net()
    rng = np.random.default_rng(7)
    calibration = rng.standard_normal((200, *model.input_shape)).astype(np.float32)
    x = calibration[:64]
    default = compile_int8(model, calibration)
    eight = compile_int8(model, calibration, weight_bits={"fc1": 8},
                         activation_bits={"conv1": 8})
    assert np.array_equal(default.forward(x), eight.forward(x))
    narrow = compile_int8(model, calibration, weight_bits={"conv1": 3, "fc1": 4},
                          activation_bits={"conv1": 4, "fc2": 6})
    conv1, fc1, fc2 = narrow.linear_ops()
    assert np.abs(conv1.weights).max() == 3 and np.abs(fc1.weights).max() == 7
    assert np.abs(fc2.weights).max() == 127  # not named: 8 bits
    assert conv1.q_out.qmax == 15 and fc1.q_in.qmax == 15 and fc2.q_out.qmax == 63
    assert narrow.forward(x).max() <= 63
    assert np.array_equal(narrow.forward(x), narrow.forward(x, exact=True))
    logits = model.forward(x)
    def off(m):
        return np.abs(m.logits(x) - logits).mean()
    assert off(narrow) > 2 * off(default)  # fewer levels, larger rounding errors
    with pytest.raises(UsageError, match="not weight layers"):
        compile_int8(model, calibration, weight_bits={"r1": 4})
    with pytest.raises(UsageError, match="1 to 8 bits"):
        compile_int8(model, calibration, activation_bits={"fc2": 9})


def test_rows_report_the_bound_the_carrier_and_the_multipliers(tiny_net) -> None:
    int_model, _, _ = _calibrated(tiny_net())
    rows = int_model.rows()
    assert [r["name"] for r in rows] == ["conv1", "fc1", "fc2"]
    for row, op in zip(rows, int_model.linear_ops(), strict=True):
        assert row["carrier"] == "float32" and 0 < row["bound"] <= 2**24
        assert row["bound"] == op.bound.max() and 0 < row["int32_use"] < 1
        assert 0 < row["M_min"] <= row["M_max"] and row["n_min"] <= row["n_max"]


@pytest.mark.task_requantize
def test_every_supported_layer_runs_in_integers_and_matches_the_float_model() -> None:
    rng = np.random.default_rng(3)
    layers = [Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm2D(4), MaxPool2D(2),
              Conv2D(4, 4, 3, padding=1, rng=rng), AvgPool2D(2), ReLU(name="relu_alone"),
              Flatten(), Dropout(0.5), Dense(16, 6, rng=rng), ReLU(), Dense(6, 3, rng=rng)]
    bn = layers[1]
    bn.params["gamma"][:] = rng.uniform(0.5, 2, 4)
    bn.buffers["running_mean"][:] = rng.standard_normal(4) * 0.1
    model = Sequential(layers, (1, 8, 8))
    int_model, _, rng = _calibrated(model, seed=4, n=300)
    kinds = [type(op).__name__ for op in int_model.ops]
    assert kinds == ["IntLinear", "IntPool", "IntLinear", "IntPool", "IntReLU", "IntFlatten",
                     "IntLinear", "IntLinear"]
    x = rng.standard_normal((50, 1, 8, 8)).astype(np.float32)
    assert np.array_equal(int_model.forward(x), int_model.forward(x, exact=True))
    logits = model.forward(x)
    spread = logits.max() - logits.min()
    assert np.abs(int_model.logits(x) - logits).max() < 0.1 * spread


def test_integer_pooling_is_the_pooling_of_the_reals() -> None:
    rng = np.random.default_rng(5)
    q = rng.integers(0, 256, size=(3, 2, 6, 6)).astype(np.uint8)
    params = QParams(0.05, 17)
    real = params.dequantize(q).astype(np.float64)
    top = IntPool("p", 2, 2).forward(q)
    assert top.dtype == np.uint8
    np.testing.assert_allclose(params.dequantize(top), MaxPool2D(2).forward(real), rtol=1e-6)
    mean = IntPool("p", 3, 3, average=True).forward(q)
    want = AvgPool2D(3).forward(real)  # within half a step: the mean is rounded to a level
    assert np.abs(params.dequantize(mean) - want).max() <= params.scale / 2 + 1e-6


def test_what_int8_inference_refuses() -> None:
    rng = np.random.default_rng(6)
    model = Sequential([Conv2D(1, 2, 3, rng=rng), GlobalAvgPool2D(), Dense(2, 2, rng=rng)],
                       (1, 5, 5))
    with pytest.raises(UsageError, match="GlobalAvgPool2D"):
        _calibrated(model)
    wide = Dense(70_000, 1, rng=rng)  # 70,000 inputs x 127 x 255 > 2^31
    wide.params["W"][:] = 1.0
    with pytest.raises(UsageError, match="beyond int32"):
        int_linear(wide, QParams(1 / 255, 0), QParams(1.0, 0), relu=False)
    int_model, _, _ = _calibrated(Sequential([Dense(3, 2, rng=rng)], (3,)))
    with pytest.raises(UsageError, match="expects inputs of shape"):
        int_model.forward(np.zeros((2, 4), np.float32))


@pytest.mark.task_requantize
@pytest.mark.parametrize("name", NETS)
def test_shipped_lenets_fast_equals_reference_on_a_sample(name: str, shipped) -> None:
    net = shipped(name)
    int_model = compile_int8(net["model"], net["calibration"])
    X = net["X"][:100]
    fast = int_model.forward(X)
    assert np.array_equal(fast, int_model.forward(X, exact=True))
    assert (fast.argmax(1) != net["model"].forward(X).argmax(1)).sum() <= 2
    assert {row["carrier"] for row in int_model.rows()} == {"float32"}


@pytest.mark.task_requantize
@pytest.mark.slow
@pytest.mark.parametrize("name", NETS)
def test_shipped_lenets_every_test_image_exact_and_within_005_points(name: str) -> None:
    model, meta = tcz.load(data_dir() / "compressed" / f"{name}.tcz")
    norm = normalization_of(meta)
    int_model = compile_int8(model, calibration_images(None, norm))  # 5,000 training images
    X, y = load_arrays("test", None, norm)
    fast = np.concatenate([int_model.forward(X[i : i + 500]) for i in range(0, len(X), 500)])
    exact = np.concatenate([int_model.forward(X[i : i + 500], exact=True)
                            for i in range(0, len(X), 500)])
    assert len(X) == 10_000 and np.array_equal(fast, exact)
    float_error = np.mean(model.predict(X) != y)
    assert abs(np.mean(fast.argmax(1) != y) - float_error) <= 0.0005
