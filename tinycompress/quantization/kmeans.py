"""One-dimensional k-means for weight sharing (Han, Mao & Dally, *Deep Compression*, ICLR 2016, §3).

Weight sharing replaces the n weights of a layer by k shared values (the centroids) and an
index per weight. The centroids minimise the within-cluster sum of squares

.. math::  \\min_{C} \\sum_{i=1}^{n} \\min_{k} (w_i - c_k)^2 ,

which Lloyd's algorithm solves locally by alternating an *assignment* step (each weight to its
nearest centroid) and an *update* step (each centroid to the mean of its weights).

In one dimension the problem has structure that a general k-means ignores:

* With sorted centroids ``c_0 <= ... <= c_{k-1}`` the nearest centroid of ``w`` is decided by
  the k - 1 midpoints ``m_j = (c_j + c_{j+1}) / 2`` alone: ``label(w) = #{j : m_j < w}``, one
  binary search, ``np.searchsorted(m, w)``. That is O(n log k) instead of the O(n k) distance
  matrix of :func:`assign_plain`.
* With the *data* sorted once (O(n log n)), every cluster is a contiguous run of the sorted
  weights, so one Lloyd iteration needs only the k - 1 run boundaries (``searchsorted`` of the
  midpoints into the data, O(k log n)) and prefix sums for the means. The n weights are touched
  once for the sort and once for the final labels, not once per iteration.

The initialisations are the paper's three (Fig. 4) plus k-means++:

``linear``   k points evenly spaced between min(w) and max(w) (the paper's winner: it keeps
             centroids at the rare large weights, which matter most);
``density``  k points evenly spaced on the empirical CDF (quantiles ``(j + 1/2) / k``);
``random``   k distinct weights drawn at random (Forgy);
``kmeans++`` Arthur & Vassilvitskii 2007: each next centroid is a weight drawn with probability
             proportional to its squared distance to the nearest centroid chosen so far.

Empty clusters (common with the linear init on long-tailed weights, whose evenly spaced
centroids in the sparse tails win nothing) waste a code: an index value no weight uses. A
centroid that wins no weight *splits* the cluster whose best split into two runs of sorted
weights lowers the objective most. Splitting a run of n weights with mean mu into a left part
(n_l weights, mean mu_l) and a right part (n_r, mu_r) lowers its sum of squares by exactly

.. math::  \\Delta = \\frac{n_l\\, n_r}{n_l + n_r} (\\mu_l - \\mu_r)^2

(the between-group term of the variance decomposition), which prefix sums of the sorted
weights give for every split point of every cluster in O(n); the old centroid takes the left
mean and the empty one the right mean. Several empty clusters split one after another, each
the best remaining split: the step of bisecting k-means (scikit-learn's ``BisectingKMeans``
splits the cluster of largest inertia), which 1-D makes exact and cheap. scikit-learn's Lloyd
instead moves an empty centroid onto a point far from its centre, and so did the first version
here, one worst-served weight at a time: that spends codes on lone outliers of the tails, and
can take every weight of a cluster, leaving it empty in turn. Each split strictly lowers the
objective, and the next assignment step can only lower it further. When no split lowers it
(every cluster holds copies of one value: fewer distinct weights than clusters) the empty
centroid is left where it is, and :attr:`KMeansResult.n_unused` counts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

INITS: tuple[str, ...] = ("linear", "density", "random", "kmeans++")
"""Names accepted by :func:`init_centroids`."""


RngLike = int | np.random.Generator
"""A seed or a generator: every random choice here takes one."""


def _as_1d(w: np.ndarray) -> np.ndarray:
    """Flatten ``w`` to float64 and reject empty or non-finite input."""
    x = np.asarray(w, dtype=np.float64).ravel()
    if x.size == 0:
        raise ShapeError("k-means needs at least one weight; got an empty array")
    if not np.all(np.isfinite(x)):
        raise ShapeError("k-means got NaN or infinite weights; check the model before clustering")
    return x


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ShapeError(f"number of clusters k must be a positive integer, got {k!r}")


def init_centroids(
    w: np.ndarray, k: int, method: str = "linear", rng: RngLike = 0
) -> np.ndarray:
    """Initial centroids for 1-D k-means.

    Parameters
    ----------
    w : ndarray, any shape
        The weights to cluster (flattened).
    k : int
        Number of centroids.
    method : {"linear", "density", "random", "kmeans++"}
        See the module docstring.
    rng : int or numpy.random.Generator
        Seed or generator for ``random`` and ``kmeans++`` (ignored by the deterministic two).

    Returns
    -------
    ndarray, shape (k,), float64, sorted ascending.
    """
    _check_k(k)
    x = _as_1d(w)
    gen = np.random.default_rng(rng)
    if method == "linear":
        c = np.linspace(x.min(), x.max(), k)
    elif method == "density":
        c = np.quantile(x, (np.arange(k) + 0.5) / k)
    elif method == "random":
        c = x[gen.choice(x.size, size=k, replace=k > x.size)]
    elif method == "kmeans++":
        c = _kmeans_plus_plus(x, k, gen)
    else:
        raise ValueError(f"unknown init {method!r}; choose one of {', '.join(INITS)}")
    return np.sort(c)


def _kmeans_plus_plus(x: np.ndarray, k: int, gen: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: D^2 sampling, O(n k)."""
    c = np.empty(k)
    # BEGIN SOLUTION kmeans-plus-plus
    c[0] = x[gen.integers(x.size)]
    d2 = (x - c[0]) ** 2
    for j in range(1, k):
        total = d2.sum()
        # All weights already on a centroid: any further choice is a duplicate.
        i = gen.integers(x.size) if total == 0 else gen.choice(x.size, p=d2 / total)
        c[j] = x[i]
        np.minimum(d2, (x - c[j]) ** 2, out=d2)
    # END SOLUTION
    return c


def assign_plain(w: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid by the full n x k distance matrix (the general-k-means way).

    ``labels[i] = argmin_k |w_i - c_k|``; ties go to the lower index. O(n k) time and memory.

    Parameters
    ----------
    w : ndarray, any shape
    centroids : ndarray, shape (k,)

    Returns
    -------
    ndarray of int64, shape ``w.shape``.
    """
    x = np.asarray(w, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    # BEGIN SOLUTION kmeans-assign-plain
    labels = np.argmin(np.abs(x[..., None] - c), axis=-1)
    # END SOLUTION
    return labels


def midpoints(centroids: np.ndarray) -> np.ndarray:
    """Decision boundaries ``m_j = (c_j + c_{j+1}) / 2`` of sorted centroids, shape (k - 1,)."""
    c = np.asarray(centroids, dtype=np.float64)
    if np.any(np.diff(c) < 0):
        raise ShapeError("centroids must be sorted ascending for midpoint assignment; use np.sort")
    return 0.5 * (c[:-1] + c[1:])


def assign_sorted(w: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid by binary search on the midpoints of sorted centroids, O(n log k).

    For sorted ``c`` the weight ``w`` is nearer to ``c_{j+1}`` than to ``c_j`` exactly when
    ``w > m_j``, and the midpoints are sorted too, so ``label(w) = #{j : m_j < w}``, which is
    ``np.searchsorted(m, w, side="left")``. A weight exactly on a midpoint goes to the lower
    centroid, as in :func:`assign_plain`.

    Parameters
    ----------
    w : ndarray, any shape
    centroids : ndarray, shape (k,), sorted ascending

    Returns
    -------
    ndarray of int64, shape ``w.shape``.
    """
    x = np.asarray(w, dtype=np.float64)
    return np.searchsorted(midpoints(centroids), x, side="left")


@dataclass
class KMeansResult:
    """Outcome of :func:`kmeans_1d`.

    Attributes
    ----------
    centroids : ndarray, shape (k,), float64, sorted ascending
    labels : ndarray of int64, shape of the input (index of each weight's centroid)
    inertia : float
        Within-cluster sum of squares ``sum_i (w_i - c_{label_i})^2``.
    n_iter : int
        Lloyd iterations run.
    converged : bool
        True if the assignments stopped changing or the largest centroid move fell below
        ``tol`` times the data range before ``max_iter``.
    n_relocated : int
        Empty clusters given the best split of another cluster, summed over iterations.
    n_unused : int
        Centroids no weight is assigned to in ``labels``: 0 unless the weights hold fewer than
        k distinct values.
    """

    centroids: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    n_relocated: int
    n_unused: int = 0


# A cluster-statistics step: centroids -> (assignment key, counts, sums, labels of the data order).
_Stats = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[], np.ndarray]]]


def _plain_stats(x: np.ndarray) -> _Stats:
    """Lloyd statistics from the n x k assignment; key = the labels themselves."""

    def stats(c: np.ndarray):
        labels = assign_plain(x, c)
        counts = np.bincount(labels, minlength=c.size)
        sums = np.bincount(labels, weights=x, minlength=c.size)
        return labels, counts, sums, lambda: labels

    return stats


def _sorted_stats(xs: np.ndarray) -> _Stats:
    """Lloyd statistics on sorted data: clusters are runs, found by k - 1 binary searches.

    Cluster j holds ``xs[b_j : b_{j+1}]`` with ``b_j = #{i : xs_i <= m_{j-1}}`` (same tie rule as
    :func:`assign_sorted`), its size is ``b_{j+1} - b_j`` and its sum ``P[b_{j+1}] - P[b_j]`` with
    the prefix sums ``P``. The key (the boundaries) determines the assignment completely.
    """
    prefix = np.concatenate([[0.0], np.cumsum(xs)])

    def stats(c: np.ndarray):
        inner = np.searchsorted(xs, midpoints(c), side="right")
        bounds = np.concatenate([[0], inner, [xs.size]])
        counts = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        return bounds, counts, sums, lambda: np.repeat(np.arange(c.size), counts)

    return stats


def best_split(prefix: np.ndarray, xs: np.ndarray, start: int, end: int) -> tuple[float, int]:
    r"""The split of the sorted run ``xs[start:end]`` that lowers its sum of squares most.

    For a split point s (``start < s < end``, between two different values) the run's sum of
    squares falls by :math:`\Delta(s) = \frac{n_l n_r}{n_l + n_r}(\mu_l - \mu_r)^2` with
    :math:`n_l = s - start`, :math:`n_r = end - s` and the means from the prefix sums
    ``prefix[i] = xs[:i].sum()``. O(end - start).

    Returns ``(gain, s)``: the largest :math:`\Delta` and its first split point, or
    ``(0.0, start)`` if the run holds a single value.
    """
    cut = np.arange(start + 1, end)
    cut = cut[xs[cut - 1] < xs[cut]]
    if cut.size == 0:
        return 0.0, start
    n_l, n_r = cut - start, end - cut
    mu_l = (prefix[cut] - prefix[start]) / n_l
    mu_r = (prefix[end] - prefix[cut]) / n_r
    gain = n_l * n_r / (n_l + n_r) * (mu_l - mu_r) ** 2
    i = int(np.argmax(gain))
    return float(gain[i]), int(cut[i])


def _relocate_empty(
    x: np.ndarray, c: np.ndarray, labels: np.ndarray, empty: np.ndarray
) -> tuple[np.ndarray, int]:
    """Give each empty centroid the best split of a cluster (see the module docstring).

    ``labels`` is the assignment whose cluster means ``c[~empty]`` are; in 1-D each cluster is
    a run of the sorted weights, so sorting ``x`` (stably: the result does not depend on the
    order of ``x``, and the fast and plain paths split alike) turns the clusters into runs.
    Greedy: each empty centroid in turn takes the right part of the best split over all runs,
    the split run's centroid the left part's mean; the two parts' own best splits are then
    computed, O(n) in all. Stops early if no split lowers the objective. Returns the sorted
    centroids and how many empty ones were given a split.
    """
    order = np.argsort(x, kind="stable")
    xs, run_label = x[order], labels[order]
    prefix = np.concatenate([[0.0], np.cumsum(xs)])
    edges = np.concatenate([[0], np.flatnonzero(np.diff(run_label)) + 1, [xs.size]])
    runs = [(int(a), int(e), int(run_label[a])) for a, e in zip(edges[:-1], edges[1:], strict=True)]
    splits = [best_split(prefix, xs, a, e) for a, e, _ in runs]
    c = c.copy()
    moved = 0
    for slot in np.flatnonzero(empty):
        j = max(range(len(runs)), key=lambda r: splits[r][0])  # first best: deterministic
        gain, cut = splits[j]
        if gain <= 0:
            break
        a, e, owner = runs[j]
        c[owner] = (prefix[cut] - prefix[a]) / (cut - a)
        c[slot] = (prefix[e] - prefix[cut]) / (e - cut)
        runs[j : j + 1] = [(a, cut, owner), (cut, e, int(slot))]
        splits[j : j + 1] = [best_split(prefix, xs, a, cut), best_split(prefix, xs, cut, e)]
        moved += 1
    return np.sort(c), moved


def _start(x: np.ndarray, k: int, init: str | np.ndarray, rng: RngLike) -> np.ndarray:
    """Starting centroids: an :data:`INITS` name, or explicit values (sorted, checked)."""
    if isinstance(init, str):
        return init_centroids(x, k, init, rng)
    c = np.sort(np.asarray(init, dtype=np.float64).ravel())
    if c.shape != (k,):
        raise ShapeError(f"explicit init must hold k={k} centroids, got shape {c.shape}")
    return c


def _lloyd(
    data: np.ndarray, stats: _Stats, c: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, int, bool, int]:
    """Lloyd iterations from centroids ``c`` with the stopping rule of :func:`kmeans_1d`.

    Returns the final centroids, the iterations run, whether it converged, and how many empty
    clusters were relocated.
    """
    span = float(data.max() - data.min())
    prev_key: np.ndarray | None = None
    converged, n_relocated, n_iter = False, 0, 0
    while n_iter < max_iter:
        n_iter += 1
        key, counts, sums, labels = stats(c)
        if prev_key is not None and np.array_equal(key, prev_key):
            converged = True  # same assignment as the last update: c is already its mean
            break
        new = c.copy()
        full = counts > 0
        new[full] = sums[full] / counts[full]
        if not full.all():
            new, moved = _relocate_empty(data, new, labels(), ~full)
            n_relocated += moved
        new = np.sort(new)
        shift = float(np.max(np.abs(new - c)))
        c, prev_key = new, key
        if shift <= tol * span:
            converged = True
            break
    return c, n_iter, converged, n_relocated


def kmeans_1d(
    w: np.ndarray,
    k: int,
    init: str | np.ndarray = "linear",
    rng: RngLike = 0,
    max_iter: int = 300,
    tol: float = 1e-8,
    fast: bool = True,
) -> KMeansResult:
    """Lloyd's algorithm in one dimension.

    Each iteration assigns every weight to its nearest centroid and moves every centroid to the
    mean of its weights, ``c_k <- (1 / |S_k|) sum_{i in S_k} w_i``; the within-cluster sum of
    squares never increases. It stops when the assignment is unchanged (a fixed point), when
    the largest centroid move is at most ``tol * (max(w) - min(w))``, or after ``max_iter``.

    Parameters
    ----------
    w : ndarray, any shape
        Weights to cluster; they are flattened and clustered in float64.
    k : int
        Number of clusters.
    init : str or ndarray of shape (k,)
        One of :data:`INITS`, or explicit starting centroids.
    rng : int or numpy.random.Generator
        Seed or generator for the random initialisations.
    max_iter, tol :
        Stopping rule, see above.
    fast : bool
        True: sorted data + binary search (O(n log n) once, then O(k log n) per iteration).
        False: the n x k distance matrix every iteration (for teaching and testing).

    Returns
    -------
    KMeansResult
        ``labels`` has the shape of ``w``.
    """
    _check_k(k)
    x = _as_1d(w)
    data = np.sort(x) if fast else x
    stats = _sorted_stats(data) if fast else _plain_stats(data)
    c, n_iter, converged, n_relocated = _lloyd(data, stats, _start(x, k, init, rng), max_iter,
                                               tol)
    labels = (assign_sorted if fast else assign_plain)(x, c)
    inertia = float(np.sum((x - c[labels]) ** 2))
    return KMeansResult(
        centroids=c,
        labels=labels.reshape(np.shape(w)),
        inertia=inertia,
        n_iter=n_iter,
        converged=converged,
        n_relocated=n_relocated,
        n_unused=int(k - np.unique(labels).size),
    )
