"""MobileNetV1: the paper's counts (Tables 1-7), multipliers, shape-only counting, MNIST variant."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.errors import ShapeError, UsageError
from tinycompress.models.mobilenet import (
    mobilenet_mnist,
    mobilenet_v1,
    resize_images,
    resize_matrix,
)
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D, scale_width


def v1(**kw):
    return mobilenet_v1(shape_only=True, **kw).summary()


@pytest.mark.task_conv_multadds
def test_mobilenet_224_counts_match_the_paper_exactly(mobilenet_paper_counts):
    s = v1()
    assert s["multadds"] == 568_740_352
    assert s["weights"] == 4_209_088  # conv + FC weights: the paper's 4.2 M
    bn_channels = sum(r["params"] // 2 for r in s["layers"] if r["type"] == "BatchNorm2D")
    assert s["params"] == s["weights"] + 1000 + 2 * bn_channels == 4_231_976
    assert (s["multadds"], s["weights"]) == mobilenet_paper_counts()
    assert len([r for r in s["layers"] if r["weights"]]) == 28  # the paper's 28 layers


def test_table2_resource_shares():
    rows = v1()["layers"]

    def share(kind, key):
        total = sum(r[key] for r in rows)
        return round(100 * sum(r[key] for r in rows if r["type"] == kind) / total, 2)

    assert share("PointwiseConv2D", "multadds") == 94.86
    assert share("PointwiseConv2D", "weights") == 74.59
    assert share("DepthwiseConv2D", "multadds") == 3.06
    assert share("DepthwiseConv2D", "weights") == 1.06
    assert share("Conv2D", "multadds") == 1.91  # the paper prints 1.19: transposed digits
    assert share("Conv2D", "weights") == 0.02
    assert share("Dense", "multadds") == 0.18
    assert share("Dense", "weights") == 24.33


@pytest.mark.parametrize("alpha,multadds,params", [(0.75, 325, 2.6), (0.5, 149, 1.3),
                                                   (0.25, 41, 0.5)])
def test_width_multiplier_table(alpha, multadds, params):
    s = v1(alpha=alpha)
    assert round(s["multadds"] / 1e6) == multadds
    assert round(s["weights"] / 1e6, 1) == params == round(s["params"] / 1e6, 1)


@pytest.mark.parametrize("resolution,multadds", [(192, 418), (160, 291), (128, 186)])
def test_resolution_multiplier_table(resolution, multadds):
    s = v1(resolution=resolution)
    assert round(s["multadds"] / 1e6) == multadds  # the paper prints 290 for 160 (+-1 M)
    assert s["weights"] == 4_209_088  # resolution changes no parameter


@pytest.mark.task_conv_multadds
def test_full_convolution_mobilenet(mobilenet_paper_counts):
    s = v1(full_conv=True)
    assert abs(s["multadds"] / 1e6 - 4866) < 1.5  # 4,867.3 M; the paper rounds to 4866
    assert round(s["params"] / 1e6, 1) == round(s["weights"] / 1e6, 1) == 29.3
    assert (s["multadds"], s["weights"]) == mobilenet_paper_counts(full_conv=True)
    types = {r["type"] for r in s["layers"]}
    assert "DepthwiseConv2D" not in types and "PointwiseConv2D" not in types


def test_width_and_resolution_together():
    """Table 9's 0.50 MobileNet-160: 76 M MultAdds, 1.32 M parameters."""
    s = v1(alpha=0.5, resolution=160)
    assert abs(s["multadds"] / 1e6 - 76) < 1.0  # 76.5 M: the paper's +-1 M rounding
    assert round(s["weights"] / 1e6, 2) == 1.32


@settings(max_examples=25, deadline=None)
@given(alpha=st.floats(0.05, 1.5), resolution=st.integers(32, 320),
       full_conv=st.booleans(), classes=st.integers(1, 1000))
@pytest.mark.task_conv_multadds
def test_any_multiplier_counts_like_the_formulas(mobilenet_paper_counts, alpha, resolution,
                                                 full_conv, classes):
    s = mobilenet_v1(alpha, resolution, classes, full_conv=full_conv, shape_only=True).summary()
    expected = mobilenet_paper_counts(alpha, resolution, full_conv, classes)
    assert (s["multadds"], s["weights"]) == expected
    assert s["layers"][-2]["output_shape"] == [scale_width(1024, alpha)]


def test_shape_only_counting_allocates_no_weights():
    model = mobilenet_v1(full_conv=True, shape_only=True)
    for _, _, value in model.parameters():
        if value.ndim > 1:  # conv and FC weights: zero-stride placeholders
            assert not any(value.strides) and not value.flags.writeable
    for layer in model.layers:  # BatchNorm's arrays too
        assert all(not any(a.strides) for a in (*layer.params.values(), *layer.buffers.values()))
    built = mobilenet_v1(alpha=0.25, resolution=64)
    placeholder = mobilenet_v1(alpha=0.25, resolution=64, shape_only=True)
    for key in ("params", "weights", "multadds", "bytes"):
        assert built.summary()[key] == placeholder.summary()[key]


def test_a_huge_multiplier_is_counted_in_no_memory_or_refused():
    tracemalloc.start()
    try:
        summary = mobilenet_v1(alpha=1000, shape_only=True).summary()  # 3 x 10^12 parameters
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary["params"] > 3 * 10**12 and peak < 1 << 20
    with pytest.raises(UsageError, match="over the limit of 268,435,456; build it with "
                                         "shape_only=True"):
        mobilenet_v1(alpha=30)  # 2.9 G values: refused before a weight is drawn
    with pytest.raises(UsageError, match="1,024,000,000 channels wide, over the limit"):
        mobilenet_v1(alpha=1e6, shape_only=True)
    for alpha in (0, -1, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="positive finite"):
            mobilenet_v1(alpha=alpha, shape_only=True)
    with pytest.raises(UsageError, match="resolution must be a number of pixels"):
        mobilenet_v1(resolution=0)


def test_layer_names_and_types_follow_table_1():
    model = mobilenet_v1(alpha=0.25, resolution=32)
    assert isinstance(model.layer("conv0"), Conv2D) and model.layer("conv0").stride == 2
    assert isinstance(model.layer("dw13"), DepthwiseConv2D) and model.layer("dw13").stride == 1
    assert isinstance(model.layer("pw13"), PointwiseConv2D)
    assert isinstance(model.layer("pw13_bn"), BatchNorm2D) and isinstance(model.layer("fc"), Dense)
    assert model.layer("dw2").stride == 2 and model.layer("dw12").stride == 2
    assert model.layer("pw1").bias is False and model.layer("dw1").bias is False
    assert model.shapes()[-2] == (256,)  # after global average pooling


# --- the MNIST MobileNet -------------------------------------------------------------------


@pytest.mark.task_batchnorm_backward
def test_mnist_mobilenet_trains_forward_backward_and_round_trips(tmp_path):
    model = mobilenet_mnist(alpha=0.25, resolution=16)
    assert model.input_shape == (1, 16, 16) and model.shapes()[-1] == (10,)
    x = np.random.default_rng(0).standard_normal((3, 1, 16, 16)).astype(np.float32)
    out = model.forward(x, train=True)
    model.backward(np.ones_like(out))
    assert all(layer.grads[k].shape == p.shape for layer in model.layers
               for k, p in layer.params.items())
    loaded, _ = load_model(save_model(model, tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    sep, full = mobilenet_mnist(shape_only=True), mobilenet_mnist(full_conv=True, shape_only=True)
    assert full.multadds() > 5 * sep.multadds()


def test_resize_matrix():
    np.testing.assert_allclose(resize_matrix(7, 7), np.eye(7))
    for n_in, n_out in ((28, 16), (28, 24), (10, 25)):
        R = resize_matrix(n_in, n_out)
        assert R.shape == (n_out, n_in) and (R >= 0).all()
        np.testing.assert_allclose(R.sum(axis=1), 1.0)
    ramp = np.arange(8.0)  # upsampling reproduces a linear ramp away from the borders
    np.testing.assert_allclose((resize_matrix(8, 16) @ ramp)[1:-1],
                               (np.arange(16) / 2 - 0.25)[1:-1])
    x = np.full((2, 1, 28, 28), 3.0, np.float32)
    np.testing.assert_allclose(resize_images(x, 20), 3.0, rtol=1e-6)
    assert resize_images(x, 28) is x
    with pytest.raises(ShapeError, match="positive"):
        resize_matrix(0, 3)
