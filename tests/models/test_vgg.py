"""VGG-16 built for counting only: the published counts, and no weights allocated."""

from __future__ import annotations

import tracemalloc

import numpy as np

from tinycompress.models.vgg import vgg16
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense

CONV_NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]


def test_vgg16_counts_match_the_published_totals() -> None:
    s = vgg16(shape_only=True).summary()
    assert s["params"] == 138_357_544  # weights and biases (Simonyan & Zisserman, Table 2: 138M)
    assert s["weights"] == 138_344_128
    assert s["multadds"] == 15_470_264_320  # conv + fc multiply-accumulates, 15.47 G


def test_vgg16_layers_follow_configuration_d() -> None:
    model = vgg16(shape_only=True)
    convs = [lay for lay in model.layers if isinstance(lay, Conv2D)]
    fcs = [lay for lay in model.layers if isinstance(lay, Dense)]
    assert [c.name for c in convs] == CONV_NAMES
    assert all(c.kernel_size == 3 and c.padding == 1 and c.stride == 1 for c in convs)
    assert [(f.name, *f.params["W"].shape) for f in fcs] == [
        ("fc6", 512 * 7 * 7, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)]
    assert model.shapes()[-1] == (1000,)


def test_vgg16_counting_allocates_no_weights() -> None:
    vgg16(shape_only=True).summary()  # warm imports and caches
    tracemalloc.start()
    try:
        model = vgg16(shape_only=True)
        summary = model.summary()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary["params"] == 138_357_544
    assert peak < 2_000_000, f"counting VGG-16 allocated {peak:,} bytes at peak"
    for _, _, value in model.parameters():
        if value.ndim > 1:
            assert not any(value.strides) and not value.flags.writeable


def test_small_vgg16_built_with_weights_counts_like_the_placeholder() -> None:
    kw = {"num_classes": 10, "input_shape": (3, 32, 32)}
    built, placeholder = vgg16(**kw), vgg16(shape_only=True, **kw)
    assert built.summary()["params"] == placeholder.summary()["params"]
    assert built.summary()["multadds"] == placeholder.summary()["multadds"]
    out = built.forward(np.zeros((2, 3, 32, 32), np.float32))
    assert out.shape == (2, 10)
