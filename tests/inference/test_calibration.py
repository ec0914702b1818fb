"""Activation scales and zero points from calibrated ranges, measured on training images (the
"train" split: never the validation images, never the test set)."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.inference.calibration import (
    CALIBRATION_SPLIT,
    QParams,
    activation_ranges,
    calibration_images,
    calibration_subset,
    levels,
)
from tinycompress.nn.data import Normalization, load_arrays, load_split


@pytest.mark.parametrize("lo, hi", [(-0.4242, 2.8215), (0.0, 6.5), (-3.0, -1.0), (0.2, 0.9)])
def test_zero_is_exact_and_the_range_is_within_half_a_step(lo: float, hi: float) -> None:
    q = QParams.from_range(lo, hi)
    assert isinstance(q.zero_point, int) and 0 <= q.zero_point <= 255
    assert q.dequantize(q.quantize(np.zeros(3)))[0] == 0.0
    x = np.linspace(lo, hi, 1001)
    err = np.abs(q.dequantize(q.quantize(x)).astype(np.float64) - x)
    float32_rounding = np.spacing(np.float32(max(abs(lo), abs(hi))))  # dequantize's own
    assert err.max() <= q.scale / 2 + float32_rounding
    low, high = q.real_range
    assert low <= 0 <= high and high - low == pytest.approx(255 * q.scale)


def test_relu_outputs_need_no_zero_point_and_values_out_of_range_saturate() -> None:
    q = QParams.from_range(0.0, 5.1)
    assert q.zero_point == 0 and q.scale == pytest.approx(0.02)
    assert q.quantize(np.array([-1.0, 0.0, 5.1, 100.0])).tolist() == [0, 0, 255, 255]
    assert QParams.from_range(0.0, 0.0) == QParams(1.0, 0)


def test_narrower_activations_cut_the_same_range_into_fewer_steps() -> None:
    wide, narrow = QParams.from_range(-1.0, 3.0), QParams.from_range(-1.0, 3.0, levels(4))
    assert narrow.qmax == 15 and narrow.scale == pytest.approx(wide.scale * 255 / 15)
    assert narrow.real_range == pytest.approx((-1.0, 3.0), abs=narrow.scale / 2)
    assert narrow.quantize(np.array([-5.0, 0.0, 3.0, 9.0])).tolist() == [0, 4, 15, 15]
    assert narrow.dequantize(narrow.quantize(np.zeros(1)))[0] == 0.0
    assert [levels(b) for b in (1, 2, 8)] == [1, 3, 255]
    for bad in (0, 9, 2.0, True):
        with pytest.raises(UsageError, match="1 to 8 bits"):
            levels(bad)


def test_activation_ranges_are_the_extremes_of_every_layer_output(tiny_net, tiny_batch) -> None:
    model = tiny_net()
    X, _ = tiny_batch(40)
    ranges = activation_ranges(model, X, batch_size=7)
    assert list(ranges) == ["input", *(layer.name for layer in model.layers)]
    h = X
    assert ranges["input"] == (X.min(), X.max())
    for layer in model.layers:
        h = layer.forward(h)
        assert ranges[layer.name] == pytest.approx((h.min(), h.max()))
    assert ranges["r1"][0] == 0.0  # a ReLU's output starts at 0
    with pytest.raises(UsageError, match="at least one"):
        activation_ranges(model, X[:0])


def test_calibration_subset_is_seeded_and_draws_without_replacement() -> None:
    X = np.arange(100)[:, None]
    a, b = calibration_subset(X, 10, seed=3), calibration_subset(X, 10, seed=3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 10
    assert np.all(np.diff(a[:, 0]) > 0)  # kept in their original order
    assert not np.array_equal(a, calibration_subset(X, 10, seed=4))
    assert calibration_subset(X, 500) is X
    with pytest.raises(UsageError, match="positive"):
        calibration_subset(X, 0)


def test_calibration_images_come_from_the_training_split(tmp_path, make_dataset) -> None:
    folder = make_dataset(tmp_path / "d", n_train=12, n_test=5)
    norm = Normalization.fit(load_split("train", folder).images)
    X, _ = load_arrays("train", folder, norm)
    got = calibration_images(folder, norm, n=6, seed=1)
    assert np.array_equal(got, calibration_subset(X, 6, seed=1))
    assert np.array_equal(calibration_images(folder, norm), X)  # fewer than 5,000: all of them


def test_calibration_reads_neither_the_validation_nor_the_test_images(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=60, n_test=8)
    assert CALIBRATION_SPLIT == "train"
    norm = Normalization.fit(load_split("train", folder).images)
    got = calibration_images(folder, norm, n=40, seed=2)
    X_val, _ = load_arrays("validation", folder, norm)
    X_train, _ = load_arrays("train", folder, norm)
    assert len(X_val) == 6 and len(got) == 40
    rows = {x.tobytes() for x in got}
    assert rows <= {x.tobytes() for x in X_train}
    assert rows.isdisjoint(x.tobytes() for x in X_val)
    for test_file in folder.glob("t10k-*"):
        test_file.unlink()  # without the test files, nothing changes
    assert np.array_equal(calibration_images(folder, norm, n=40, seed=2), got)
