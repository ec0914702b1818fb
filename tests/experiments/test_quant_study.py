"""Tests of the chapter's experiment functions on a tiny model: the tables' rows, what each
study quantises, the mid-run measurement of "mean" mode, isolation between runs, seeds.

The labels are the float model's own predictions, so the float model's error is exactly 0 and
any error is the quantisation's. The tiny model has fewer weights per layer than an 8-bit
codebook has entries, so 8-bit sharing is exact: a study that does not quantise what it claims
(or quantises at the wrong width) fails.

The learning-rate choice reads the validation split only: poisoned test labels change the
reported test errors and nothing else.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tinycompress.experiments import quant_study
from tinycompress.experiments.quant_study import (
    ABLATION_LR,
    LR_GRID,
    ablation,
    baselines,
    bits_by_kind,
    choose_lr,
    init_sweep,
    quantized_error,
)
from tinycompress.nn.checkpoint import save_model
from tinycompress.nn.data import VALIDATION, Normalization, load_split
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


@pytest.mark.task_centroid_grad
def test_ablation_curves_are_on_validation_and_the_test_error_is_reported(tiny_net,
                                                                           tiny_batch) -> None:
    X, y = tiny_batch(64)
    X_val, y_val = tiny_batch(40, seed=5)
    X_test, y_test = tiny_batch(30, seed=6)
    lr = {"paper": 1e-3, "mean": 0.05, "reassign": 0.05}
    rows = ablation(tiny_net, X, y, X_val, y_val, bits=2, epochs=1, batch_size=16, lr=lr,
                    X_test=X_test, y_test=y_test)
    plain = ablation(tiny_net, X, y, X_val, y_val, bits=2, epochs=1, batch_size=16, lr=lr)
    assert [r["mode"] for r in rows] == ["none", "paper", "mean", "reassign"]
    for with_test, without in zip(rows, plain, strict=True):
        assert "test_error" not in without
        assert {k: v for k, v in with_test.items() if k != "test_error"} == without
    (none,) = [r for r in rows if r["mode"] == "none"]
    assert none["curve"] == [quantized_error(tiny_net, 2, X_val, y_val)]
    assert none["test_error"] == quantized_error(tiny_net, 2, X_test, y_test)


@pytest.mark.task_centroid_grad
def test_choose_lr_takes_the_lowest_validation_error(tiny_net, tiny_batch, monkeypatch) -> None:
    X, y = tiny_batch(64)
    X_val, y_val = tiny_batch(40, seed=5)
    grid = {"paper": (1e-4, 1e-2), "reassign": (0.0, 0.05, 0.5)}
    chosen, rows = choose_lr(tiny_net, X, y, X_val, y_val, bits=2, grid=grid, batch_size=16)
    assert [(r["mode"], r["lr"]) for r in rows] == [
        ("paper", 1e-4), ("paper", 1e-2), ("reassign", 0.0), ("reassign", 0.05),
        ("reassign", 0.5)]
    for mode, rates in grid.items():
        errors = [r["validation_error"] for r in rows if r["mode"] == mode]
        assert chosen[mode] == rates[errors.index(min(errors))]  # the first of the lowest
        expected = ablation(tiny_net, X, y, X_val, y_val, bits=2, epochs=1, batch_size=16,
                            modes=[mode], lr={mode: chosen[mode]})[0]["error"]
        assert min(errors) == expected
    nan = float("nan")
    errors = iter([0.25, nan, 0.25, 0.5, nan, 0.5])  # a tie goes first, NaN never wins
    monkeypatch.setattr(quant_study, "_error", lambda *a: next(errors))
    chosen, _ = choose_lr(tiny_net, X, y, X_val, y_val, bits=2, epochs=0,
                          grid={"paper": (1.0, 2.0, 3.0, 4.0), "mean": (5.0, 6.0)})
    assert chosen == {"paper": 1.0, "mean": 6.0}
    monkeypatch.undo()
    chosen, rows = choose_lr(tiny_net, X, y, X_val, y_val, bits=2, batch_size=16,
                             grid={"reassign": (1e12, 0.05)})  # the first rate diverges
    assert chosen == {"reassign": 0.05} and math.isnan(rows[0]["validation_error"])
    assert all(ABLATION_LR[mode] in LR_GRID[mode] for mode in quant_study.FINETUNE_MODES)


@pytest.fixture
def poisonable(tmp_path, make_dataset, tiny_net, write_idx):
    """A 6x6 dataset (200 training, 60 test images), the tiny model's checkpoint for it, and
    ``poison()``, which permutes the test labels in place (seeded)."""
    folder = make_dataset(tmp_path / "d", n_train=200, n_test=60, size=(6, 6), classes=3)
    norm = Normalization.fit(load_split("train", folder).images)
    ckpt = save_model(tiny_net(), tmp_path / "tiny.npz", {"normalization": norm.to_json()})

    def poison() -> None:
        labels = load_split("test", folder).labels
        write_idx(folder / "t10k-labels-idx1-ubyte.gz",
                  np.random.default_rng(0).permutation(labels))
    return folder, str(ckpt), poison


@pytest.mark.task_centroid_grad
def test_poisoned_test_labels_change_no_choice_of_the_study(poisonable, tmp_path) -> None:
    folder, ckpt, poison = poisonable
    grid = {"paper": (1e-4, 1e-2), "mean": (0.01, 0.1), "reassign": (0.01, 0.1)}

    def run() -> dict:
        return quant_study.run(ckpt, bits=2, epochs=1, folder=folder, grid=grid,
                               batch_size=32, log=lambda line: None)
    clean = run()
    poison()
    poisoned = run()
    assert clean["validation"] == VALIDATION.to_json(200) == {"n": 20, "seed": 0}
    assert poisoned["lr_sweep"] == clean["lr_sweep"]  # rows, errors and chosen rates
    assert poisoned["float32"]["validation_error"] == clean["float32"]["validation_error"]
    for a, b in zip(clean["ablation"]["rows"], poisoned["ablation"]["rows"], strict=True):
        assert a["curve"] == b["curve"] and a["lr"] == clean["lr_sweep"]["chosen"].get(
            a["mode"], 0.0) == b["lr"]
    test_errors = [(r["test_error"] for r in doc["ablation"]["rows"])
                   for doc in (clean, poisoned)]
    assert [*test_errors[0]] != [*test_errors[1]]  # the test set was read, for the report only
    out = tmp_path / "q.json"
    quant_study.write_results(out, poisoned)
    assert json.loads(out.read_text()) == poisoned
