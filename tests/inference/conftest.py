"""Fixtures of the inference tests: the shipped compressed LeNets, decoded once per session."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from tinycompress.coding import tcz
from tinycompress.inference.calibration import calibration_images
from tinycompress.nn.data import data_dir, load_arrays, normalization_of


@cache
def _shipped(name: str, n_test: int = 200, n_calibration: int = 500) -> dict[str, Any]:
    path = data_dir() / "compressed" / f"{name}.tcz"
    model, meta = tcz.load(path)
    norm = normalization_of(meta)
    X, y = load_arrays("test", None, norm, n_test)
    return {"path": path, "model": model, "norm": norm, "X": X, "y": y,
            "calibration": calibration_images(None, norm, n_calibration)}


@pytest.fixture(scope="session")
def shipped() -> Callable[..., dict[str, Any]]:
    """``shipped(name, n_test=200, n_calibration=500)``: the decoded ``data/compressed/<name>.tcz``
    (``model``, ``path``), its normalisation, the first ``n_test`` test images (``X``, ``y``)
    and ``n_calibration`` training images for int8 (``calibration``). Cached: do not modify."""
    return _shipped


