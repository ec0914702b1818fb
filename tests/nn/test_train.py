"""Training loop: determinism, learning on real data, the NaN guard, constraints."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError, TrainingDivergedError
from tinycompress.models.lenet import lenet_300_100
from tinycompress.nn.data import load_arrays
from tinycompress.nn.optim import SGD
from tinycompress.nn.train import Recipe, evaluate, fit, train_with_recipe


@pytest.fixture(scope="module")
def mnist_small():
    X, y = load_arrays("train", limit=1024)
    return X, y


def test_same_seed_same_weights(mnist_small):
    X, y = mnist_small
    recipe = Recipe(epochs=1, batch_size=64, lr=0.05, shift=1)
    weights = []
    for _ in range(2):
        model = lenet_300_100(seed=3)
        train_with_recipe(model, X[:256], y[:256], recipe, seed=11, progress=False)
        weights.append([p.copy() for _, _, p in model.parameters()])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    other = lenet_300_100(seed=3)
    train_with_recipe(other, X[:256], y[:256], recipe, seed=12, progress=False)
    assert not np.array_equal(other.layer("fc1").params["W"], weights[0][0])


def test_training_learns_mnist(mnist_small):
    X, y = mnist_small
    model = lenet_300_100()
    before = evaluate(model, X, y)["accuracy"]
    history = fit(model, X, y, epochs=3, batch_size=64, optimizer=SGD(model, lr=0.05, momentum=0.9),
                  progress=False)
    assert history[-1].loss < history[0].loss
    assert evaluate(model, X, y)["accuracy"] > max(0.9, before + 0.5)


def test_nan_loss_raises_clear_error(mnist_small):
    X, y = mnist_small
    model = lenet_300_100()
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        fit(model, X[:256], y[:256], epochs=2, batch_size=64,
            optimizer=SGD(model, lr=1e6, momentum=0.9), progress=False)
    Xbad = X[:64].copy()
    Xbad[3, 0, 5, 5] = np.nan
    with pytest.raises(TrainingDivergedError):
        fit(lenet_300_100(), Xbad, y[:64], epochs=1, batch_size=64,
            optimizer=SGD(model, lr=0.01), progress=False)


def test_fit_checks_shapes(mnist_small):
    X, y = mnist_small
    with pytest.raises(ShapeError):
        fit(lenet_300_100(), X[:10], y[:9], epochs=1, batch_size=4,
            optimizer=SGD(lenet_300_100()), progress=False)


class HalfMask:
    """A minimal constraint: the first half of the weights is frozen at zero."""

    def __init__(self, shape):
        self.mask = np.ones(shape, np.float32)
        self.mask.reshape(-1)[: self.mask.size // 2] = 0

    def grad(self, g):
        return g * self.mask

    def project(self, w):
        return w * self.mask


def test_optimizer_honours_constraints(mnist_small):
    X, y = mnist_small
    model = lenet_300_100()
    fc1 = model.layer("fc1")
    fc1.constraints["W"] = HalfMask(fc1.params["W"].shape)
    fc1.params["W"] *= fc1.constraints["W"].mask
    fit(model, X[:256], y[:256], epochs=1, batch_size=32,
        optimizer=SGD(model, lr=0.05, momentum=0.9, weight_decay=1e-3), progress=False)
    w = fc1.params["W"].reshape(-1)
    assert (w[: w.size // 2] == 0).all() and np.count_nonzero(w[w.size // 2:]) > 0
