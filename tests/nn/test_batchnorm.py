"""Batch normalisation: gradients with batch and running statistics, the statistics themselves."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.batchnorm import BatchNorm2D, batchnorm_backward, batchnorm_forward
from tinycompress.nn.gradcheck import numerical_gradient, rel_error


def _statistics(C):
    rng = np.random.default_rng(5)
    return (rng.uniform(0.5, 1.5, C), rng.standard_normal(C), rng.standard_normal(C),
            rng.uniform(0.5, 2.0, C))


@pytest.mark.task_batchnorm_backward
@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (1, 2, 3, 4)])
def test_batchnorm_gradients(shape, rand, as64, check_gradients):
    layer = as64(BatchNorm2D(shape[1]))
    for store, key, value in zip([layer.params] * 2 + [layer.buffers] * 2,
                                 ("gamma", "beta", "running_mean", "running_var"),
                                 _statistics(shape[1]), strict=True):
        store[key] = value
    layer.momentum = 0.0  # running statistics change on every training forward: freeze them
    check_gradients(layer, rand(*shape) * 2 + 1, train=True)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (1, 2, 3, 4)])
def test_batchnorm_gradients_with_fixed_statistics(shape, rand):
    """The running-statistics branch of the pure functions (BatchNorm frozen): the layer itself
    backpropagates only after a training forward pass, which uses the batch's statistics."""
    gamma, beta, mean, var = _statistics(shape[1])
    x = rand(*shape) * 2 + 1
    r = np.random.default_rng(1).standard_normal(shape)
    _, cache = batchnorm_forward(x, gamma, beta, mean, var, 1e-5)
    dx, dgamma, dbeta = batchnorm_backward(r, cache, batch_stats=False)

    def f():
        return float((batchnorm_forward(x, gamma, beta, mean, var, 1e-5)[0] * r).sum())

    for analytic, value in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert rel_error(analytic, numerical_gradient(f, value)) < 1e-6


def test_batchnorm_train_normalises_and_tracks_running_stats(rand):
    layer = BatchNorm2D(3, momentum=1.0)
    x = rand(8, 3, 4, 4).astype(np.float32) * 3 + 2
    out = layer.forward(x, train=True)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-3)
    np.testing.assert_allclose(layer.buffers["running_mean"], x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(layer.buffers["running_var"], x.var(axis=(0, 2, 3), ddof=1),
                               rtol=1e-4)
    # evaluation normalises with the running (unbiased) variance, not the batch's
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + layer.eps)
    np.testing.assert_allclose(layer.forward(x), expected, atol=1e-4)


def test_batchnorm_wrong_channels_raise_shape_error():
    with pytest.raises(ShapeError, match="3 channels"):
        BatchNorm2D(3).forward(np.zeros((2, 4, 5, 5), np.float32))


@pytest.mark.task_batchnorm_backward
def test_batchnorm_keeps_float32(rand):
    layer = BatchNorm2D(1)
    out = layer.forward(rand(2, 1, 8, 8).astype(np.float32), train=True)
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
