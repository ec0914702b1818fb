"""Tests of the chapter's experiment functions on a tiny model (shapes of the tables, the
mid-run measurement of "mean" mode, isolation between runs)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_trained_quant import _data, _tiny
from tinycompress.experiments.quant_study import (
    ablation,
    baselines,
    bits_by_kind,
    init_sweep,
    quantized_error,
)


@pytest.mark.task_kmeans_plus_plus
def test_init_sweep_rows() -> None:
    X, y = _data(40)
    rows = init_sweep(_tiny, X, y, bits=[1, 3], inits=["linear", "kmeans++"])
    assert [(r["bits"], r["init"]) for r in rows] == [
        (1, "linear"), (1, "kmeans++"), (3, "linear"), (3, "kmeans++")]
    assert all(0.0 <= r["error"] <= 1.0 for r in rows)


def test_bits_by_kind_quantises_only_that_kind() -> None:
    X, y = _data(40)
    models = []

    def load():
        models.append(_tiny())
        return models[-1]

    rows = bits_by_kind(load, X, y, bits=[2], kinds=["conv", "fc"])
    assert [(r["kind"], r["bits"]) for r in rows] == [("conv", 2), ("fc", 2)]
    conv_only, fc_only = models
    assert len(np.unique(conv_only.layer("conv1").params["W"])) <= 4
    assert len(np.unique(conv_only.layer("fc2").params["W"])) > 4
    assert len(np.unique(fc_only.layer("conv1").params["W"])) > 4
    assert rows[0]["error"] == quantized_error(_tiny, {"conv": 2}, X, y)


@pytest.mark.task_centroid_grad
def test_ablation_curves() -> None:
    X, y = _data(64)
    rows = ablation(_tiny, X, y, X, y, bits=2, epochs=2, batch_size=16,
                    lr={"paper": 1e-3, "mean": 0.05, "reassign": 0.05})
    by_mode = {r["mode"]: r for r in rows}
    assert list(by_mode) == ["none", "paper", "mean", "reassign"]
    assert len(by_mode["none"]["curve"]) == 1 and by_mode["none"]["train_loss"] == []
    start = by_mode["none"]["error"]
    for mode in ("paper", "mean", "reassign"):
        r = by_mode[mode]
        assert len(r["curve"]) == 3 and len(r["train_loss"]) == 2
        assert r["curve"][0] == start  # all start from the same clustering
        assert r["error"] == r["curve"][-1]


@pytest.mark.task_linear_quantize
def test_baselines_rows() -> None:
    X, y = _data(40)
    rows = baselines(_tiny, X, y, bits=[8, 5])
    assert [(r["method"], r["bits"]) for r in rows] == [
        ("float32", 32), ("float16", 16), ("uniform", 8), ("k-means", 8), ("uniform", 5),
        ("k-means", 5)]
    assert all(0.0 <= r["error"] <= 1.0 for r in rows)
