"""Magnitude pruning's building blocks: thresholds, masks through training, the per-layer table."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.optim import SGD
from tinycompress.nn.train import fit
from tinycompress.pruning import magnitude


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
def test_per_layer_sparsity_is_reached(s, tiny_mlp):
    model = tiny_mlp()
    kept = magnitude.prune(model, sparsity=s)
    for lay in magnitude.prunable_layers(model):
        w = lay.params["W"]
        assert kept[lay.name] == pytest.approx(np.count_nonzero(w) / w.size)
        assert np.count_nonzero(w) == w.size - round(s * w.size)


def test_prunable_layers_are_the_weight_kinds(tiny_net):
    model = tiny_net()
    assert [lay.name for lay in magnitude.prunable_layers(model)] == ["conv1", "fc1", "fc2"]
    with pytest.raises(ShapeError, match="no weights to prune"):
        magnitude.prunable_layers(model, ["fc1", "r1"])


@pytest.mark.task_magnitude_prune
def test_pruning_removes_the_smallest_weights(tiny_mlp):
    model = tiny_mlp()
    original = model.layer("fc1").params["W"].copy()
    magnitude.prune(model, per_layer={"fc1": 0.5})
    w = model.layer("fc1").params["W"]
    survivors, dead = np.abs(original[w != 0]), np.abs(original[w == 0])
    assert survivors.min() > dead.max()
    np.testing.assert_array_equal(w[w != 0], original[w != 0])  # survivors untouched
    assert "W" not in model.layer("fc2").constraints  # unlisted layers untouched


@pytest.mark.task_magnitude_prune
def test_global_threshold_is_shared(tiny_mlp):
    model = tiny_mlp()
    t = magnitude.global_threshold(model, 0.6)
    magnitude.prune(model, global_sparsity=0.6)
    assert magnitude.kept_fraction(model) == pytest.approx(0.4, abs=1 / 228)
    for lay in magnitude.prunable_layers(model):
        w = lay.params["W"]
        assert np.abs(w[w != 0]).min() > t


@pytest.mark.task_magnitude_prune
def test_masks_survive_training_and_pruned_weights_never_return(tiny_mlp, blobs):
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
def test_without_mask_pruned_weights_regrow(tiny_mlp, blobs):
    """The control: zeros alone (no constraint) do not stay zero, so the mask is what works."""
    model = tiny_mlp()
    X, y = blobs()
    magnitude.prune(model, sparsity=0.8)
    magnitude.remove_masks(model)
    fit(model, X, y, epochs=1, batch_size=16, optimizer=SGD(model, lr=0.1), progress=False)
    assert magnitude.kept_fraction(model) > 0.5


@pytest.mark.task_magnitude_prune
def test_pruning_again_keeps_old_zeros_and_masks_from_zeros(tmp_path, tiny_mlp):
    model = tiny_mlp()
    magnitude.prune(model, sparsity=0.5)
    dead = model.layer("fc1").params["W"] == 0
    magnitude.prune(model, quality=2.0)  # a rule that alone would keep some of the dead weights
    assert not model.layer("fc1").params["W"][dead].any()
    save_model(model, tmp_path / "m.npz")
    loaded, _ = load_model(tmp_path / "m.npz")
    kept = magnitude.masks_from_zeros(loaded)
    assert kept["fc1"] == pytest.approx(model.layer("fc1").constraints["W"].density)


@pytest.mark.task_magnitude_prune
def test_layer_table_totals(tiny_mlp, blobs):
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
