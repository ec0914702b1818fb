"""The task registry: the chapters, every exercise task with its hints, and lookups by id.

:data:`TASKS` is the one source of the tasks' pytest marks: the root ``conftest.py`` registers
:attr:`Task.marker_line` of each (``pyproject.toml`` lists none), and the tests check that the
``task_*`` marks used by the test suite are exactly those of :data:`TASKS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tinycompress.errors import ExerciseError

CHAPTERS: tuple[str, ...] = (
    "01_convolutions",
    "02_mobilenet",
    "03_pruning",
    "04_quantisation",
    "05_huffman",
    "06_deep_compression",
    "07_inference",
)
"""Chapter names, equal to the notebook file stems under ``chapters/``."""

TASK_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""A task id: lower-case words (letters and digits) joined by dashes."""


@dataclass(frozen=True)
class Task:
    """One exercise: an id, its chapter, what to implement, and hints for each of its functions.

    ``hints`` maps the qualified name of every function holding one of the task's regions
    (``conv2d_forward_naive``, ``Class.method``) to the lines of advice its stub shows as
    comments: the equation, the shapes, the helper to call, never the solution's own lines.
    """

    id: str
    chapter: str
    description: str
    hints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def mark(self) -> str:
        """The pytest mark of the task's tests: ``task_<id>``, dashes turned into underscores."""
        return "task_" + self.id.replace("-", "_")

    @property
    def command(self) -> str:
        """The command that checks the task."""
        return f"pytest -m {self.mark}"

    @property
    def marker_line(self) -> str:
        """The task's pytest marker (``name: help``), registered by the root ``conftest.py``."""
        return f"{self.mark}: exercise {self.id} ({self.chapter}): {self.description}"

    @property
    def message(self) -> str:
        """The text of the stub's ``NotImplementedError``."""
        return f"task {self.id}: implement {self.description}; check with: {self.command}"


TASKS: tuple[Task, ...] = (
    Task(
        "conv-forward-naive",
        "01_convolutions",
        "the convolution forward pass as loops over output positions",
        {"conv2d_forward_naive": (
            "y[n, f, i, j] = sum over c, p, q of xp[n, c, i*S + p, j*S + q] * W[f, c, p, q],",
            "with S = stride and xp the zero-padded input (N, C, H + 2P, W + 2P) given above.",
            "Loop over the output pixels (i in range(Ho), j in range(Wo)). The input under the",
            "kernel is the window xp[:, :, i*S : i*S + K, j*S : j*S + K], shape (N, C, K, K).",
            "Contract its axes (1, 2, 3) with the axes (1, 2, 3) of W (F, C, K, K):",
            "np.tensordot with axes=, giving (N, F), the column out[:, :, i, j].",
            "The bias is added by the return line below.",
        )},
    ),
    Task(
        "depthwise-forward-naive",
        "01_convolutions",
        "the depthwise convolution forward pass as loops over output positions",
        {"depthwise_forward_naive": (
            "y[n, c, i, j] = sum over p, q of xp[n, c, i*S + p, j*S + q] * W[c, 0, p, q]:",
            "every channel has its own K x K filter and channels are never mixed.",
            "Loop over the output pixels (i in range(Ho), j in range(Wo)). The window",
            "xp[:, :, i*S : i*S + K, j*S : j*S + K] is (N, C, K, K) (S = stride); multiply it",
            "elementwise by the filters W[:, 0] (C, K, K), which broadcast over the batch, and",
            "sum the two window axes: the (N, C) values of out[:, :, i, j].",
            "The bias is added by the return line below.",
        )},
    ),
    Task(
        "conv-multadds",
        "01_convolutions",
        "the MultAdds of a standard convolution, K K M N Ho Wo",
        {"conv_multadds": (
            "Every output value (one of N channels at one of Ho x Wo pixels) is a sum over a",
            "K x K window of all M input channels: K*K*M multiply-accumulates each.",
            "count is the total, a Python int (wo already defaults to ho).",
        )},
    ),
    Task(
        "batchnorm-backward",
        "02_mobilenet",
        "the BatchNorm input gradient through the batch mean and variance",
        {"batchnorm_backward": (
            "Given above: xhat = (x - mu) / sigma and dxhat = dout * gamma, both (N, C, H, W),",
            "inv_std = 1 / sigma (C,), axes = (0, 2, 3) and c, an index that broadcasts a",
            "(C,) array over (C, H, W) (write a[c]).",
            "With m = N*H*W values per channel (dout.size // C):",
            "dx = 1 / (m sigma) * (m dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),",
            "both sums per channel over axes, (C,) arrays broadcast back with [c].",
            "dx has the shape of dout.",
        )},
    ),
    Task(
        "avgpool-backward",
        "02_mobilenet",
        "the average-pooling backward pass, 1/K^2 of each window's gradient",
        {"avgpool_backward": (
            "A window's output is the mean of its K*K inputs (K = kernel), so each of them gets",
            "dy/dx = 1/K^2 of that window's upstream gradient dout (N, C, Ho, Wo).",
            "dwin is the gradient of every window element, shape (N, C, Ho, Wo, K, K): dout",
            "divided by K*K, with two new trailing axes ([..., None, None]), broadcast to",
            "K x K (np.broadcast_to: no copy). scatter_windows below adds the overlapping",
            "windows back into the (N, C, H, W) input gradient.",
        )},
    ),
    Task(
        "magnitude-prune",
        "03_pruning",
        "magnitude pruning: threshold q x std, mask |w| > t, mask-preserving update",
        {
            "masked": (
                "out is a where keep is True and an exact zero where it is False, in a's dtype",
                "(a float32 gradient stays float32): np.where with a 0-d zero of a.dtype.",
            ),
            "magnitude_mask": (
                "A weight survives iff |w| > t, strictly: a weight equal to the threshold is",
                "pruned. keep is that boolean array, of w's shape (np.abs).",
            ),
            "quality_threshold": (
                "t = quality * sigma, sigma the standard deviation of the nonzero weights only",
                "(select them with a boolean index): pruned weights are exactly 0 and would",
                "shrink sigma round after round. With no nonzero weight, t is 0.0.",
            ),
        },
    ),
    Task(
        "filter-l1-ranking",
        "03_pruning",
        "L1-norm filter ranking and the choice of filters to keep",
        {
            "filter_l1_norms": (
                "s_j = sum of |W| over every axis but axis: a Conv2D W (F, C, K, K) with",
                "axis 0 gives one norm per filter, (F,); a Dense W (D, M) with axis 1, (M,).",
                ".sum(axis=...) takes a tuple of axes: build it from range(w.ndim).",
                "norms is the resulting 1-D array.",
            ),
            "filters_to_keep": (
                "Order the filter indices by norm, largest first, equal norms in index order",
                "(np.argsort of the negated norms with a stable sort, kind='stable').",
                "keep is the first n_keep of that order, sorted back ascending (np.sort).",
            ),
        },
    ),
    Task(
        "csr-matvec-naive",
        "03_pruning",
        "the CSR matrix-vector product, one row at a time",
        {"csr_matvec_naive": (
            "Row i's nonzeros are the slice from a.indptr[i] to a.indptr[i + 1] of",
            "a.data (their values) and of a.indices (their columns); an empty row is an",
            "empty slice and keeps y[i] = 0.",
            "y[i] = sum over that slice of data[k] * x[indices[k]]: the dot product of the",
            "row's values with the entries of x they multiply (fancy-index x, then np.dot).",
            "Fill y (a.shape[0],) one row at a time.",
        )},
    ),
    Task(
        "lower-hull",
        "03_pruning",
        "the lower convex hull of a drop curve, left to right",
        {"lower_hull": (
            "Walk the points i = 0 .. len(s) - 1 left to right, keeping the hull so far as a",
            "stack of indices (hull, given above). Before pushing i, pop the top b (with a",
            "under it) while b lies on or above the chord from a to i:",
            "(d_b - d_a) (s_i - s_a) >= (d_i - d_a) (s_b - s_a), the chord's slope compared",
            "without a division (s is ascending, so s_i - s_a > 0).",
            "Stop popping when fewer than two indices are left or b lies below the chord,",
            "then push i. The hull's slopes then increase: each segment is steeper.",
        )},
    ),
    Task(
        "fold-dead-units",
        "03_pruning",
        "folding the constant output of a unit without inputs into the next layer's bias",
        {
            "_clean": (
                "A unit j without incoming weights outputs the constant a_j whatever the",
                "input: dead.value (units,), ReLU(b_j) after a ReLU. A constant 1 on unit j",
                "adds dead.per_unit[j] (outputs,) to the consumer's outputs, so the units in",
                "no_in add delta_m = sum over j in no_in of a_j * per_unit[j, m]: select the",
                "no_in rows of both (boolean index) and contract over the units (@).",
                "delta is (outputs,), float64.",
            ),
            "_fold": (
                "b_m += delta_m: the consumer's bias b (a float32 array, say) plus delta,",
                "summed in float64 (b.astype) and stored back in b's own dtype under",
                'consumer.params["b"].',
            ),
        },
    ),
    Task(
        "kmeans-assign-plain",
        "04_quantisation",
        "nearest-centroid assignment with the n x k distance matrix",
        {"assign_plain": (
            "Given above: x, the weights as float64 (any shape), and c, the centroids (k,).",
            "Give x a trailing axis (x[..., None]) so that x - c broadcasts to the distance",
            "array |x_i - c_k| of shape (*w.shape, k).",
            "labels is the index of the smallest distance along that last axis (np.argmin,",
            "which returns the first minimum: ties go to the lower index), shape w.shape.",
        )},
    ),
    Task(
        "kmeans-plus-plus",
        "04_quantisation",
        "k-means++ seeding by D^2 sampling",
        {"_kmeans_plus_plus": (
            "c[0]: a weight drawn uniformly, x[gen.integers(x.size)].",
            "Keep d2 (n,): the squared distance of every weight to its nearest centroid so far.",
            "Each next c[j], j = 1 .. k-1, is x[i] with i drawn with probability d2 / d2.sum()",
            "(gen.choice(x.size, p=...)); if d2.sum() is 0, every weight already sits on a",
            "centroid: draw i uniformly instead. Then lower d2 to the distance to the new",
            "centroid where that is closer (np.minimum, with out= to update in place).",
            "Draw only from gen, so that a seed gives the same centroids every time.",
        )},
    ),
    Task(
        "centroid-grad",
        "04_quantisation",
        "the centroid gradient, a grouped sum of the weight gradients",
        {"centroid_grad": (
            "dL/dC_k = sum of dW at the positions whose cluster index is k and whose mask is",
            "True (Eq. 3: the gradients are grouped by colour and summed).",
            "shared.indices (dW's shape) holds the cluster of every weight, shared.mask the",
            "survivors (a boolean array) and shared.k the number of clusters.",
            "One np.bincount over the surviving entries, with weights= and minlength=, gives",
            "all k sums at once. dC is (k,), float64, 0 for an unused cluster.",
        )},
    ),
    Task(
        "linear-quantize",
        "04_quantisation",
        "uniform quantisation: scale, zero point and rounded integers",
        {"linear_quantize": (
            "Given above: x (W as float64), the integer range qmin..qmax and the real range",
            "lo <= 0 <= hi.",
            "scale = (hi - lo) / (qmax - qmin), or 1.0 when hi == lo (an all-zero tensor).",
            "zero_point = round(qmin - lo / scale), clipped to [qmin, qmax], as a Python int.",
            "q = round(x / scale) + zero_point, clipped to [qmin, qmax] (np.round, np.clip),",
            "still a float array: the return line casts it to int8 or int16.",
        )},
    ),
    Task(
        "huffman-decode-bitwise",
        "05_huffman",
        "the readable bit-by-bit Huffman decoder",
        {"decode_bitwise": (
            "Given above, as lists: bits (nbits values 0 or 1) and, per code length l,",
            "first[l] = F_l (the first word), count[l] = N_l (words of that length) and",
            "offset[l] (where they start in symbols, the symbols sorted by code).",
            "For each of the n symbols, start from an empty word (value 0, length 0); read",
            "bits[pos] into word = 2 word + bit, add 1 to length and to pos, until",
            "word - F_l < N_l (l = length);",
            "then out[i] is symbols[offset_l + word - F_l].",
            "Raise FormatError when length reaches code.max_length without a match (no code",
            "word matches) and when pos reaches nbits inside a word (the stream ends early).",
        )},
    ),
    Task(
        "entropy",
        "05_huffman",
        "the Shannon entropy of symbol counts in bits per symbol",
        {"entropy": (
            "Given above: c, the nonzero counts as float64 (at least one).",
            "p_s = c_s / sum(c), and h = -sum of p_s log2 p_s (np.log2), in bits per symbol.",
        )},
    ),
    Task(
        "arith-binary-symbol",
        "05_huffman",
        "encode and decode one binary symbol of probability p: arithmetic coding's interval "
        "narrowing",
        {
            "encode_symbol": (
                "The interval is [low, low + width); p0 / 4096 is the probability of a 0.",
                "Split it at bound: width shifted right by PROB_BITS, then times p0 (shifting",
                "first keeps the product below 2^32). A 0 keeps the lower part: width becomes",
                "bound, low stays.",
                "A 1 keeps the upper part: low moves up by bound and width loses bound.",
                "Return the narrowed (low, width); low may pass 2^32, the caller carries it.",
            ),
            "decode_symbol": (
                "code is where the code value lies inside [0, width). Split at the same bound",
                "as encode_symbol. code below bound: the bit was 0 and width becomes bound.",
                "Otherwise the bit was 1: take bound off both code and width, so that code",
                "stays the offset from the new interval's low end.",
                "Return (bit, code, width).",
            ),
        },
    ),
    Task(
        "exp-golomb-gap",
        "05_huffman",
        "the adaptive Exp-Golomb binarisation of one gap into (context, bit) decisions",
        {"gap_decisions": (
            "e = floor(log2 v), v >= 1 (int.bit_length). The prefix: e zeros, the j-th in",
            "context lay.prefix(cls, j), then a one in context lay.prefix(cls, e), left out",
            "when e == lay.emax (the largest exponent: the decoder stops there anyway).",
            "The suffix: the e bits of v below its leading one, most significant first (bit d",
            "is (v >> (e - 1 - d)) & 1). Bit d < TREE_BITS has the context lay.tree(e, node),",
            "node the path so far (start at 1, then node = 2 node + bit); later bits",
            "lay.rest(e, d). out is the list of (context, bit) pairs in that order.",
        )},
    ),
    Task(
        "inference-energy",
        "06_deep_compression",
        "the energy of one inference from the 45 nm cost model",
        {"inference_energy": (
            "macs: effective_multadds(model) when skip_zeros (a zero weight costs nothing),",
            "else model.multadds(). words: the 32-bit words the weights fill, model_bytes / 4",
            "rounded up. on_chip: whether model_bytes fits in sram_bytes.",
            "read: the pJ of one 32-bit read, table['sram_read32'] on chip and",
            "table['dram_read32'] off it. compute: macs times the pJ of one multiply-add,",
            "table['fmul32'] + table['fadd32']. The return line multiplies words by read.",
        )},
    ),
    Task(
        "requantize",
        "07_inference",
        "the requantisation of int32 accumulators: a fixed-point multiply and a rounding shift",
        {"requantize": (
            "Given above: total = 31 + n, the right shift s of every output channel (an int64",
            "array that broadcasts against acc, like multiplier, which is M0 in Q31).",
            "The real multiplier is M = M0 / 2^s, so the output before the zero point is",
            "round(acc * M0 / 2^s): multiply acc by multiplier (int64: the product stays below",
            "2^62), add half of the divisor, 2^(s - 1) (np.left_shift of an int64 one), and",
            "shift right by s (np.right_shift, an arithmetic shift: it floors negatives too).",
            "scaled is that int64 array, acc's shape; the return line adds the zero point and",
            "clamps.",
        )},
    ),
    Task(
        "codebook-dot",
        "07_inference",
        "the codebook product: per output, the inputs of each centroid summed, then one "
        "multiply per centroid",
        {"codebook_matvec_naive": (
            "y[f] = sum over k of C[k] * (sum of x[d] over the kept d with indices[f, d] == k).",
            "Loop over the output rows f (indices.shape[0] of them). Row f's kept inputs are",
            "where mask[f] is True; their centroids are indices[f] at those places.",
            "np.bincount of those centroids with weights= the kept inputs and minlength= the",
            "codebook size gives the k sums at once (one addition per kept weight); their dot",
            "product with codebook is one multiply per centroid. Store it in y[f].",
        )},
    ),
)
"""The task list, in chapter order. Every solution region in the package has an entry here and
every entry has at least one region (checked by :func:`.regions.check_registry`)."""


def task(task_id: str, tasks: Sequence[Task] = TASKS) -> Task:
    """Return the task ``task_id`` of ``tasks``; raise :class:`ExerciseError` if there is none."""
    for t in tasks:
        if t.id == task_id:
            return t
    known = ", ".join(t.id for t in tasks) or "none"
    raise ExerciseError(f"unknown exercise task {task_id!r}; known tasks: {known}")


def tasks_of_chapter(chapter: str) -> list[Task]:
    """The tasks of one chapter (a name from :data:`CHAPTERS`), in registry order."""
    if chapter not in CHAPTERS:
        raise ExerciseError(f"unknown chapter {chapter!r}; chapters are: {', '.join(CHAPTERS)}")
    return [t for t in TASKS if t.chapter == chapter]
