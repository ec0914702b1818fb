"""Tests of the chapter's experiment functions on a tiny model: the tables' rows, what each
study quantises, the mid-run measurement of "mean" mode, isolation between runs, seeds.

The labels are the float model's own predictions, so the float model's error is exactly 0 and
any error is the quantisation's. The tiny model has fewer weights per layer than an 8-bit
codebook has entries, so 8-bit sharing is exact: a study that does not quantise what it claims
(or quantises at the wrong width) fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.experiments.quant_study import (
    ABLATION_LR,
    ablation,
    baselines,
    bits_by_kind,
    init_sweep,
    quantized_error,
)
from tinycompress.quantization.uniform import float16_roundtrip


@pytest.fixture
def own_labels(tiny_net, tiny_batch):
    """200 inputs labelled by the float model's predictions."""
    X, _ = tiny_batch(200)
    return X, tiny_net().predict(X)


@pytest.fixture
def recorded(tiny_net):
    """A loader of fresh tiny models, and the list of every model it handed out."""
    models = []

    def load():
        models.append(tiny_net())
        return models[-1]

    return load, models


@pytest.mark.task_kmeans_plus_plus
def test_init_sweep_rows(tiny_net, own_labels) -> None:
    X, y = own_labels
    rows = init_sweep(tiny_net, X, y, bits=[1, 3, 8], inits=["linear", "kmeans++"])
    assert [(r["bits"], r["init"]) for r in rows] == [
        (1, "linear"), (1, "kmeans++"), (3, "linear"), (3, "kmeans++"), (8, "linear"),
        (8, "kmeans++")]
    error = {(r["bits"], r["init"]): r["error"] for r in rows}
    for init in ("linear", "kmeans++"):
        assert error[8, init] == 0.0  # exact: every weight keeps its own value
        assert error[1, init] > 0.0  # two values per layer change some predictions
        assert error[1, init] == max(error[b, init] for b in (1, 3, 8))
    assert init_sweep(tiny_net, X, y, bits=[1, 3, 8], inits=["linear", "kmeans++"]) == rows


def test_bits_by_kind_quantises_only_that_kind(tiny_net, own_labels, recorded) -> None:
    X, y = own_labels
    load, models = recorded
    rows = bits_by_kind(load, X, y, bits=[2], kinds=["conv", "fc"])
    assert [(r["kind"], r["bits"]) for r in rows] == [("conv", 2), ("fc", 2)]
    conv_only, fc_only = models
    assert len(np.unique(conv_only.layer("conv1").params["W"])) <= 4
    assert len(np.unique(conv_only.layer("fc2").params["W"])) > 4
    assert len(np.unique(fc_only.layer("conv1").params["W"])) > 4
    assert len(np.unique(fc_only.layer("fc2").params["W"])) <= 4
    assert rows[0]["error"] == quantized_error(tiny_net, {"conv": 2}, X, y)
    assert bits_by_kind(tiny_net, X, y, bits=[8])[0]["error"] == 0.0


@pytest.mark.task_centroid_grad
def test_ablation_curves(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(64)
    lr = {"paper": 1e-3, "mean": 0.05, "reassign": 0.05}
    rows = ablation(tiny_net, X, y, X, y, bits=2, epochs=2, batch_size=16, lr=lr)
    by_mode = {r["mode"]: r for r in rows}
    assert list(by_mode) == ["none", "paper", "mean", "reassign"]
    assert len(by_mode["none"]["curve"]) == 1 and by_mode["none"]["train_loss"] == []
    start = by_mode["none"]["error"]
    for mode in ("paper", "mean", "reassign"):
        r = by_mode[mode]
        assert r["lr"] == lr[mode]
        assert len(r["curve"]) == 3 and len(r["train_loss"]) == 2
        assert r["curve"][0] == start  # all start from the same clustering
        assert r["error"] == r["curve"][-1]
    assert ablation(tiny_net, X, y, X, y, bits=2, epochs=2, batch_size=16, lr=lr) == rows


@pytest.mark.task_centroid_grad
def test_ablation_rows_follow_their_learning_rates(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(64)
    still = ablation(tiny_net, X, y, X, y, bits=2, epochs=2, batch_size=16,
                     lr=dict.fromkeys(("paper", "mean", "reassign"), 0.0))
    start = still[0]["error"]
    for r in still[1:]:  # nothing moves at a zero learning rate: the same losses, a flat curve
        assert r["curve"] == [start] * 3
        np.testing.assert_allclose(r["train_loss"], still[1]["train_loss"], rtol=1e-6)
    moved = ablation(tiny_net, X, y, X, y, bits=2, epochs=2, batch_size=16, modes=["mean"])
    assert moved[0]["lr"] == ABLATION_LR["mean"]
    assert moved[0]["train_loss"] != pytest.approx(still[2]["train_loss"], rel=1e-4)


@pytest.mark.task_linear_quantize
def test_baselines_rows(tiny_net, own_labels, recorded) -> None:
    X, y = own_labels
    load, models = recorded
    rows = baselines(load, X, y, bits=[8, 2])
    assert [(r["method"], r["bits"]) for r in rows] == [
        ("float32", 32), ("float16", 16), ("uniform", 8), ("k-means", 8), ("uniform", 2),
        ("k-means", 2)]
    error = {(r["method"], r["bits"]): r["error"] for r in rows}
    assert error["float32", 32] == 0.0 and error["k-means", 8] == 0.0
    assert error["uniform", 2] > error["uniform", 8] and error["k-means", 2] > 0.0
    fresh, f16, uniform2 = tiny_net(), models[1], models[4]
    for name in ("conv1", "fc1", "fc2"):
        W, b = fresh.layer(name).params["W"], fresh.layer(name).params["b"]
        np.testing.assert_array_equal(f16.layer(name).params["W"], float16_roundtrip(W))
        assert len(np.unique(uniform2.layer(name).params["W"])) <= 4
        np.testing.assert_array_equal(uniform2.layer(name).params["b"], b)  # biases stay
