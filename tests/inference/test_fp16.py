"""Half-precision inference: float32 accumulation, the BLAS path beside NumPy's float16 loop."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.inference.fp16 import (
    Float16Model,
    float16_dot_accumulates_in_float32,
    to_float16,
)
from tinycompress.nn.data import load_arrays


def test_numpys_float16_products_accumulate_in_float32() -> None:
    assert float16_dot_accumulates_in_float32(3000)
    ones = np.ones(3000, np.float16)
    running = np.float16(0)
    for value in ones:  # what a float16 accumulator would do
        running = np.float16(running + value)
    assert running == 2048


def test_blas_path_equals_numpys_float16_loop_to_a_rounding(tiny_net, tiny_batch) -> None:
    model = tiny_net()
    half = Float16Model(model)
    assert all(p.dtype == np.float16 for _, _, p in half.model.parameters())
    assert model.layer("fc1").params["W"].dtype == np.float32  # the original is untouched
    x, _ = tiny_batch(64)
    fast, native = half.forward(x), half.forward(x, native=True)
    assert fast.dtype == native.dtype == np.float16
    ulp = np.spacing(np.abs(native).astype(np.float16)).astype(np.float32)
    assert np.all(np.abs(fast.astype(np.float32) - native) <= 2 * ulp)
    np.testing.assert_allclose(fast, model.forward(x), rtol=1e-2, atol=1e-2)
    assert np.array_equal(to_float16(model).forward(x.astype(np.float16)), native)


def test_fp16_keeps_the_predictions_of_the_shipped_lenets_on_a_sample(shipped) -> None:
    for name in ("lenet-300-100", "lenet5"):
        net = shipped(name)
        got = Float16Model(net["model"]).forward(net["X"]).argmax(1)
        assert (got != net["model"].forward(net["X"]).argmax(1)).sum() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet-300-100", "lenet5"])
def test_fp16_error_within_002_points_of_fp32_on_every_test_image(name: str, shipped) -> None:
    net = shipped(name)
    X, y = load_arrays("test", None, net["norm"])
    half = Float16Model(net["model"])
    fp16 = np.concatenate([half.forward(X[i : i + 1000]).argmax(1) for i in range(0, 10_000, 1000)])
    assert abs(np.mean(fp16 != y) - np.mean(net["model"].predict(X) != y)) <= 0.0002
