"""SGD with momentum and weight decay against hand-computed updates, constraints honoured,
learning-rate schedules at known steps."""

import math

import numpy as np
import pytest

from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.model import Sequential
from tinycompress.nn.optim import SGD, constant, cosine


def one_dense() -> Sequential:
    """A 2 -> 1 dense layer in float64 with W = (1, -2), b = 0.3 and constant gradients."""
    model = Sequential([Dense(2, 1, name="fc", dtype=np.float64)], (2,))
    fc = model.layer("fc")
    fc.params["W"][:] = [[1.0], [-2.0]]
    fc.params["b"][:] = [0.3]
    fc.grads = {"W": np.array([[0.5], [0.25]]), "b": np.array([1.0])}
    return model


def test_two_steps_of_momentum_and_weight_decay_by_hand():
    # lr 0.1, momentum 0.9, decay 0.1:  g = grad + 0.1 w;  v = 0.9 v + g;  w -= 0.1 v
    # W[0]: g 0.5 + 0.1 = 0.6,    v 0.6,    w 0.94;    g 0.5 + 0.094 = 0.594,   v 1.134,  w 0.8266
    # W[1]: g 0.25 - 0.2 = 0.05,  v 0.05,   w -2.005;  g 0.25 - 0.2005 = 0.0495, v 0.0945,
    #       w -2.01445
    # b (no decay): v 1, b 0.2;  v 1.9, b 0.01
    model = one_dense()
    sgd = SGD(model, lr=0.1, momentum=0.9, weight_decay=0.1)
    fc = model.layer("fc")
    sgd.step()
    np.testing.assert_allclose(fc.params["W"], [[0.94], [-2.005]], rtol=1e-12)
    np.testing.assert_allclose(fc.params["b"], [0.2], rtol=1e-12)
    sgd.step()
    np.testing.assert_allclose(fc.params["W"], [[0.8266], [-2.01445]], rtol=1e-12)
    np.testing.assert_allclose(fc.params["b"], [0.01], rtol=1e-12)


class Recording:
    """A constraint that doubles the gradient and clips the weight to [-1.5, 1.5]."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def grad(self, g: np.ndarray) -> np.ndarray:
        self.seen.append(g.copy())
        return 2 * g

    def project(self, w: np.ndarray) -> np.ndarray:
        return np.clip(w, -1.5, 1.5)


def test_constraint_grad_sees_the_decayed_gradient_and_project_the_update():
    model = one_dense()
    fc = model.layer("fc")
    fc.constraints["W"] = constraint = Recording()
    SGD(model, lr=0.1, momentum=0.9, weight_decay=0.1).step()
    (seen,) = constraint.seen  # once, for W only (b has no constraint)
    np.testing.assert_allclose(seen, [[0.6], [0.05]], rtol=1e-12)  # grad + decay * w
    # w - lr * 2 g = (1 - 0.12, -2 - 0.01), then clipped: -2.01 -> -1.5
    np.testing.assert_allclose(fc.params["W"], [[0.88], [-1.5]], rtol=1e-12)
    np.testing.assert_allclose(fc.params["b"], [0.2], rtol=1e-12)


def test_parameters_without_gradients_are_left_alone():
    model = one_dense()
    fc = model.layer("fc")
    del fc.grads["b"]
    SGD(model, lr=0.1).step()
    np.testing.assert_array_equal(fc.params["b"], [0.3])
    np.testing.assert_allclose(fc.params["W"], [[0.95], [-2.025]], rtol=1e-12)


def test_velocity_restarts_when_a_parameter_changes_shape():
    """Filter pruning replaces a weight by a smaller one: its old velocity no longer applies."""
    model = one_dense()
    fc = model.layer("fc")
    sgd = SGD(model, lr=0.1, momentum=0.9)
    sgd.step()
    fc.params["W"], fc.grads["W"] = np.array([[1.0]]), np.array([[0.5]])
    sgd.step()
    np.testing.assert_allclose(fc.params["W"], [[0.95]], rtol=1e-12)  # no momentum carried


def test_weight_decay_applies_to_weights_only():
    model = Sequential([Conv2D(1, 2, 3), BatchNorm2D(2), Flatten(), Dense(8, 3)], (1, 4, 4))
    for layer in model.layers:
        for k, v in layer.params.items():
            layer.grads[k] = np.zeros_like(v)
    before = {(lay.name, k): v.copy() for lay, k, v in model.parameters()}
    SGD(model, lr=0.1, momentum=0.0, weight_decay=0.5).step()
    for layer, k, v in model.parameters():
        expected = before[(layer.name, k)] * (0.95 if k == "W" else 1.0)
        np.testing.assert_allclose(v, expected, rtol=1e-6)


def test_schedules_at_known_steps():
    s = cosine(0.1, 100)
    assert s(0) == pytest.approx(0.1) and s(50) == pytest.approx(0.05) and s(100) == 0.0
    assert s(1000) == 0.0  # held at the final rate after the last step
    assert s(25) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)), rel=1e-12)
    floor = cosine(0.1, 100, final_lr=0.01)
    assert floor(50) == pytest.approx(0.055) and floor(100) == pytest.approx(0.01)
    assert cosine(0.1, 0)(0) == pytest.approx(0.1)  # no steps: no division by zero
    assert constant(0.3)(0) == constant(0.3)(77) == 0.3
