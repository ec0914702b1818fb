"""What the MobileNet grid shows: its tables, its Pareto front, equal-cost pairs, and the best
point under a budget, on a small made-up grid."""

import pytest

from tinycompress.errors import UsageError
from tinycompress.experiments.mobilenet_tradeoff import (
    best_within,
    equal_cost_pairs,
    family_comparison,
    family_markdown,
    find_point,
    grid_markdown,
    label,
    pareto_front,
)


def _row(alpha, res, full, multadds, acc, val=None, params=100):
    row = {"alpha": alpha, "resolution": res, "full_conv": full, "multadds": multadds,
           "params": params, "accuracy": acc}
    if val is not None:
        row["validation_accuracy"] = val
    return row


ROWS = [_row(1.0, 28, False, 900, 0.98, 0.97, 400), _row(0.5, 28, False, 250, 0.96, 0.95),
        _row(1.0, 16, False, 300, 0.97, 0.98, 400), _row(0.5, 28, True, 1000, 0.985, 0.96, 800),
        _row(0.25, 16, True, 260, 0.95, 0.99, 50)]


def test_grid_markdown_has_a_row_per_alpha_and_dashes_for_missing_points():
    lines = grid_markdown(ROWS, full_conv=False, resolutions=(28, 16)).splitlines()
    assert lines[0] == "| alpha | 28x28 | 16x16 | params |"
    assert lines[2] == "| 1.0 | 98.00% (1k) | 97.00% (0k) | 400 |"
    assert lines[3] == "| 0.5 | 96.00% (0k) | - | 100 |"
    assert len(lines) == 4


def test_family_comparison_pairs_the_same_width():
    (c,) = family_comparison(ROWS, resolution=28)
    assert c["alpha"] == 0.5 and c["separable"] is find_point(ROWS, 0.5, 28, False)
    assert c["gain"] == pytest.approx(2.5) and c["multadd_ratio"] == pytest.approx(4.0)
    assert c["param_ratio"] == pytest.approx(8.0)
    assert "+2.50 points | 4.0x | 8.0x" in family_markdown(ROWS, resolution=28)


def test_pareto_front_keeps_only_unbeaten_points_cheapest_first():
    front = [label(r) for r in pareto_front(ROWS)]
    assert front == ["0.5-28 sep", "1.0-16 sep", "1.0-28 sep", "0.5-28 full"]
    assert [label(r) for r in pareto_front(ROWS, score="validation_accuracy")] == [
        "0.5-28 sep", "0.25-16 full"]


def test_equal_cost_pairs_match_within_the_tolerance():
    pairs = equal_cost_pairs(ROWS, tolerance=0.12)
    assert [(label(f), label(s)) for f, s in pairs] == [("0.25-16 full", "0.5-28 sep"),
                                                       ("0.5-28 full", "1.0-28 sep")]
    assert [label(f) for f, _ in equal_cost_pairs(ROWS, tolerance=0.05)] == ["0.25-16 full"]
    with pytest.raises(UsageError):
        equal_cost_pairs(ROWS, tolerance=1.5)


def test_best_within_chooses_on_validation_and_refuses_rows_without_it():
    assert label(best_within(ROWS, 280)) == "0.25-16 full"
    assert label(best_within(ROWS, 280, score="accuracy")) == "0.5-28 sep"
    assert best_within(ROWS, 100) is None
    with pytest.raises(UsageError, match="validation_accuracy"):
        best_within([*ROWS, _row(0.75, 20, False, 10, 0.9)], 500)
