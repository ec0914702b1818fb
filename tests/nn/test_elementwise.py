"""ReLU and inverted dropout: gradients by finite differences, determinism, dtypes."""

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.nn.elementwise import Dropout, ReLU


def test_relu_forward_and_gradient(rand, check_gradients):
    np.testing.assert_array_equal(ReLU().forward(np.array([[-2.0, 0.0, 3.0]])), [[0.0, 0.0, 3.0]])
    check_gradients(ReLU(), rand(3, 4, 5) + 0.05)  # no entry within h of the kink at 0


def test_dropout_gradient_and_determinism(rand, check_gradients):
    layer = Dropout(0.3, seed=7)
    check_gradients(layer, rand(4, 6),
                    reset=lambda: setattr(layer, "rng", np.random.default_rng(7)))
    a = Dropout(0.5, seed=3).forward(np.ones((5, 5)), train=True)
    b = Dropout(0.5, seed=3).forward(np.ones((5, 5)), train=True)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    np.testing.assert_array_equal(Dropout(0.5).forward(np.ones((2, 2))), np.ones((2, 2)))


def test_dropout_probability_must_be_below_one():
    with pytest.raises(UsageError, match=r"\[0, 1\)"):
        Dropout(1.0)


@pytest.mark.parametrize("cls", [ReLU, Dropout])
def test_elementwise_layers_keep_float32(cls, rand):
    layer = cls()
    out = layer.forward(rand(2, 1, 8, 8).astype(np.float32), train=True)
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
