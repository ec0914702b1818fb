"""The layer base: PyTorch's uniform initialisation, shape-only placeholders, input checks."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.base import (
    SHAPE_ONLY,
    Layer,
    check_input,
    check_shape,
    constant_init,
    count_nonzero,
    is_placeholder,
    uniform_init,
)
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.dense import Dense


def test_uniform_init_draws_within_one_over_sqrt_fan_in():
    w = uniform_init(np.random.default_rng(0), 25, (200, 50), np.float32)
    assert w.shape == (200, 50) and w.dtype == np.float32
    assert np.abs(w).max() <= 0.2 and np.abs(w).max() > 0.19  # bound 1/sqrt(25), nearly reached
    assert abs(float(w.mean())) < 0.005  # centred: U(-b, b) has mean 0


def test_shape_only_placeholders_are_read_only_ones_without_memory():
    w = uniform_init(SHAPE_ONLY, 25, (512, 1024), np.float32)
    assert w.shape == (512, 1024) and not any(w.strides) and not w.flags.writeable
    assert (w == 1).all()  # counts as nonzero, like a dense model's weights
    layer = Dense(512, 1024, rng=SHAPE_ONLY)
    assert layer.num_params() == layer.num_nonzero_params() == 512 * 1024 + 1024
    with pytest.raises(ValueError, match="read-only"):
        layer.params["W"] -= 1.0  # such a layer cannot be trained


def test_check_input_names_the_layer_and_the_expectation():
    layer = Layer(name="conv7")
    check_input(layer, np.zeros((2, 3, 4, 4)), 4, 3)
    with pytest.raises(ShapeError, match=r"conv7: expected 4-D input with 3 channels.*\(2, 2,"):
        check_input(layer, np.zeros((2, 2, 4, 4)), 4, 3)
    with pytest.raises(ShapeError, match="expected 2-D input"):
        check_input(layer, np.zeros((2, 3, 4)), 2)


def test_backward_before_a_training_forward_is_refused():
    layer = Dense(3, 2, name="fc")
    with pytest.raises(RuntimeError, match="fc: backward\\(\\) called before forward"):
        layer.backward(np.ones((1, 2)))
    assert repr(layer) == "Dense(in_features=3, out_features=2)"


def test_constant_placeholders_hold_their_value_and_count_without_a_pass():
    zeros = constant_init(SHAPE_ONLY, 0.0, (1 << 40,), np.float32)  # 4 TB, never allocated
    ones = constant_init(SHAPE_ONLY, 1.0, (1 << 20, 1 << 20), np.float32)
    assert is_placeholder(zeros) and count_nonzero(zeros) == 0
    assert count_nonzero(ones) == 1 << 40  # counted from its one value, not element by element
    real = constant_init(None, 1.0, (3,), np.float32)
    assert not is_placeholder(real) and real.flags.writeable and count_nonzero(real) == 3
    bn = BatchNorm2D(4, rng=SHAPE_ONLY)
    assert all(is_placeholder(a) for a in (*bn.params.values(), *bn.buffers.values()))
    assert bn.num_nonzero_params() == 4  # gamma is ones, beta zeros: as a fresh layer's


def test_a_placeholder_too_large_to_address_is_a_shape_error():
    with pytest.raises(ShapeError, match="too large to address"):
        uniform_init(SHAPE_ONLY, 1, (1 << 24,) * 4, np.float32)


def test_check_shape_names_the_layer_and_the_expectation():
    layer = Layer(name="pool3")
    assert check_shape(layer, [3, 4, 4], 3, 3) == (3, 4, 4)
    with pytest.raises(ShapeError, match=r"pool3: expected 3-D input per example, got shape \(12"):
        check_shape(layer, (12,), 3)
