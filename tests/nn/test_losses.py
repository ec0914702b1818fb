"""Softmax cross-entropy against the direct formula, its gradient by finite differences,
stability on large logits, and its shape checks."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.losses import softmax, softmax_cross_entropy


def direct_loss(z: np.ndarray, y: np.ndarray) -> float:
    """-mean log(exp(z_y) / sum_k exp(z_k)), as written (only safe for small logits)."""
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def test_loss_matches_the_direct_formula(rand):
    z, y = rand(6, 4) * 3, np.array([0, 3, 1, 1, 2, 0])
    loss, _ = softmax_cross_entropy(z, y)
    assert loss == pytest.approx(direct_loss(z, y), rel=1e-12)
    uniform, _ = softmax_cross_entropy(np.zeros((3, 5)), np.array([0, 2, 4]))
    assert uniform == pytest.approx(np.log(5), rel=1e-12)  # equal scores: log K


def test_gradient_matches_finite_differences(rand):
    z, y = rand(4, 5) * 10, np.array([0, 4, 2, 2])
    _, dz = softmax_cross_entropy(z, y)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z)
    assert rel_error(dz, numeric) < 1e-7
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-15)  # p sums to 1, minus one 1


def test_large_logits_stay_finite(rand):
    loss, dz = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0) and np.isfinite(dz).all()
    np.testing.assert_allclose(dz, [[1.0, -1.0]])
    z, y = rand(3, 4), np.array([1, 0, 3])
    shifted, _ = softmax_cross_entropy(z + 1e4, y)  # exp(1e4) overflows, the shift does not
    assert shifted == pytest.approx(softmax_cross_entropy(z, y)[0], rel=1e-9)
    p = softmax(np.array([[1e4, 0.0, -1e4]]))
    np.testing.assert_array_equal(p, [[1.0, 0.0, 0.0]])


def test_gradient_keeps_the_logits_dtype(rand):
    _, dz = softmax_cross_entropy(rand(3, 4).astype(np.float32), np.array([0, 1, 2]))
    assert dz.dtype == np.float32


@pytest.mark.parametrize("logits,labels,message", [
    (np.zeros(4), np.zeros(4, int), "logits must be"),  # 1-D logits
    (np.zeros((4, 3)), np.zeros(3, int), "logits must be"),  # one label short
    (np.zeros((4, 3)), np.zeros((4, 1), int), "logits must be"),  # labels as a column
    (np.zeros((2, 3)), np.array([0, 3]), r"labels must lie in \[0, 3\)"),
    (np.zeros((2, 3)), np.array([-1, 0]), r"labels must lie in \[0, 3\)"),
])
def test_shape_errors(logits, labels, message):
    with pytest.raises(ShapeError, match=message):
        softmax_cross_entropy(logits, labels)
