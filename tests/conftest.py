"""Helpers shared by the test modules, as fixtures (small, seeded, fast).

- ``rand(*shape, seed=0)``: float64 standard-normal arrays for gradient checks;
- ``write_idx(path, array, compress=True)`` and ``make_dataset(folder, ...)``: IDX files in
  MNIST's layout, for commands that take ``--data DIR``;
- ``tiny_net(dtype=np.float32, prune=True)`` and ``tiny_batch(n=32, seed=2)``: a 6x6-input
  conv + two fully-connected layers network (fc1 60% zeros when ``prune``) and data for it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _make_dataset(folder: Path, n_train: int = 12, n_test: int = 5,
                  size: tuple[int, int] = (6, 7), classes: int = 3,
                  compress: bool = True) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        suffix = ".gz" if compress else ""
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                   rng.integers(0, 256, (n, *size)), compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}",
                   np.arange(n) % classes, compress)
    return folder


def _tiny_net(dtype: type = np.float32, prune: bool = True) -> Sequential:
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 3, 3, name="conv1", rng=rng, dtype=dtype), ReLU(name="r1"),
                        Flatten(name="flat"), Dense(3 * 4 * 4, 5, name="fc1", rng=rng, dtype=dtype),
                        ReLU(name="r2"), Dense(5, 3, name="fc2", rng=rng, dtype=dtype)],
                       (1, 6, 6), "tiny")
    if prune:  # a pruned fc1: 60% of its weights exactly zero
        W = model.layer("fc1").params["W"]
        W *= np.random.default_rng(1).random(W.shape) < 0.4
    return model


def _tiny_batch(n: int = 32, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=n)


@pytest.fixture
def rand() -> Callable[..., np.ndarray]:
    return _rand


@pytest.fixture
def write_idx() -> Callable[..., None]:
    return _write_idx


@pytest.fixture
def make_dataset() -> Callable[..., Path]:
    return _make_dataset


@pytest.fixture
def tiny_net() -> Callable[..., Sequential]:
    return _tiny_net


@pytest.fixture
def tiny_batch() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return _tiny_batch
