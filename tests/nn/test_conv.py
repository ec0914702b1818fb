"""2-D convolution: im2col against the loop definition, gradients, PyTorch, shapes, dtypes."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.conv import Conv2D, conv2d_forward, conv2d_forward_naive

CONV_CASES = [  # (N, C, H, W, F, K, stride, padding)
    (2, 3, 7, 7, 4, 3, 1, 0),
    (1, 2, 7, 9, 3, 3, 2, 1),  # batch of 1, non-square, stride 2, padding
    (2, 1, 8, 6, 2, 5, 1, 2),
    (3, 2, 6, 5, 2, 1, 1, 0),  # pointwise
    (1, 3, 9, 8, 2, 4, 3, 1),  # even kernel, stride 3
]


@pytest.mark.task_conv_forward_naive
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_forward_matches_naive(case, rand):
    N, C, H, W, F, K, s, p = case
    x, w, b = rand(N, C, H, W), rand(F, C, K, K, seed=1), rand(F, seed=2)
    fast, _ = conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(fast, conv2d_forward_naive(x, w, b, s, p), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_gradients(case, rand, as64, check_gradients):
    N, C, H, W, F, K, s, p = case
    layer = as64(Conv2D(C, F, K, stride=s, padding=p, rng=np.random.default_rng(0)))
    check_gradients(layer, rand(N, C, H, W))


def test_conv_without_bias_has_no_b(rand, as64, check_gradients):
    layer = as64(Conv2D(2, 3, 3, bias=False))
    assert set(layer.params) == {"W"}
    check_gradients(layer, rand(2, 2, 5, 5))


def test_conv_counts_k_k_m_n_ho_wo_multadds():
    layer = Conv2D(20, 50, 5)
    assert layer.output_shape((20, 12, 12)) == (50, 8, 8)
    assert layer.multadds((20, 12, 12)) == 5 * 5 * 20 * 50 * 8 * 8


def test_conv_wrong_inputs_raise_shape_error():
    with pytest.raises(ShapeError, match="3 channels"):
        Conv2D(3, 4, 3).forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ShapeError, match="does not fit"):
        Conv2D(1, 1, 5).output_shape((1, 3, 3))


def test_conv_keeps_float32(rand):
    layer = Conv2D(1, 2, 3)
    out = layer.forward(rand(2, 1, 8, 8).astype(np.float32), train=True)
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("case", CONV_CASES[:3])
def test_conv_matches_pytorch(case, rand, as64):
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
