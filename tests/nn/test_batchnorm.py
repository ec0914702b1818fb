"""Batch normalisation: gradients with batch and running statistics, the statistics themselves,
the fast passes against the textbook formulas, and the memory order they keep."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.batchnorm import (
    BatchNorm2D,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_train_forward,
)
from tinycompress.nn.gradcheck import numerical_gradient, rel_error


def _batch_last(a):
    """An (N, C, H, W) view of batch-last (C, H, W, N) memory, as the convolutions return."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def _is_batch_last(a):
    return a.transpose(1, 2, 3, 0).flags.c_contiguous


def _textbook(x, gamma, beta, dout, eps=1e-5):
    """The formulas as printed, in float64 with temporaries: y and dx, dgamma, dbeta."""
    x, dout = x.astype(np.float64), dout.astype(np.float64)
    gamma, beta = gamma.astype(np.float64), beta.astype(np.float64)
    axes, c = (0, 2, 3), (slice(None), None, None)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    xhat = (x - mean[c]) / np.sqrt(var[c] + eps)
    m = x.size // x.shape[1]
    dxhat = dout * gamma[c]
    dx = (m * dxhat - dxhat.sum(axis=axes)[c] - xhat * (dxhat * xhat).sum(axis=axes)[c]) / (
        m * np.sqrt(var[c] + eps))
    return gamma[c] * xhat + beta[c], dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


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


@pytest.mark.task_batchnorm_backward
@pytest.mark.parametrize("layout", ["nchw", "batch-last"])
def test_float32_passes_match_the_textbook_formulas(layout):
    """float32 in, float32 out, and within float32 rounding of the float64 formulas; the
    statistics of a channel whose mean is large against its spread too (no cancellation)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((16, 5, 7, 7)) * [[[0.5]], [[2]], [[1]], [[0.01]], [[3]]]
         + [[[0]], [[-4]], [[100]], [[1]], [[0.5]]]).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    if layout == "batch-last":
        x, dout = _batch_last(x), _batch_last(dout)
    gamma = rng.uniform(0.5, 1.5, 5).astype(np.float32)
    beta = rng.standard_normal(5).astype(np.float32)
    out, cache, mean, var = batchnorm_train_forward(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache, batch_stats=True)
    y_ref, dx_ref, dgamma_ref, dbeta_ref = _textbook(x, gamma, beta, dout)
    assert out.dtype == dx.dtype == dgamma.dtype == np.float32
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=(0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(out, y_ref, rtol=0, atol=1e-4)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-4 * np.abs(dx_ref).max())
    np.testing.assert_allclose(dgamma, dgamma_ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dbeta, dbeta_ref, rtol=1e-4, atol=1e-3)


@pytest.mark.task_batchnorm_backward
def test_memory_order_is_kept_and_dout_is_left_alone(rand, as64, check_gradients):
    """A batch-last input gives batch-last output, cache and input gradient, whatever the
    order of the upstream gradient, with the same values; the gradient passed in is not
    written to. The finite differences hold on such an input too."""
    layer = BatchNorm2D(3)
    x = _batch_last(rand(4, 3, 5, 6).astype(np.float32) * 2 + 1)
    out = layer.forward(x, train=True)
    assert _is_batch_last(out) and _is_batch_last(layer._cache[0])
    g = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)  # NCHW order
    kept = g.copy()
    dx = layer.backward(g)
    np.testing.assert_array_equal(g, kept)
    assert _is_batch_last(dx)
    same = BatchNorm2D(3)
    same.forward(x, train=True)
    np.testing.assert_allclose(same.backward(_batch_last(g)), dx, rtol=0, atol=1e-6)
    layer64 = as64(BatchNorm2D(3))
    layer64.momentum = 0.0
    check_gradients(layer64, _batch_last(rand(4, 3, 5, 5) * 2 + 1), train=True)


def test_evaluation_uses_running_statistics_in_the_input_order(rand):
    layer = BatchNorm2D(2)
    layer.buffers["running_mean"][...] = [1.0, -2.0]
    layer.buffers["running_var"][...] = [4.0, 0.25]
    layer.params["gamma"][...] = [2.0, 1.0]
    x = _batch_last(rand(3, 2, 4, 4).astype(np.float32))
    out = layer.forward(x)
    c = (slice(None), None, None)
    gamma, mean, var = np.array([2.0, 1.0]), np.array([1.0, -2.0]), np.array([4.0, 0.25])
    expected = gamma[c] * (x - mean[c]) / np.sqrt(var[c] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32 and _is_batch_last(out) and layer._cache is None
