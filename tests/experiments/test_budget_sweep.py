"""The budget sweep: its points come from the reports, and the figure labels what each counts."""

import pytest

from tinycompress.experiments import budget_sweep


def report(points, file_bytes, error, seed=0):
    return {"budget_points": points, "seconds": 1.0, "validation": {"n": 5000, "seed": 0},
            "settings": {"seed": seed},
            "original": {"error": 0.0075, "validation_error": 0.0094},
            "compressed": {"file_bytes": file_bytes, "ratio": 1_066_440 / file_bytes,
                           "error": error, "validation_error": 0.0094 + points / 100}}


def test_a_point_is_read_from_a_report():
    p = budget_sweep.point_of(report(0.5, 16_000, 0.0106, seed=3))
    assert (p["budget_points"], p["file_bytes"], p["error"]) == (0.5, 16_000, 0.0106)
    assert p["seed"] == 3  # the training seed, not the validation split's
    assert p["validation_error"] - p["original_validation_error"] == pytest.approx(0.005)


def test_every_published_point_says_what_it_counts(tmp_path):
    for points in budget_sweep.PUBLISHED.values():
        assert {p["counts"] for p in points} <= set(budget_sweep.LABELS)
    runs = [budget_sweep.point_of(report(b, n, e))
            for b, n, e in ((0.2, 20_000, 0.009), (0.5, 16_000, 0.0106))]
    runs.append(budget_sweep.point_of(report(0.5, 14_000, 0.011, seed=1)))
    path = budget_sweep.figure({"lenet-300-100": runs}, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
