"""The exported graph checked by another runtime: onnxruntime against the engine.

An export is only as good as its agreement with the model it came from. :func:`run_onnx` runs
ONNX bytes in onnxruntime (the optional extra) on ``pixel/255`` inputs; :func:`agreement`
runs the same images through the engine, standardised as the model expects, and reports on how
many the predicted class is the same and the largest difference of a logit. The two compute in
float32 with different summation orders, so the logits differ in their last bits only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.data import Normalization
from ..nn.model import Sequential
from .support import require

BATCH = 500


def run_onnx(blob: bytes, pixels: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
    """The graph's output for ``pixels`` (float32 ``pixel/255``, (N, C, H, W)), batch by batch,
    on one CPU thread."""
    ort = require("onnxruntime", "checking an export in onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: pixels[i : i + batch_size]})[0]
               for i in range(0, len(pixels), batch_size)]
    return np.concatenate(outputs)


def engine_logits(model: Sequential, norm: Normalization, pixels: np.ndarray,
                  batch_size: int = BATCH) -> np.ndarray:
    """The engine's logits for ``pixels`` (``pixel/255``), standardised by ``norm`` first, as
    :class:`~tinycompress.nn.data.Normalization` does."""
    x = (pixels - np.float32(norm.mean)) / np.float32(norm.std)
    return np.concatenate([model.forward(x[i : i + batch_size])
                           for i in range(0, len(x), batch_size)])


def agreement(model: Sequential, norm: Normalization, blob: bytes, pixels: np.ndarray
              ) -> dict[str, Any]:
    """How the ONNX graph ``blob`` agrees with ``model`` on ``pixels``: the images compared,
    on how many the predicted class is the same, and the largest difference of a logit."""
    ours, theirs = engine_logits(model, norm, pixels), run_onnx(blob, pixels)
    same = int(np.count_nonzero(ours.argmax(axis=1) == theirs.argmax(axis=1)))
    return {"n": len(pixels), "same_class": same,
            "max_abs_diff": float(np.abs(ours - theirs).max()) if len(pixels) else 0.0}
