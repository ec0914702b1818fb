"""The finite-difference checker itself: right on known gradients, input restored, scale-free."""

import numpy as np
import pytest

from tinycompress.nn.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_known_functions(rand):
    x = rand(3, 4)
    original = x.copy()
    cubic = numerical_gradient(lambda: float((x**3).sum()), x)
    np.testing.assert_allclose(cubic, 3 * x**2, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x, original)  # every perturbation undone
    A = rand(4, 4, seed=1)
    quadratic = numerical_gradient(lambda: float(x.reshape(-1)[:4] @ A @ x.reshape(-1)[:4]), x)
    np.testing.assert_allclose(quadratic.reshape(-1)[:4], (A + A.T) @ x.reshape(-1)[:4],
                               rtol=1e-7, atol=1e-8)
    assert not quadratic.reshape(-1)[4:].any()  # entries f does not read have no gradient


def test_rel_error_is_scale_free():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, a * (1 + 1e-6)) == pytest.approx(rel_error(1e8 * a, 1e8 * a * (1 + 1e-6)))
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0  # no division by zero
