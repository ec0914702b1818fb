"""Iterative pruning: schedules, prune-and-retrain rounds, sensitivity, recipes, shipped results.

Every choice (the per-round errors, the stopping bound, the sensitivity curves) reads the arrays
passed as ``X_val, y_val`` -- the validation split -- and nothing else."""

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.nn import train
from tinycompress.nn.data import load_arrays, normalization_of
from tinycompress.nn.optim import SGD
from tinycompress.nn.train import evaluate, fit
from tinycompress.pruning import iterative, magnitude


def test_geometric_schedule():
    sched = iterative.geometric_schedule({"a": 0.92}, 3)
    kept = [1 - s["a"] for s in sched]
    assert kept[-1] == pytest.approx(0.08)
    assert kept[1] / kept[0] == pytest.approx(kept[2] / kept[1])
    resumed = iterative.geometric_schedule({"a": 0.96}, 2, start={"a": 0.92})
    assert 1 - resumed[0]["a"] == pytest.approx(np.sqrt(0.08 * 0.04))


@pytest.mark.task_magnitude_prune
def test_iterative_prune_reaches_target_and_undoes_a_bad_round(tiny_mlp, blobs):
    model = tiny_mlp()
    X, y = blobs()
    cfg = train.Recipe(epochs=2, batch_size=16, lr=0.05)
    sched = iterative.geometric_schedule({"fc1": 0.75, "fc2": 0.5}, 2)
    results = iterative.iterative_prune(model, X, y, sched, cfg, X_val=X, y_val=y, progress=False)
    assert [r.round for r in results] == [1, 2]
    assert magnitude.current_sparsities(model) == pytest.approx({"fc1": 0.75, "fc2": 0.5}, abs=0.01)
    # a round to 99.9% sparsity breaks a tight accuracy bound: it is undone
    before = iterative.snapshot(model)
    results = iterative.iterative_prune(model, X, y, [{"fc1": 0.999, "fc2": 0.999}], cfg,
                                        X_val=X, y_val=y, max_error_increase=0.0, progress=False)
    assert results == []
    for lay in model.layers:
        for k, v in lay.params.items():
            np.testing.assert_array_equal(v, before[lay.name][0][k])


@pytest.mark.task_magnitude_prune
def test_sensitivity_leaves_model_unchanged_and_degrades(tiny_mlp, blobs):
    model = tiny_mlp()
    X, y = blobs()
    fit(model, X, y, epochs=5, batch_size=16, optimizer=SGD(model, lr=0.05), progress=False)
    before = model.layer("fc1").params["W"].copy()
    sweep = [0.0, 0.5, 0.99]
    curves = iterative.sensitivity(model, X, y, sweep)
    np.testing.assert_array_equal(model.layer("fc1").params["W"], before)
    assert set(curves) == {"fc1", "fc2"}
    base = curves["fc1"][0]
    assert curves["fc1"][-1] < base
    chosen = iterative.choose_sparsities(curves, sweep, base, max_drop=0.0)
    assert chosen["fc1"] in sweep and chosen["fc1"] < 0.99


@pytest.mark.task_magnitude_prune
def test_run_recipe_numbers_rounds_and_resumes_from_zeros(tiny_mlp, blobs):
    model = tiny_mlp()
    X, y = blobs()
    recipe = iterative.PruneRecipe({"fc1": 0.8}, rounds=3,
                                   retrain=train.Recipe(epochs=1, batch_size=16, lr=0.05),
                                   final_epochs=2)
    results = iterative.run_recipe(model, recipe, X, y, X_val=X, y_val=y, progress=False)
    assert [r.round for r in results] == [1, 2, 3]
    assert magnitude.current_sparsities(model)["fc1"] == pytest.approx(0.8, abs=0.01)
    assert magnitude.current_sparsities(model)["fc2"] == 0.0


@pytest.mark.task_magnitude_prune
def test_run_recipe_stops_at_the_error_bound(tiny_mlp, blobs):
    X, y = blobs()
    model = tiny_mlp()
    fit(model, X, y, epochs=5, batch_size=16, optimizer=SGD(model, lr=0.05), progress=False)
    recipe = iterative.PruneRecipe({"fc1": 0.999, "fc2": 0.999}, rounds=3,
                                   retrain=train.Recipe(epochs=1, batch_size=16, lr=0.01))
    results = iterative.run_recipe(model, recipe, X, y, X_val=X, y_val=y,
                                   max_error_increase=0.0, progress=False)
    assert len(results) < 3  # 99.9% sparsity cannot keep the training error
    base = results[-1].kept if results else 1.0
    assert magnitude.kept_fraction(model) == pytest.approx(base)


def trained_split(tiny_mlp, blobs):
    """A trained tiny MLP, its training images ``(X, y)`` and held-out ``(X_val, y_val)``: a
    quarter of ``y_val`` moved to the next class, so no error on them equals one on ``(X, y)``."""
    X, y = blobs(200)
    model = tiny_mlp()
    fit(model, X[:120], y[:120], epochs=5, batch_size=16, optimizer=SGD(model, lr=0.05),
        progress=False)
    y_val = (y[120:] + (np.arange(80) % 4 == 0)) % 3
    return model, X[:120], y[:120], X[120:], y_val


@pytest.mark.task_magnitude_prune
def test_round_errors_are_measured_on_the_validation_arrays(tiny_mlp, blobs):
    model, X, y, X_val, y_val = trained_split(tiny_mlp, blobs)
    cfg = train.Recipe(epochs=1, batch_size=16, lr=0.01)
    seen = []
    (r,) = iterative.iterative_prune(model, X, y, [{"fc1": 0.5}], cfg, X_val=X_val,
                                     y_val=y_val, progress=False, on_round=seen.append)
    assert seen == [r]
    assert r.error == evaluate(model, X_val, y_val)["error"]
    assert r.error != evaluate(model, X, y)["error"]  # not the training images
    (blind,) = iterative.iterative_prune(tiny_mlp(), X, y, [{"fc1": 0.999}], cfg,
                                         max_error_increase=0.0, progress=False)
    assert np.isnan(blind.error) and np.isnan(blind.error_pruned)  # nothing to judge: kept


@pytest.mark.task_magnitude_prune
def test_the_stopping_rule_follows_the_validation_labels_only(tiny_mlp, blobs):
    model, X, y, X_val, _ = trained_split(tiny_mlp, blobs)
    cfg = train.Recipe(epochs=1, batch_size=16, lr=0.01)
    own = model.predict(X_val)  # error 0: any changed prediction breaks a bound of 0
    other = (own + 1) % 3  # error 1: it cannot rise
    state = iterative.snapshot(model)
    rounds = {}
    for name, y_val in (("own", own), ("other", other)):
        iterative.restore(model, state)
        rounds[name] = iterative.iterative_prune(model, X, y, [{"fc1": 0.999, "fc2": 0.999}],
                                                 cfg, X_val=X_val, y_val=y_val,
                                                 max_error_increase=0.0, progress=False)
    assert rounds["own"] == [] and len(rounds["other"]) == 1  # same training, other verdicts
    assert magnitude.kept_fraction(model) < 0.01  # the pruned model stayed


@pytest.mark.task_magnitude_prune
def test_sensitivity_names_and_reads_the_validation_split(tiny_mlp, blobs):
    model, X, y, X_val, y_val = trained_split(tiny_mlp, blobs)
    curves = iterative.sensitivity(model, X_val=X_val, y_val=y_val, sparsities=[0.0, 0.9])
    assert curves["fc1"][0] == evaluate(model, X_val, y_val)["accuracy"]
    assert curves["fc1"][0] != evaluate(model, X, y)["accuracy"]
    assert curves == iterative.sensitivity(model, X_val, y_val, [0.0, 0.9])  # positionally too


SHIPPED = {  # zoo name: (max weights kept, max test error), Han et al. 2015, Table 1
    "lenet-300-100-pruned": (0.08, 0.0164),
    "lenet5-pruned": (0.08, 0.0080),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_pruned_checkpoints_meet_targets(name):
    model, meta = zoo.load_pretrained(name)
    max_kept, max_error = SHIPPED[name]
    assert magnitude.kept_fraction(model) <= max_kept
    assert model.summary()["nonzero_params"] <= max_kept * model.num_params()
    X, y = load_arrays("test", norm=normalization_of(meta, None))
    error = evaluate(model, X, y)["error"]
    assert error <= max_error
    assert error == pytest.approx(meta["test"]["error"])
