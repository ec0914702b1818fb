"""Depthwise and pointwise convolution: fast vs naive, gradients, PyTorch, the MultAdd algebra."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinycompress.errors import ShapeError, UsageError
from tinycompress.nn import depthwise
from tinycompress.nn.base import SHAPE_ONLY
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D, conv2d_backward, conv2d_forward
from tinycompress.nn.depthwise import (
    DepthwiseConv2D,
    PointwiseConv2D,
    conv_multadds,
    depthwise_backward,
    depthwise_forward,
    depthwise_forward_naive,
    depthwise_multadds,
    pointwise_backward,
    pointwise_forward,
    pointwise_multadds,
    scale_width,
    scaled_separable_multadds,
    separable_multadds,
    separable_ratio,
)
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.im2col import conv_output_size
from tinycompress.nn.model import Sequential

DW_CASES = [  # (N, C, H, W, K, stride, padding)
    (2, 3, 7, 7, 3, 1, 1),
    (1, 2, 7, 9, 3, 2, 1),  # batch of 1, non-square, stride 2, padding
    (2, 4, 8, 6, 3, 2, 0),  # even sizes, stride 2, no padding
    (3, 2, 5, 6, 5, 1, 2),  # 5x5 kernel
    (2, 3, 9, 8, 3, 3, 1),  # stride 3
    (2, 2, 4, 5, 1, 1, 0),  # 1x1 depthwise (a per-channel scale)
    (1, 5, 3, 3, 3, 1, 1),  # output the size of the input, 3x3 maps
]


@pytest.mark.task_depthwise_forward_naive
@pytest.mark.parametrize("case", DW_CASES)
def test_depthwise_fast_matches_naive(case, rand):
    N, C, H, W, K, s, p = case
    x, w, b = rand(N, C, H, W), rand(C, 1, K, K, seed=1), rand(C, seed=2)
    fast, _ = depthwise_forward(x, w, b, s, p)
    assert fast.shape == (N, C, conv_output_size(H, K, s, p), conv_output_size(W, K, s, p))
    np.testing.assert_allclose(fast, depthwise_forward_naive(x, w, b, s, p), rtol=1e-12,
                               atol=1e-12)


def test_depthwise_equals_a_conv_with_a_block_diagonal_weight(rand):
    """Depthwise = standard conv whose (F, C) weight grid is zero off the diagonal."""
    x, w = rand(2, 3, 6, 7), rand(3, 1, 3, 3, seed=1)
    full = np.zeros((3, 3, 3, 3))
    for c in range(3):
        full[c, c] = w[c, 0]
    ref, _ = conv2d_forward(x, full, None, 2, 1)
    out, _ = depthwise_forward(x, w, None, 2, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.task_depthwise_forward_naive
@pytest.mark.parametrize("case", DW_CASES[:5])
def test_depthwise_chunked_over_channels_matches_naive(case, monkeypatch, rand):
    """A tiny cache budget forces one channel per chunk: forward and backward must not change."""
    N, C, H, W, K, s, p = case
    x, w, b = rand(N, C, H, W), rand(C, 1, K, K, seed=1), rand(C, seed=2)
    out, cache = depthwise_forward(x, w, b, s, p)
    g = rand(*out.shape, seed=3)
    grads = depthwise_backward(g, cache)
    monkeypatch.setattr(depthwise, "CHUNK_ELEMENTS", 1)
    out1, cache1 = depthwise_forward(x, w, b, s, p)
    np.testing.assert_allclose(out1, depthwise_forward_naive(x, w, b, s, p), rtol=1e-12,
                               atol=1e-12)
    for a, c in zip(grads, depthwise_backward(g, cache1), strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", DW_CASES)
def test_depthwise_gradients(case, rand, as64, check_gradients):
    N, C, H, W, K, s, p = case
    layer = as64(DepthwiseConv2D(C, K, s, p, rng=np.random.default_rng(0)))
    check_gradients(layer, rand(N, C, H, W))


def test_depthwise_without_bias_and_without_input_gradient(rand, as64, check_gradients):
    layer = as64(DepthwiseConv2D(2, 3, padding=1, bias=False))
    assert set(layer.params) == {"W"} and layer.params["W"].shape == (2, 1, 3, 3)
    check_gradients(layer, rand(2, 2, 5, 4))
    x, w = rand(2, 2, 5, 4), rand(2, 1, 3, 3)
    out, cache = depthwise_forward(x, w, None, 1, 1)
    dx, dW, _ = depthwise_backward(np.ones_like(out), cache, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dW, depthwise_backward(np.ones_like(out), cache)[1])


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 4, 3, 7)])
def test_pointwise_matches_conv2d_kernel_1(shape, rand):
    x, w, b = rand(*shape), rand(5, shape[1], 1, 1, seed=1), rand(5, seed=2)
    out, cache = pointwise_forward(x, w, b)
    ref, ref_cache = conv2d_forward(x, w, b)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    g = rand(*out.shape, seed=3)
    for a, c in zip(pointwise_backward(g, cache), conv2d_backward(g, ref_cache), strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_gradients(bias, rand, as64, check_gradients):
    layer = as64(PointwiseConv2D(3, 4, bias=bias, rng=np.random.default_rng(0)))
    assert isinstance(layer, Conv2D) and layer.params["W"].shape == (4, 3, 1, 1)
    check_gradients(layer, rand(2, 3, 4, 5))


@pytest.mark.task_batchnorm_backward
def test_separable_block_gradients_end_to_end(rand, check_gradients):
    """dw 3x3 -> BN -> ReLU -> pw 1x1 -> BN -> ReLU, batch statistics, float64."""
    rng = np.random.default_rng(0)
    block = Sequential([DepthwiseConv2D(3, 3, 2, 1, bias=False, rng=rng), BatchNorm2D(3), ReLU(),
                        PointwiseConv2D(3, 4, bias=False, rng=rng), BatchNorm2D(4), ReLU()],
                       (3, 7, 6)).astype(np.float64)
    for layer in block.layers:
        if isinstance(layer, BatchNorm2D):
            layer.momentum = 0.0  # keep running statistics fixed while differencing
    block.layers[0].needs_input_grad = True
    check_gradients(block, rand(3, 3, 7, 6))


def test_against_pytorch_grouped_conv(rand):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: oracle test skipped")
    for N, C, H, W, K, s, p in DW_CASES:
        x, w, b = rand(N, C, H, W), rand(C, 1, K, K, seed=1), rand(C, seed=2)
        out, cache = depthwise_forward(x, w, b, s, p)
        g = rand(*out.shape, seed=3)
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        yt = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p, groups=C)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        for mine, theirs in zip(depthwise_backward(g, cache), (xt, wt, bt), strict=True):
            np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_wrong_channels_raise_shape_error():
    layer = DepthwiseConv2D(3)
    with pytest.raises(ShapeError, match="3 channels"):
        layer.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ShapeError):
        layer.output_shape((4, 5, 5))
    with pytest.raises(ShapeError):
        DepthwiseConv2D(2, 5).output_shape((2, 3, 3))  # a 5x5 window does not fit 3x3


def test_shape_only_layers_count_but_hold_no_memory():
    dw = DepthwiseConv2D(512, 3, padding=1, bias=False, rng=SHAPE_ONLY)
    pw = PointwiseConv2D(512, 1024, bias=False, rng=SHAPE_ONLY)
    for layer in (dw, pw):
        W = layer.params["W"]
        assert all(st == 0 for st in W.strides) and not W.flags.writeable
    assert pw.num_params() == pw.num_nonzero_params() == 512 * 1024
    assert dw.multadds((512, 14, 14)) == DepthwiseConv2D(512, 3, padding=1).multadds((512, 14, 14))


# --- the MultAdd algebra ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 7), m=st.integers(1, 64), n=st.integers(1, 64), h=st.integers(1, 40),
       w=st.integers(1, 40), stride=st.integers(1, 3), padding=st.integers(0, 3))
@pytest.mark.task_conv_multadds
def test_layer_counters_agree_with_the_formulas(k, m, n, h, w, stride, padding):
    assume(h + 2 * padding >= k and w + 2 * padding >= k)  # the window fits the input
    ho, wo = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    conv = Conv2D(m, n, k, stride, padding, rng=SHAPE_ONLY)
    dw = DepthwiseConv2D(m, k, stride, padding, rng=SHAPE_ONLY)
    pw = PointwiseConv2D(m, n, rng=SHAPE_ONLY)
    assert conv.multadds((m, h, w)) == conv_multadds(k, m, n, ho, wo)
    assert dw.multadds((m, h, w)) == depthwise_multadds(k, m, ho, wo)
    assert pw.multadds((m, ho, wo)) == pointwise_multadds(m, n, ho, wo)
    model = Sequential([dw, pw], (m, h, w))
    assert model.multadds() == separable_multadds(k, m, n, ho, wo)
    # the reduction is exactly 1/N + 1/K^2, whatever M, the size, stride and padding
    ratio = Fraction(model.multadds(), conv.multadds((m, h, w)))
    assert ratio == Fraction(1, n) + Fraction(1, k * k)
    assert float(ratio) == pytest.approx(separable_ratio(k, n), rel=1e-15)


@pytest.mark.task_conv_multadds
def test_formulas_by_hand():
    # Table 3 of the paper: K = 3, M = N = 512, D_F = 14
    assert conv_multadds(3, 512, 512, 14) == 462_422_016
    assert separable_multadds(3, 512, 512, 14) == 52_283_392
    assert scaled_separable_multadds(3, 512, 512, 14, alpha=0.75) == 29_578_752
    assert scaled_separable_multadds(3, 512, 512, 14, alpha=0.75, rho=10 / 14) == 15_091_200
    assert separable_ratio(3, 512) == pytest.approx(0.11306, abs=1e-5)  # 8-9x fewer


def test_scale_width_floors_like_keras():
    assert [scale_width(32, a) for a in (1.0, 0.75, 0.5, 0.25)] == [32, 24, 16, 8]
    assert scale_width(1000, 0.3) == 300 and scale_width(3, 0.1) == 1  # never zero channels
    for alpha in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="positive finite"):
            scale_width(32, alpha)
