"""Pruned weights that may come back (dynamic pruning with feedback)."""

import copy

import numpy as np
import pytest

from tinycompress.nn.optim import SGD
from tinycompress.nn.train import fit
from tinycompress.pruning import magnitude, splicing


def test_top_k_keeps_exactly_k_even_with_ties():
    a = np.array([[3.0, 1.0, 1.0], [1.0, 0.0, 2.0]])
    assert splicing.top_k(a, 3).sum() == 3
    assert splicing.top_k(a, 3)[0, 0] and splicing.top_k(a, 3)[1, 2]
    assert splicing.top_k(a, 0).sum() == 0 and splicing.top_k(a, 6).all()


@pytest.mark.task_magnitude_prune  # masks and pruning are the student's
def test_a_pruned_weight_the_loss_needs_comes_back():
    """Least squares on y = 3 x1, with the useful weight pruned at the start: a plain mask keeps
    it at zero for ever; feedback lets its gradient build up until it is spliced back in and
    the useless kept weight drops out."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = 3.0 * X[:, 1]

    def train(constraint):
        w = constraint.project(np.array([0.5, 0.1]))
        for _ in range(300):
            g = X.T @ (X @ w - y) / len(X)
            w = constraint.project(w - 0.05 * constraint.grad(g))
        return w

    keep = np.array([True, False])
    np.testing.assert_array_equal(train(magnitude.Mask(keep))[1], 0.0)
    loop = splicing.Feedback(np.array([0.5, 0.1]), keep, every=4)
    w = train(loop)
    assert loop.keep.tolist() == [False, True] and loop.k == 1
    np.testing.assert_allclose(w, [0.0, 3.0], atol=1e-3)


@pytest.mark.task_magnitude_prune  # masks and pruning are the student's
def test_without_a_new_choice_feedback_trains_exactly_as_a_mask(tiny_mlp, blobs):
    """If the mask is never chosen again, forward passes see the same weights, and the kept
    entries get the same updates: the trained kept weights are identical."""
    X, y = blobs(96, 1)
    plain = tiny_mlp(3)
    magnitude.prune(plain, sparsity=0.7)
    spliced = copy.deepcopy(plain)
    dense = {lay.name: lay.params["W"] + 0.01 for lay in magnitude.prunable_layers(plain)}
    for model, every in ((plain, None), (spliced, 10**9)):
        optimizer = SGD(model, 0.05, momentum=0.9, weight_decay=5e-4)
        if every is None:
            fit(model, X, y, epochs=3, batch_size=16, optimizer=optimizer, progress=False)
        else:
            with splicing.feedback(model, dense, every):
                fit(model, X, y, epochs=3, batch_size=16, optimizer=optimizer, progress=False)
    for a, b in zip(magnitude.prunable_layers(plain), magnitude.prunable_layers(spliced),
                    strict=True):
        np.testing.assert_array_equal(a.params["W"], b.params["W"])
        assert isinstance(b.constraints["W"], magnitude.Mask)


@pytest.mark.task_magnitude_prune  # masks and pruning are the student's
@pytest.mark.parametrize("every", [1, 5])
def test_splicing_moves_the_mask_but_keeps_the_count(tiny_mlp, blobs, every):
    X, y = blobs(96, 2)
    model = tiny_mlp(4)
    magnitude.prune(model, sparsity=0.8)
    masks = {lay.name: lay.constraints["W"].keep.copy() for lay in magnitude.prunable_layers(model)}
    dense = {lay.name: np.random.default_rng(5).standard_normal(lay.params["W"].shape)
             for lay in magnitude.prunable_layers(model)}
    with splicing.feedback(model, dense, every):
        fit(model, X, y, epochs=2, batch_size=16, optimizer=SGD(model, 0.05), progress=False)
    moved = 0
    for lay in magnitude.prunable_layers(model):
        keep = lay.constraints["W"].keep
        assert keep.sum() == masks[lay.name].sum()  # the same number kept
        assert np.all(lay.params["W"][~keep] == 0)  # and the weights follow the last mask
        moved += int((keep != masks[lay.name]).sum())
    assert moved > 0  # started from other dense weights, the mask follows them
