"""Pruning within an accuracy budget: the allocation rule and the round loop."""

import copy

import numpy as np
import pytest

from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.train import Recipe, evaluate, train_with_recipe
from tinycompress.pruning import budget
from tinycompress.pruning.magnitude import kept_fraction

SWEEP = [0.0, 0.5, 0.8, 0.9]


def test_drop_curve_is_the_running_maximum_of_the_drop():
    drops = budget.drop_curve([0.9, 0.91, 0.85, 0.88, 0.5], 0.9)
    np.testing.assert_allclose(drops, [0.0, 0.0, 0.05, 0.05, 0.4], atol=1e-8)
    assert np.all(np.diff(drops) > 0)  # strictly increasing: s(d) has no jump


@pytest.mark.task_lower_hull
def test_the_lower_hull_skips_points_above_the_chords():
    s = np.array([0.0, 0.5, 0.8, 0.9, 0.95])
    d = np.array([0.0, 0.1, 0.1, 0.3, 0.31])
    assert budget.lower_hull(s, d) == [0, 2, 4]  # (0.5, 0.1) and (0.9, 0.3) lie above chords
    costs = [g.cost for g in budget.segments("x", d, list(s), 10, 0.0)]
    assert costs == sorted(costs)  # a hull gets steeper: a layer's segments come in order


@pytest.mark.task_lower_hull
def test_allocation_prunes_where_a_removed_weight_costs_least():
    curves = {"big": [0.99, 0.98, 0.97, 0.9], "small": [0.99, 0.985, 0.98, 0.97]}
    s = budget.allocate(curves, SWEEP, 0.99, {"big": 9000, "small": 100}, 0.5)
    # per weight, the big layer's first 50% cost 0.01 / 4500 and the small one's 0.005 / 50
    # the big layer's next stretch (0.01 / 2700) still beats the small one's first
    assert s == {"big": pytest.approx(0.5 + 50 / 9000), "small": 0.0}


CURVES = {"big": [0.99, 0.99, 0.98, 0.96], "small": [0.99, 0.9, 0.6, 0.3]}
WEIGHTS = {"big": 9000, "small": 1000}


def kept_of(s):
    return sum(WEIGHTS[n] * (1 - v) for n, v in s.items()) / sum(WEIGHTS.values())


@pytest.mark.task_lower_hull
@pytest.mark.parametrize("kept", [0.9, 0.5, 0.3, 0.2])
def test_allocation_keeps_the_asked_fraction_and_prunes_the_robust_layer_harder(kept):
    s = budget.allocate(CURVES, SWEEP, 0.99, WEIGHTS, kept)
    assert kept_of(s) == pytest.approx(kept, abs=1e-6)
    assert s["big"] > s["small"]


@pytest.mark.task_lower_hull
@pytest.mark.parametrize("kept", [0.6, 0.45, 0.3])
def test_allocation_hits_its_target_across_flat_stretches_of_a_curve(kept):
    curves = {"big": [0.99, 0.97, 0.97, 0.97], "small": [0.99, 0.97, 0.97, 0.5]}
    s = budget.allocate(curves, SWEEP, 0.99, WEIGHTS, kept)
    assert kept_of(s) == pytest.approx(kept, abs=1e-6)


@pytest.mark.task_lower_hull
def test_allocation_never_makes_a_layer_denser_and_stops_at_the_sweep_end():
    s = budget.allocate(CURVES, SWEEP, 0.99, WEIGHTS, 0.3, floor={"small": 0.7})
    assert s["small"] >= 0.7 and kept_of(s) == pytest.approx(0.3, abs=1e-6)
    assert budget.allocate(CURVES, SWEEP, 0.99, WEIGHTS, 0.01) == {"big": 0.9, "small": 0.9}


@pytest.mark.task_lower_hull
def test_allocation_reads_a_sweep_per_layer_as_the_shared_one():
    shared = budget.allocate(CURVES, SWEEP, 0.99, WEIGHTS, 0.3)
    assert budget.allocate(CURVES, {"big": SWEEP, "small": SWEEP}, 0.99, WEIGHTS, 0.3) == shared
    # the small layer probed from its floor 0.7 on: it may not go below it
    per = {"big": SWEEP, "small": list(budget.grid(0.7))[:4]}
    s = budget.allocate(CURVES, per, 0.99, WEIGHTS, 0.3, floor={"small": 0.7})
    assert s["small"] >= 0.7 and kept_of(s) == pytest.approx(0.3, abs=1e-6)


def test_the_grid_sweeps_the_survivors_of_a_layer():
    np.testing.assert_allclose(budget.grid(0.0), budget.SWEEP)
    g = budget.grid(0.9)
    assert g[0] == pytest.approx(0.9) and np.all(np.diff(g) > 0) and g[-1] < 1.0
    np.testing.assert_allclose((1 - g) / 0.1, 1 - np.asarray(budget.SWEEP))


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.random.default_rng(99).normal(size=(3, 1, 1, 16)) * 1.2
    return (centres[y] + rng.normal(size=(n, 1, 1, 16))).astype(np.float32), y


@pytest.fixture(scope="module")
def trained_mlp():
    rng = np.random.default_rng(0)
    model = Sequential([Flatten(name="flat"), Dense(16, 64, name="fc1", rng=rng), ReLU(name="r1"),
                        Dense(64, 3, name="fc2", rng=rng)], input_shape=(1, 1, 16))
    X, y = blobs(1500, 1)
    train_with_recipe(model, X, y, Recipe(epochs=5, batch_size=64, lr=0.05), progress=False)
    return model, (X, y), blobs(600, 2)


@pytest.mark.task_lower_hull
@pytest.mark.task_magnitude_prune
@pytest.mark.parametrize("points", [0.0, 0.5, 3.0])
def test_the_budget_is_respected_on_the_validation_split(trained_mlp, points):
    model, (X, y), (Xv, yv) = copy.deepcopy(trained_mlp[0]), *trained_mlp[1:]
    e0 = evaluate(model, Xv, yv)["error"]
    pace = budget.BudgetSchedule(retrain=Recipe(epochs=1, batch_size=64, lr=0.01), max_rounds=8)
    rounds = budget.prune_within_budget(model, X, y, Xv, yv, points / 100, pace,
                                        progress=False)
    assert evaluate(model, Xv, yv)["error"] - e0 <= points / 100 + budget.ROUNDING
    kept = [r for r in rounds if r.accepted]
    assert all(r.error - e0 <= points / 100 + budget.ROUNDING for r in kept)
    assert all(r.error - e0 > points / 100 for r in rounds if not r.accepted)
    assert all(r.retrains == 1 + pace.rescues for r in rounds if not r.accepted)
    assert all(1 <= r.retrains <= 1 + pace.rescues for r in rounds)
    final = kept[-1].kept if kept else 1.0
    assert kept_fraction(model) == pytest.approx(final)  # an undone round left no trace
    if points == 3.0:
        assert final < 0.3  # a generous budget buys deep pruning


@pytest.mark.task_lower_hull
@pytest.mark.task_magnitude_prune
@pytest.mark.parametrize("min_step, tries", [(0.9, 3), (0.95, 4)])
def test_a_refused_round_is_retried_gentler_until_the_step_passes_min_step(trained_mlp, min_step,
                                                                          tries):
    model, (X, y), (Xv, yv) = copy.deepcopy(trained_mlp[0]), *trained_mlp[1:]
    pace = budget.BudgetSchedule(retrain=Recipe(epochs=1, batch_size=64, lr=0.01), rescues=0,
                                 min_step=min_step)
    # A budget below zero refuses every round: the steps go 0.6, 0.6^(1/2), 0.6^(1/4), ...
    rounds = budget.prune_within_budget(model, X, y, Xv, yv, -0.5, pace, progress=False)
    assert not any(r.accepted for r in rounds)
    assert [r.target_kept for r in rounds] == pytest.approx([0.6 ** 0.5 ** i
                                                             for i in range(tries)])
    assert kept_fraction(model) == 1.0


@pytest.mark.task_magnitude_prune
def test_resweep_probes_from_the_current_sparsity_and_leaves_the_model_alone(trained_mlp):
    from tinycompress.pruning.magnitude import prune

    model, (Xv, yv) = copy.deepcopy(trained_mlp[0]), trained_mlp[2]
    prune(model, per_layer={"fc1": 0.6})
    before = {n: lay.params["W"].copy() for n, lay in zip("ab", model.layers[1::2], strict=True)}
    grids, curves = budget.resweep(model, Xv, yv)
    assert grids["fc1"][0] == pytest.approx(614 / 1024) and grids["fc2"][0] == 0.0
    acc = evaluate(model, Xv, yv)["accuracy"]
    assert curves["fc1"][0] == acc and curves["fc2"][0] == acc  # the first point: no change
    assert curves["fc1"][-1] < acc  # one survivor in 200 left: the model breaks
    for n, lay in zip("ab", model.layers[1::2], strict=True):
        np.testing.assert_array_equal(lay.params["W"], before[n])
