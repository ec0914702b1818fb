"""What the MNIST MobileNet grid shows: its tables, its Pareto front, and a choice under a budget.

After Howard et al. 2017, "MobileNets", Tables 4-7 (accuracy against MultAdds and parameters
for width multipliers alpha, resolution multipliers rho, separable against full convolution).
The rows are those :func:`~tinycompress.experiments.mobilenet_grid.run_grid` writes to
``data/results/mobilenet_grid.json``: dicts with ``alpha``, ``resolution``, ``full_conv``,
``multadds``, ``params``, ``accuracy`` (test) and, in files written since the validation split
was introduced, ``validation_accuracy``. Nothing here trains; chapter 2 renders its tables and
captions from these functions, so its prose follows the results file.

- :func:`grid_markdown` and :func:`family_markdown`: the grid and the Table 4 analogue as
  Markdown tables;
- :func:`pareto_front`: the points no other point beats at lower or equal cost;
- :func:`equal_cost_pairs`: full-convolution and separable nets of nearly the same MultAdds;
- :func:`best_within`: the best point under a MultAdd budget, by a named score (choices are
  made on ``validation_accuracy``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import UsageError
from .mobilenet_grid import MNIST_RESOLUTIONS

Row = dict[str, Any]


def label(row: Row) -> str:
    """``"0.25-28 full"`` / ``"1.0-20 sep"``: width, input side and family of a grid row."""
    return f"{row['alpha']}-{row['resolution']} {'full' if row['full_conv'] else 'sep'}"


def find_point(rows: Sequence[Row], alpha: float, resolution: int, full_conv: bool) -> Row | None:
    """The grid row of ``(alpha, resolution, full_conv)``, or None when the grid lacks it."""
    key = (alpha, resolution, full_conv)
    return next((r for r in rows if (r["alpha"], r["resolution"], r["full_conv"]) == key), None)


def _alphas(rows: Sequence[Row]) -> list[float]:
    return sorted({r["alpha"] for r in rows}, reverse=True)


def grid_markdown(rows: Sequence[Row], full_conv: bool,
                  resolutions: Sequence[int] = MNIST_RESOLUTIONS) -> str:
    """One family of the grid as a Markdown table: a row per alpha (widest first), a column per
    input side holding ``test accuracy % (MultAdds in thousands)``, then the parameters (which
    the resolution does not change); ``-`` where the grid lacks a point."""
    family = [r for r in rows if r["full_conv"] == full_conv]
    head = "| alpha | " + " | ".join(f"{res}x{res}" for res in resolutions) + " | params |"
    lines = [head, "|---" * (len(resolutions) + 2) + "|"]
    for a in _alphas(family):
        points = [find_point(family, a, res, full_conv) for res in resolutions]
        cells = ["-" if r is None else f"{100 * r['accuracy']:.2f}% ({r['multadds'] / 1e3:,.0f}k)"
                 for r in points]
        params = next(r["params"] for r in family if r["alpha"] == a)
        lines.append(f"| {a} | " + " | ".join(cells) + f" | {params:,} |")
    return "\n".join(lines)


def family_comparison(rows: Sequence[Row], resolution: int = 28) -> list[Row]:
    """Separable against full convolution at each alpha found in both, at one input side:
    dicts with ``alpha``, ``separable`` and ``full`` (the two rows), ``gain`` (full minus
    separable test accuracy, in points), ``multadd_ratio`` and ``param_ratio`` (full over
    separable)."""
    out = []
    for a in _alphas(rows):
        sep, full = find_point(rows, a, resolution, False), find_point(rows, a, resolution, True)
        if sep is not None and full is not None:
            out.append({"alpha": a, "separable": sep, "full": full,
                        "gain": 100 * (full["accuracy"] - sep["accuracy"]),
                        "multadd_ratio": full["multadds"] / sep["multadds"],
                        "param_ratio": full["params"] / sep["params"]})
    return out


def family_markdown(rows: Sequence[Row], resolution: int = 28) -> str:
    """:func:`family_comparison` as a Markdown table (the analogue of the paper's Table 4)."""
    lines = ["| alpha | separable | full conv | full - separable | MultAdds, full / sep "
             "| params, full / sep |", "|---|---|---|---|---|---|"]
    for c in family_comparison(rows, resolution):
        sep, full = c["separable"], c["full"]
        lines.append(f"| {c['alpha']} | {100 * sep['accuracy']:.2f}% ({sep['multadds']:,}) | "
                     f"{100 * full['accuracy']:.2f}% ({full['multadds']:,}) | "
                     f"{c['gain']:+.2f} points | {c['multadd_ratio']:.1f}x | "
                     f"{c['param_ratio']:.1f}x |")
    return "\n".join(lines)


def pareto_front(rows: Sequence[Row], cost: str = "multadds", score: str = "accuracy"
                 ) -> list[Row]:
    """The rows no other row beats, cheapest first: walking up the cost, a row joins the front
    when its ``score`` is higher than every cheaper (or equally cheap) row's."""
    front: list[Row] = []
    for r in sorted(rows, key=lambda r: (r[cost], -r[score])):
        if not front or r[score] > front[-1][score]:
            front.append(r)
    return front


def equal_cost_pairs(rows: Sequence[Row], tolerance: float = 0.1) -> list[tuple[Row, Row]]:
    """``(full, separable)`` pairs whose MultAdds differ by at most ``tolerance`` (a fraction
    of the smaller): for each full-convolution row, the separable row of closest cost, if any
    is that close. Sorted by cost."""
    if not 0 <= tolerance < 1:
        raise UsageError(f"tolerance must be in [0, 1), got {tolerance}")
    seps = [r for r in rows if not r["full_conv"]]
    pairs = []
    for full in sorted((r for r in rows if r["full_conv"]), key=lambda r: r["multadds"]):
        gaps = [(abs(math.log(s["multadds"] / full["multadds"])), i) for i, s in enumerate(seps)]
        if gaps:
            gap, i = min(gaps)
            if gap <= math.log1p(tolerance):
                pairs.append((full, seps[i]))
    return pairs


def best_within(rows: Sequence[Row], budget: float, score: str = "validation_accuracy"
                ) -> Row | None:
    """The row of highest ``score`` among those of at most ``budget`` MultAdds (None if none
    fits). Choices are made on the validation split, hence the default score; a file written
    before it was recorded has no ``validation_accuracy`` and is refused."""
    if any(score not in r for r in rows):
        raise UsageError(f"the grid rows have no {score!r}: rerun python -m "
                         "tinycompress.experiments.mobilenet_grid")
    fitting = [r for r in rows if r["multadds"] <= budget]
    return max(fitting, key=lambda r: r[score]) if fitting else None
