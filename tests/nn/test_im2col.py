"""Output sizes, window views and the patch matrix against their definitions, and each
unfolding's adjoint by the dot-product identity <A x, y> = <x, A^T y>."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.im2col import (
    batch_last,
    col2im,
    conv_output_size,
    im2col,
    pad_hw,
    scatter_windows,
    windows,
)

CASES = [  # (N, C, H, W, K, stride, padding)
    (2, 3, 7, 7, 3, 1, 0),
    (1, 2, 7, 9, 3, 2, 1),  # batch of 1, non-square, stride 2, padding
    (2, 1, 8, 6, 5, 1, 2),
    (1, 3, 9, 8, 4, 3, 1),  # even kernel, stride 3: the last rows are never read
]


def test_conv_output_size():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(224, 3, 2, 1) == 112
    assert conv_output_size(7, 3, 2, 1) == 4  # 'same' padding, stride 2: ceil(7 / 2)
    assert conv_output_size(9, 4, 3, 1) == 3  # floor((9 + 2 - 4) / 3) + 1
    with pytest.raises(ShapeError, match="does not fit"):
        conv_output_size(3, 5)
    for kernel, stride, padding in ((0, 1, 0), (3, 0, 1), (3, 1, -1)):  # not a ZeroDivisionError
        with pytest.raises(ShapeError, match="kernel >= 1, stride >= 1 and padding >= 0"):
            conv_output_size(8, kernel, stride, padding)


def test_batch_last_is_a_padded_contiguous_copy(rand):
    x = rand(2, 3, 4, 5)
    xt = batch_last(x, 1)
    assert xt.shape == (3, 6, 7, 2) and xt.flags.c_contiguous
    np.testing.assert_array_equal(xt[:, 1:-1, 1:-1], x.transpose(1, 2, 3, 0))
    assert not xt[:, [0, -1]].any() and not xt[:, :, [0, -1]].any()


def unpack(case, rand):
    """The input of a case, its window parameters and its output size."""
    N, C, H, W, K, s, p = case
    return rand(N, C, H, W), K, s, p, conv_output_size(H, K, s, p), conv_output_size(W, K, s, p)


@pytest.mark.parametrize("case", CASES)
def test_im2col_columns_are_the_patches_and_col2im_its_adjoint(case, rand):
    x, K, s, p, Ho, Wo = unpack(case, rand)
    N, C = x.shape[:2]
    cols = im2col(x, K, s, p)
    assert cols.shape == (C * K * K, Ho * Wo * N)
    xp = pad_hw(x, p)
    for i, j, n in ((0, 0, 0), (Ho - 1, Wo - 1, N - 1), (Ho // 2, Wo - 1, 0)):
        patch = xp[n, :, i * s : i * s + K, j * s : j * s + K]  # rows ordered (c, p, q)
        np.testing.assert_array_equal(cols[:, (i * Wo + j) * N + n], patch.reshape(-1))
    g = rand(*cols.shape, seed=1)
    dx = col2im(g, x.shape, K, s, p)
    assert dx.shape == x.shape
    assert np.vdot(cols, g) == pytest.approx(np.vdot(x, dx), rel=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_windows_are_a_view_and_scatter_windows_its_adjoint(case, rand):
    x, K, s, p, Ho, Wo = unpack(case, rand)
    win = windows(x, K, s, p)
    assert win.shape == (*x.shape[:2], Ho, Wo, K, K)
    i, j = Ho - 1, Wo - 1
    np.testing.assert_array_equal(win[:, :, i, j],
                                  pad_hw(x, p)[:, :, i * s : i * s + K, j * s : j * s + K])
    if p == 0:
        assert np.shares_memory(win, x)  # a view: no window is copied
    g = rand(*win.shape, seed=1)
    dx = scatter_windows(g, x.shape, s, p)
    assert dx.shape == x.shape
    assert np.vdot(win, g) == pytest.approx(np.vdot(x, dx), rel=1e-12)
