"""Timing a standard 3x3 convolution against its depthwise-separable replacement."""

import pytest

from tinycompress.experiments.separable_speed import time_separable_vs_standard


def test_timing_rows_hold_times_and_the_multadd_ratio():
    (t,) = time_separable_vs_standard([8], size=6, batch=2, repeats=1)
    assert t["channels"] == 8
    assert t["multadd_ratio"] == pytest.approx(1 / 8 + 1 / 9, rel=1e-12)
    assert t["standard_ms"] > 0 and t["separable_ms"] > 0
    assert t["time_ratio"] == pytest.approx(t["separable_ms"] / t["standard_ms"])
