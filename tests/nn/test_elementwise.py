"""ReLU and inverted dropout: gradients by finite differences, determinism, dtypes."""

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.nn.elementwise import Dropout, ReLU, in_layout_of, relu_backward, relu_forward


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


def test_relu_backward_writes_in_the_input_order_and_leaves_dout_alone():
    """After a convolution the input is batch-last memory; an upstream gradient in NCHW order
    is transposed once into that order, and the array passed in is never written to."""
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.standard_normal((2, 3, 4, 5)).transpose(1, 2, 3, 0))
    x = x.transpose(3, 0, 1, 2).astype(np.float32)  # (N, C, H, W) view of (C, H, W, N)
    out, mask = relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    np.testing.assert_array_equal(mask, x > 0)
    for dout in (rng.standard_normal(x.shape).astype(np.float32),  # NCHW order
                 np.ones_like(x)):  # the input's order
        kept = dout.copy()
        dx = relu_backward(dout, mask)
        np.testing.assert_array_equal(dx, kept * (x > 0))
        np.testing.assert_array_equal(dout, kept)
        assert dx.dtype == np.float32 and dx.strides == tuple(4 * s for s in mask.strides)


def test_in_layout_of_copies_only_when_the_orders_differ():
    ref = np.zeros((3, 4, 5)).transpose(2, 0, 1)
    same = np.ones((3, 4, 5)).transpose(2, 0, 1)
    assert in_layout_of(same, ref) is same
    other = np.arange(60.0).reshape(5, 3, 4)
    moved = in_layout_of(other, ref)
    assert moved.strides == ref.strides
    np.testing.assert_array_equal(moved, other)
