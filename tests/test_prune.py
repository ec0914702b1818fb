"""Magnitude pruning: thresholds, masks through training, iterative schedule, sensitivity."""

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.nn import train
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.optim import SGD
from tinycompress.nn.train import fit
from tinycompress.pruning import iterative, magnitude


def tiny_mlp(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Flatten(), Dense(16, 12, rng=rng), ReLU(), Dense(12, 3, rng=rng)],
                      (1, 4, 4), "tiny")


def blobs(n=120, seed=0):
    """Three linearly separable classes of 4x4 images."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 1, 4, 4)) * 2
    X = (centres[y] + 0.5 * rng.standard_normal((n, 1, 4, 4))).astype(np.float32)
    return X, y


@pytest.mark.task_magnitude_prune
def test_magnitude_mask_and_thresholds():
    w = np.array([[0.1, -0.5], [2.0, -0.05]])
    assert (magnitude.magnitude_mask(w, 0.1) == np.array([[False, True], [True, False]])).all()
    # removing half of the entries removes the two smallest magnitudes
    t = magnitude.sparsity_threshold(w, 0.5)
    assert t == pytest.approx(0.1)
    assert magnitude.magnitude_mask(w, t).sum() == 2
    assert magnitude.sparsity_threshold(w, 0.0) < 0  # nothing removed
    # quality x std over the surviving weights only
    w2 = np.array([0.0, 0.0, 1.0, -1.0, 3.0])
    assert magnitude.quality_threshold(w2, 0.5) == pytest.approx(0.5 * np.std([1.0, -1.0, 3.0]))


@pytest.mark.task_magnitude_prune
@pytest.mark.parametrize("s", [0.3, 0.75, 0.9])
def test_per_layer_sparsity_is_reached(s):
    model = tiny_mlp()
    kept = magnitude.prune(model, sparsity=s)
    for lay in magnitude.prunable_layers(model):
        w = lay.params["W"]
        assert kept[lay.name] == pytest.approx(np.count_nonzero(w) / w.size)
        assert np.count_nonzero(w) == w.size - round(s * w.size)


@pytest.mark.task_magnitude_prune
def test_pruning_removes_the_smallest_weights():
    model = tiny_mlp()
    original = model.layer("fc1").params["W"].copy()
    magnitude.prune(model, per_layer={"fc1": 0.5})
    w = model.layer("fc1").params["W"]
    survivors, dead = np.abs(original[w != 0]), np.abs(original[w == 0])
    assert survivors.min() > dead.max()
    np.testing.assert_array_equal(w[w != 0], original[w != 0])  # survivors untouched
    assert "W" not in model.layer("fc2").constraints  # unlisted layers untouched


@pytest.mark.task_magnitude_prune
def test_global_threshold_is_shared():
    model = tiny_mlp()
    t = magnitude.global_threshold(model, 0.6)
    magnitude.prune(model, global_sparsity=0.6)
    assert magnitude.kept_fraction(model) == pytest.approx(0.4, abs=1 / 228)
    for lay in magnitude.prunable_layers(model):
        w = lay.params["W"]
        assert np.abs(w[w != 0]).min() > t


@pytest.mark.task_magnitude_prune
def test_masks_survive_training_and_pruned_weights_never_return():
    model = tiny_mlp()
    X, y = blobs()
    magnitude.prune(model, sparsity=0.8)
    masks = {lay.name: lay.constraints["W"].keep.copy() for lay in magnitude.prunable_layers(model)}
    opt = SGD(model, lr=0.1, momentum=0.9, weight_decay=1e-3)
    before = {n: model.layer(n).params["W"].copy() for n in masks}
    fit(model, X, y, epochs=3, batch_size=16, optimizer=opt, progress=False)
    for name, keep in masks.items():
        w = model.layer(name).params["W"]
        assert not w[~keep].any(), "a pruned weight came back"
        assert (w[keep] != before[name][keep]).any(), "the survivors did train"
        assert not opt.velocity[(name, "W")][~keep].any(), "momentum built up on a pruned weight"


@pytest.mark.task_magnitude_prune
def test_without_mask_pruned_weights_regrow():
    """The control: zeros alone (no constraint) do not stay zero, so the mask is what works."""
    model = tiny_mlp()
    X, y = blobs()
    magnitude.prune(model, sparsity=0.8)
    magnitude.remove_masks(model)
    fit(model, X, y, epochs=1, batch_size=16, optimizer=SGD(model, lr=0.1), progress=False)
    assert magnitude.kept_fraction(model) > 0.5


@pytest.mark.task_magnitude_prune
def test_pruning_again_keeps_old_zeros_and_masks_from_zeros(tmp_path):
    model = tiny_mlp()
    magnitude.prune(model, sparsity=0.5)
    dead = model.layer("fc1").params["W"] == 0
    magnitude.prune(model, quality=2.0)  # a rule that alone would keep some of the dead weights
    assert not model.layer("fc1").params["W"][dead].any()
    save_model(model, tmp_path / "m.npz")
    loaded, _ = load_model(tmp_path / "m.npz")
    kept = magnitude.masks_from_zeros(loaded)
    assert kept["fc1"] == pytest.approx(model.layer("fc1").constraints["W"].density)


def test_geometric_schedule():
    sched = iterative.geometric_schedule({"a": 0.92}, 3)
    kept = [1 - s["a"] for s in sched]
    assert kept[-1] == pytest.approx(0.08)
    assert kept[1] / kept[0] == pytest.approx(kept[2] / kept[1])
    resumed = iterative.geometric_schedule({"a": 0.96}, 2, start={"a": 0.92})
    assert 1 - resumed[0]["a"] == pytest.approx(np.sqrt(0.08 * 0.04))


@pytest.mark.task_magnitude_prune
def test_iterative_prune_reaches_target_and_undoes_a_bad_round():
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
def test_sensitivity_leaves_model_unchanged_and_degrades():
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
def test_layer_table_totals():
    model = tiny_mlp()
    magnitude.prune(model, per_layer={"fc1": 0.75})
    X, _ = blobs(20)
    rows = magnitude.layer_table(model, X)
    fc1, fc2, total = rows
    assert fc1["kept"] == pytest.approx(0.25, abs=1 / 192) and fc2["kept"] == 1.0
    assert total["weights"] == 16 * 12 + 12 * 3
    assert fc1["act_in"] == 1.0  # the raw inputs are dense
    assert fc2["multadds_kept"] == pytest.approx(fc2["act_in"])  # dense weights, ReLU zeros
    assert "| fc1 | 192 | 25.00% |" in magnitude.format_table(rows)


@pytest.mark.task_magnitude_prune
def test_run_recipe_numbers_rounds_and_resumes_from_zeros():
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
def test_run_recipe_stops_at_the_error_bound():
    X, y = blobs()
    model = tiny_mlp()
    fit(model, X, y, epochs=5, batch_size=16, optimizer=SGD(model, lr=0.05), progress=False)
    recipe = iterative.PruneRecipe({"fc1": 0.999, "fc2": 0.999}, rounds=3,
                               retrain=train.Recipe(epochs=1, batch_size=16, lr=0.01))
    results = iterative.run_recipe(model, recipe, X, y, X_val=X, y_val=y, max_error_increase=0.0,
                               progress=False)
    assert len(results) < 3  # 99.9% sparsity cannot keep the training error
    base = results[-1].kept if results else 1.0
    assert magnitude.kept_fraction(model) == pytest.approx(base)


@pytest.mark.task_magnitude_prune
def test_cli_prune(tmp_path, capsys):
    from tinycompress.cli import main

    out = tmp_path / "p.npz"
    assert main(["prune", "lenet-300-100", "--per-layer", "fc1=0.9,fc2=0.5", "--limit", "256",
                 "--retrain-epochs", "1", "--out", str(out), "--json"]) == 0
    model, meta = load_model(out)
    assert magnitude.current_sparsities(model) == pytest.approx(
        {"fc1": 0.9, "fc2": 0.5, "fc3": 0.0}, abs=1e-3)
    assert meta["prune_recipe"]["retrain"]["lr"] == pytest.approx(0.01)  # original / 10
    assert meta["test"]["n"] == 10_000 and len(meta["prune_rounds"]) == 1
    assert main(["prune", "lenet-300-100", "--per-layer", "fc1", "--out", str(out)]) == 2
    assert "NAME=SPARSITY" in capsys.readouterr().err


SHIPPED = {  # zoo name: (max weights kept, max test error), Han et al. 2015, Table 1
    "lenet-300-100-pruned": (0.08, 0.0164),
    "lenet5-pruned": (0.08, 0.0080),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_pruned_checkpoints_meet_targets(name):
    from tinycompress.cli import normalization_of
    from tinycompress.nn.data import load_arrays
    from tinycompress.nn.train import evaluate

    model, meta = zoo.load_pretrained(name)
    max_kept, max_error = SHIPPED[name]
    assert magnitude.kept_fraction(model) <= max_kept
    assert model.summary()["nonzero_params"] <= max_kept * model.num_params()
    X, y = load_arrays("test", norm=normalization_of(meta, None))
    error = evaluate(model, X, y)["error"]
    assert error <= max_error
    assert error == pytest.approx(meta["test"]["error"])
