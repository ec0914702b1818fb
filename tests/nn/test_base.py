"""The layer base: PyTorch's uniform initialisation, shape-only placeholders, input checks."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.base import SHAPE_ONLY, Layer, check_input, uniform_init
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
