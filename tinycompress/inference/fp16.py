r"""Half-precision inference: weights and activations in float16, products accumulated in float32.

float16 keeps 11 significant bits and 5 exponent bits (largest value 65504): half the memory of
float32, and on hardware with half-precision units about a third of the energy per multiply
(:mod:`tinycompress.energy`). The product of two float16 numbers has at most 22 significant
bits, so it is *exact* in float32; what a long dot product must not do is accumulate in
float16 (from 2048 on, float16 cannot add 1: its spacing there is 2). The scheme run here is
therefore the mixed-precision one of GPUs' tensor cores: float16 operands, exact products,
float32 accumulation, one rounding of each output to float16.

NumPy has no fast float16 matrix product: BLAS has no half-precision GEMM, and NumPy's own loop
(``np.matmul`` on float16 arrays) converts every element to float32, multiplies, accumulates in
float32 and rounds the result to float16 (:func:`float16_dot_accumulates_in_float32` checks
it), one element at a time: many times slower than float32 BLAS (``bench/bench_inference.py``
measures how much). :class:`Float16Model` runs the same arithmetic in two ways:

- ``native=True``: the model's own layers on float16 arrays, NumPy's float16 loop;
- ``native=False`` (default): every Dense / Conv2D product with its float16 operands widened
  to float32 and multiplied by BLAS (exact products, float32 accumulation), the result rounded
  to float16; everything else (bias additions, ReLU, pooling) on the float16 arrays. The
  weights are widened once and kept so (widening them at every call would cost more than the
  product itself at batch 1): in NumPy the memory saving of float16 is the hardware's, not
  ours.

The two differ only in the order of the float32 sums, so their outputs agree to within a
float16 rounding, and they make the same predictions but for near ties.
"""

from __future__ import annotations

import copy

import numpy as np

from ..nn.model import Sequential
from .gemm import as_gemm, is_weight_layer


def to_float16(model: Sequential) -> Sequential:
    """A copy of ``model`` with every parameter and buffer rounded to float16."""
    return copy.deepcopy(model).astype(np.float16)


def float16_dot_accumulates_in_float32(n: int = 3000) -> bool:
    """True if NumPy's float16 matrix product of a (1, n) and an (n, 1) matrix of ones gives
    ``n``: it accumulates in float32 (a float16 sum stops at 2048, where 2048 + 1 rounds back
    to 2048)."""
    ones = np.ones((1, n), dtype=np.float16)
    return float((ones @ ones.T)[0, 0]) == float(np.float16(n))


class Float16Model:
    """A model with float16 weights and activations (see the module docstring).

    Parameters
    ----------
    model : the float32 model; its parameters are rounded to float16 once, here.
    """

    def __init__(self, model: Sequential) -> None:
        self.model = to_float16(model)
        self.wide = {layer.name: as_gemm(layer)[0].astype(np.float32)
                     for layer in self.model.layers if is_weight_layer(layer)}

    def forward(self, x: np.ndarray, native: bool = False) -> np.ndarray:
        """float16 class scores (N, classes) of images x (N, *input_shape), rounded to float16."""
        h = np.asarray(x).astype(np.float16)
        if native:
            return self.model.forward(h)
        for layer in self.model.layers:
            if layer.name in self.wide:
                _, b, geometry = as_gemm(layer)
                product = self.wide[layer.name] @ geometry.columns(h.astype(np.float32))
                y = product.astype(np.float16)
                y += b[:, None]  # a float16 addition, as in the layer's own forward
                h = geometry.fold(y, h.shape)
            else:
                h = layer.forward(h)
        return h
