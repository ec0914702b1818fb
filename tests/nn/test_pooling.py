"""Pooling: gradients by finite differences, max-pooling ties, shapes, dtypes."""

import numpy as np
import pytest

from tinycompress.nn.pooling import (
    AvgPool2D,
    GlobalAvgPool2D,
    MaxPool2D,
    maxpool_backward,
    maxpool_forward,
)

AVGPOOL = pytest.param(AvgPool2D, marks=pytest.mark.task_avgpool_backward)


@pytest.mark.parametrize("cls", [MaxPool2D, AVGPOOL])
@pytest.mark.parametrize("shape,k,s", [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2),
                                        ((2, 1, 5, 6), 2, 1)])
def test_pool_gradients(cls, shape, k, s, rand, check_gradients):
    check_gradients(cls(k, s), rand(*shape))


def test_maxpool_tied_maxima_route_to_exactly_one_element():
    """A constant window (MNIST's background) sends its whole gradient to its first element."""
    x = np.zeros((2, 3, 4, 6))
    x[0, 0, :2, :2] = 5.0  # one window with all four entries tied at 5
    out, cache = maxpool_forward(x, 2, 2)
    dout = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    dx = maxpool_backward(dout, cache)
    windows = dx.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    assert (np.count_nonzero(windows, axis=-1) == 1).all()
    np.testing.assert_array_equal(windows[..., 0], dout)  # the first (top-left) element wins
    assert dx.sum() == dout.sum()


def test_maxpool_overlapping_tied_windows_sum_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    out, cache = maxpool_forward(x, 2, 1)
    dx = maxpool_backward(np.ones_like(out), cache)
    # windows start at (0,0),(0,1),(1,0),(1,1); each routes to its own top-left pixel
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_global_avgpool_gradient_and_shape(rand, check_gradients):
    check_gradients(GlobalAvgPool2D(), rand(2, 3, 4, 5))
    assert GlobalAvgPool2D().output_shape((3, 4, 5)) == (3,)


def test_pool_shapes_default_stride_and_no_multadds():
    pool = MaxPool2D(2)
    assert pool.stride == 2 and pool.output_shape((20, 24, 24)) == (20, 12, 12)
    assert AvgPool2D(3, 1).output_shape((2, 5, 6)) == (2, 3, 4)
    assert pool.multadds((20, 24, 24)) == 0


@pytest.mark.parametrize("cls", [MaxPool2D, AVGPOOL, GlobalAvgPool2D])
def test_pooling_keeps_float32(cls, rand):
    layer = cls() if cls is GlobalAvgPool2D else cls(2)
    out = layer.forward(rand(2, 1, 8, 8).astype(np.float32), train=True)
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
