"""Every layer's backward pass against finite differences (float64), plus forward references."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D, conv2d_forward, conv2d_forward_naive
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import Dropout, ReLU
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.pooling import (
    AvgPool2D,
    GlobalAvgPool2D,
    MaxPool2D,
    maxpool_backward,
    maxpool_forward,
)

TOL = 1e-6


def as64(layer):
    for store in (layer.params, layer.buffers):
        for k in store:
            store[k] = store[k].astype(np.float64)
    return layer


def check_layer(layer, x, train=True, reset=None):
    """Compare dx and every parameter gradient with central differences of sum(out * r)."""
    rng = np.random.default_rng(1)
    out = layer.forward(x, train=train)
    r = rng.standard_normal(out.shape)

    def f():
        if reset:
            reset()
        return float((layer.forward(x, train=train) * r).sum())

    if reset:
        reset()
    layer.forward(x, train=train)
    dx = layer.backward(r)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert rel_error(dx, numerical_gradient(f, x)) < TOL
    for key, value in layer.params.items():
        assert rel_error(analytic[key], numerical_gradient(f, value)) < TOL, key


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("n", [1, 4])
def test_dense_gradients(n):
    check_layer(as64(Dense(7, 5, rng=np.random.default_rng(0))), rand(n, 7))


CONV_CASES = [  # (N, C, H, W, F, K, stride, padding)
    (2, 3, 7, 7, 4, 3, 1, 0),
    (1, 2, 7, 9, 3, 3, 2, 1),  # batch of 1, non-square, stride 2, padding
    (2, 1, 8, 6, 2, 5, 1, 2),
    (3, 2, 6, 5, 2, 1, 1, 0),  # pointwise
    (1, 3, 9, 8, 2, 4, 3, 1),  # even kernel, stride 3
]


@pytest.mark.task_conv_forward_naive
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_forward_matches_naive(case):
    N, C, H, W, F, K, s, p = case
    x, w, b = rand(N, C, H, W), rand(F, C, K, K, seed=1), rand(F, seed=2)
    fast, _ = conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(fast, conv2d_forward_naive(x, w, b, s, p), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_gradients(case):
    N, C, H, W, F, K, s, p = case
    layer = as64(Conv2D(C, F, K, stride=s, padding=p, rng=np.random.default_rng(0)))
    check_layer(layer, rand(N, C, H, W))


def test_conv_without_bias_has_no_b():
    layer = as64(Conv2D(2, 3, 3, bias=False))
    assert set(layer.params) == {"W"}
    check_layer(layer, rand(2, 2, 5, 5))


@pytest.mark.parametrize(
    "cls", [MaxPool2D, pytest.param(AvgPool2D, marks=pytest.mark.task_avgpool_backward)]
)
@pytest.mark.parametrize("shape,k,s", [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2),
                                        ((2, 1, 5, 6), 2, 1)])
def test_pool_gradients(cls, shape, k, s):
    check_layer(cls(k, s), rand(*shape))


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


def test_global_avgpool_relu_flatten_gradients():
    check_layer(GlobalAvgPool2D(), rand(2, 3, 4, 5))
    check_layer(ReLU(), rand(3, 4, 5) + 0.05)  # no entry within h of the kink at 0
    check_layer(Flatten(), rand(2, 3, 2, 2))


@pytest.mark.parametrize(
    "train", [pytest.param(True, marks=pytest.mark.task_batchnorm_backward), False]
)
@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (1, 2, 3, 4)])
def test_batchnorm_gradients(train, shape):
    layer = as64(BatchNorm2D(shape[1]))
    rng = np.random.default_rng(5)
    layer.params["gamma"] = rng.uniform(0.5, 1.5, shape[1])
    layer.params["beta"] = rng.standard_normal(shape[1])
    layer.buffers["running_mean"] = rng.standard_normal(shape[1])
    layer.buffers["running_var"] = rng.uniform(0.5, 2.0, shape[1])
    if train:  # running statistics change on every training forward: freeze them for the check
        layer.momentum = 0.0
    check_layer(layer, rand(*shape) * 2 + 1, train=train)


def test_batchnorm_train_normalises_and_tracks_running_stats():
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


def test_dropout_gradient_and_determinism():
    layer = Dropout(0.3, seed=7)
    check_layer(layer, rand(4, 6), reset=lambda: setattr(layer, "rng", np.random.default_rng(7)))
    a = Dropout(0.5, seed=3).forward(np.ones((5, 5)), train=True)
    b = Dropout(0.5, seed=3).forward(np.ones((5, 5)), train=True)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0}
    np.testing.assert_array_equal(Dropout(0.5).forward(np.ones((2, 2))), np.ones((2, 2)))


def test_wrong_input_shapes_raise_shape_error():
    with pytest.raises(ShapeError, match="3 channels"):
        Conv2D(3, 4, 3).forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ShapeError):
        Dense(4, 2).forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ShapeError, match="does not fit"):
        Conv2D(1, 1, 5).output_shape((1, 3, 3))


@pytest.mark.task_batchnorm_backward
def test_layers_keep_float32():
    x = rand(2, 1, 8, 8).astype(np.float32)
    for layer in (Conv2D(1, 2, 3), MaxPool2D(2), BatchNorm2D(1), ReLU()):
        out = layer.forward(x, train=True)
        assert out.dtype == np.float32, type(layer).__name__
        assert layer.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("case", CONV_CASES[:3])
def test_conv_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    N, C, H, W, F, K, s, p = case
    layer = as64(Conv2D(C, F, K, stride=s, padding=p, rng=np.random.default_rng(0)))
    x = rand(N, C, H, W)
    out = layer.forward(x, train=True)
    r = rand(*out.shape, seed=3)
    layer.backward(r)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.params["W"], requires_grad=True)
    tb = torch.tensor(layer.params["b"], requires_grad=True)
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)
    (tout * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.grads["W"], tw.grad.numpy(), rtol=1e-10, atol=1e-10)
