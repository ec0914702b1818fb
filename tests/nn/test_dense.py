"""The fully-connected layer and Flatten: forward by hand, gradients by finite differences."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.dense import Dense, Flatten


def test_dense_forward_by_hand():
    layer = Dense(3, 2, dtype=np.float64)
    layer.params["W"] = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    layer.params["b"] = np.array([0.5, -1.0])
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 0.0, -1.0]])), [[-3.5, -5.0]])


@pytest.mark.parametrize("n", [1, 4])
def test_dense_gradients(n, rand, as64, check_gradients):
    check_gradients(as64(Dense(7, 5, rng=np.random.default_rng(0))), rand(n, 7))


def test_dense_counts_in_times_out_multadds():
    layer = Dense(300, 100)
    assert layer.output_shape((300,)) == (100,) and layer.multadds((300,)) == 300 * 100
    assert layer.num_params() == 300 * 100 + 100


def test_dense_wrong_inputs_raise_shape_error():
    with pytest.raises(ShapeError):
        Dense(4, 2).forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ShapeError, match=r"expects \(4,\)"):
        Dense(4, 2).output_shape((5,))


def test_flatten_gradient_and_shape(rand, check_gradients):
    check_gradients(Flatten(), rand(2, 3, 2, 2))
    assert Flatten().output_shape((3, 2, 2)) == (12,)
    assert Flatten().forward(rand(2, 3, 2, 2)).shape == (2, 12)
