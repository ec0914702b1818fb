"""Timing a standard 3x3 convolution against its depthwise-separable replacement."""

import pytest

from tinycompress.errors import UsageError
from tinycompress.experiments.separable_speed import summarise_speed, time_separable_vs_standard


def test_timing_rows_hold_times_and_the_multadd_ratio():
    (t,) = time_separable_vs_standard([8], size=6, batch=2, repeats=3)
    assert t["channels"] == 8
    assert t["multadd_ratio"] == pytest.approx(1 / 8 + 1 / 9, rel=1e-12)
    assert t["standard_ms"] > 0 and t["separable_ms"] > 0
    assert t["time_ratio"] == pytest.approx(t["separable_ms"] / t["standard_ms"])
    assert len(t["standard_ms_runs"]) == len(t["speedup_runs"]) == 3
    assert t["depthwise_ms"] == min(t["depthwise_ms_runs"])
    s, d, p = (t[f"{k}_ms_runs"][1] for k in ("standard", "depthwise", "pointwise"))
    assert t["speedup_runs"][1] == pytest.approx(s / (d + p))


def test_timing_refuses_zero_repeats():
    with pytest.raises(UsageError):
        time_separable_vs_standard([8], repeats=0)


def _row(c, std_ms, dw_ms, pw_ms, runs, speedups):
    """A timing row with made-up times (milliseconds) and GMAC/s of 1 / ms."""
    row = {"channels": c, "speedup_runs": speedups, "standard_ms": std_ms,
           "depthwise_ms": dw_ms, "pointwise_ms": pw_ms,
           "separable_ms": dw_ms + pw_ms, "time_ratio": (dw_ms + pw_ms) / std_ms,
           "multadd_ratio": 1 / c + 1 / 9}
    for k, ms in (("standard", std_ms), ("depthwise", dw_ms), ("pointwise", pw_ms)):
        row[f"{k}_gmacs"], row[f"{k}_ms_runs"] = 1 / ms, [ms, ms * runs]
    return row


def test_summary_ranges_shares_and_spread():
    rows = [_row(16, 10.0, 4.0, 1.0, 1.2, [2.0, 3.0]),
            _row(256, 100.0, 10.0, 40.0, 1.5, [1.0, 2.0, 4.0])]
    rows[1]["pointwise_gmacs"] = 0.005  # below the standard convolution's 1/100
    s = summarise_speed(rows)
    assert s["speedup"] == pytest.approx((2.0, 2.5))  # medians of the paired rounds
    assert s["saving"] == pytest.approx((1 / (1 / 16 + 1 / 9), 1 / (1 / 256 + 1 / 9)))
    assert s["depthwise_cost"] == pytest.approx((0.1, 0.4))  # (1/10) / (1/4) and (1/100) / (1/10)
    assert s["pointwise_faster"] == [16]  # 1/1 > 1/10 at C = 16, not at C = 256
    assert s["spread"] == pytest.approx((0.35, 0.5))
    assert s["widest"] == 256 and s["widest_time_share"] == pytest.approx(0.2)
    assert s["widest_multadd_share"] == pytest.approx(9 / 265)
    with pytest.raises(UsageError):
        summarise_speed([])
