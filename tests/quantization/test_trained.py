"""Tests of trained quantisation on models: the constraint makes SGD exact on the centroids,
assignments stay fixed, pruned zeros stay zero, the ablation modes, the bits specification."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.errors import ShapeError
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.dense import Dense
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.losses import softmax_cross_entropy
from tinycompress.nn.model import Sequential
from tinycompress.nn.optim import SGD
from tinycompress.nn.pooling import GlobalAvgPool2D
from tinycompress.quantization.sharing import SharedWeights, centroid_grad
from tinycompress.quantization.trained import (
    bits_for,
    finetune,
    parse_bits,
    quantize_model,
    shared_constraints,
    shared_from_dense,
)


def test_parse_bits_and_bits_for(tiny_net) -> None:
    assert parse_bits(6) == {"*": 6}
    assert parse_bits("6") == {"*": 6}
    assert parse_bits("conv=8, fc=5") == {"conv": 8, "fc": 5}
    assert parse_bits({"fc1": 4}) == {"fc1": 4}
    with pytest.raises(ValueError, match="conv=8,fc=5"):
        parse_bits("conv:8")
    model = tiny_net()
    spec = parse_bits("fc1=3,fc=5,conv=8")
    got = {lay.name: bits_for(lay, spec) for lay in model.layers}
    assert got == {"conv1": 8, "r1": None, "flat": None, "fc1": 3, "r2": None, "fc2": 5}
    assert bits_for(model.layer("conv1"), parse_bits("fc=5")) is None


def test_depthwise_and_pointwise_layers_take_the_conv_bits() -> None:
    rng = np.random.default_rng(0)
    model = Sequential([DepthwiseConv2D(2, 3, padding=1, rng=rng), PointwiseConv2D(2, 4, rng=rng),
                        GlobalAvgPool2D(), Dense(4, 3, rng=rng)], (2, 5, 5), "separable")
    spec = parse_bits("conv=3,fc=2")
    assert {lay.name: bits_for(lay, spec) for lay in model.layers} == {
        "dw1": 3, "pw1": 3, "gap1": None, "fc1": 2}
    report = quantize_model(model, spec)
    assert [(r.name, r.kind, r.bits) for r in report] == [
        ("dw1", "conv", 3), ("pw1", "conv", 3), ("fc1", "fc", 2)]
    with pytest.raises(ShapeError, match="gap1"):
        quantize_model(model, {"gap1": 4})


def test_quantize_model_shares_weights_and_keeps_zeros(tiny_net) -> None:
    model = tiny_net()
    zeros = model.layer("fc1").params["W"] == 0
    biases = {lay.name: lay.params["b"].copy() for lay in model.layers if "b" in lay.params}
    report = quantize_model(model, {"conv": 3, "fc": 2})
    assert [(r.name, r.kind, r.bits) for r in report] == [
        ("conv1", "conv", 3), ("fc1", "fc", 2), ("fc2", "fc", 2)]
    for r in report:
        W = model.layer(r.name).params["W"]
        assert r.distinct_values == len(np.unique(W[W != 0])) <= 2**r.bits
        np.testing.assert_array_equal(model.layer(r.name).params["b"], biases[r.name])
    np.testing.assert_array_equal(model.layer("fc1").params["W"] == 0, zeros)
    assert report[1].kept == int((~zeros).sum())


@pytest.mark.task_centroid_grad
def test_constraint_makes_sgd_exact_on_the_centroids(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch()
    model = tiny_net(np.float64)
    quantize_model(model, 2)
    idx0 = {lay.name: c.shared.indices.copy() for lay, c in shared_constraints(model)}
    opt = SGD(model, lr=0.05, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        _, dlogits = softmax_cross_entropy(model.forward(X, train=True), y)
        model.backward(dlogits)
        opt.step()
    ref = tiny_net(np.float64)
    quantize_model(ref, 2)
    by_hand = _centroid_sgd_by_hand(ref, X, y, lr=0.05, mu=0.9, wd=0.01, steps=3)
    for lay, c in shared_constraints(model):
        np.testing.assert_allclose(c.shared.codebook, by_hand[lay.name], rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(c.shared.indices, idx0[lay.name])  # assignments fixed
        np.testing.assert_array_equal(lay.params["W"], c.shared.decode())  # W = mask * C[I]


def _centroid_sgd_by_hand(model: Sequential, X: np.ndarray, y: np.ndarray, lr: float, mu: float,
                          wd: float, steps: int) -> dict[str, np.ndarray]:
    """SGD with momentum on the codebooks themselves (dL/dC from centroid_grad, plus the L2 term
    d/dC_k (wd/2 sum W^2) = wd n_k C_k); the biases take their own steps (no decay)."""
    vb = {lay.name: np.zeros_like(lay.params["b"]) for lay in model.layers if "b" in lay.params}
    pairs = shared_constraints(model)
    C = {lay.name: c.shared.codebook.astype(np.float64) for lay, c in pairs}
    v = {name: np.zeros_like(cb) for name, cb in C.items()}
    for _ in range(steps):
        for lay, c in pairs:
            s = SharedWeights(C[lay.name], c.shared.indices, c.shared.mask, c.shared.bits)
            lay.params["W"][...] = s.decode()
        _, dlogits = softmax_cross_entropy(model.forward(X, train=True), y)
        model.backward(dlogits)
        for lay, c in pairs:
            g = centroid_grad(lay.grads["W"], c.shared) + wd * c.shared.counts() * C[lay.name]
            v[lay.name] = mu * v[lay.name] + g
            C[lay.name] = C[lay.name] - lr * v[lay.name]
            vb[lay.name] = mu * vb[lay.name] + lay.grads["b"]
            lay.params["b"] -= lr * vb[lay.name]
    return C


@pytest.mark.task_centroid_grad
def test_model_centroid_gradient_matches_finite_differences(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(8)
    model = tiny_net(np.float64)
    quantize_model(model, {"conv": 2, "fc": 1})
    layer, c = shared_constraints(model)[1]  # fc1, pruned
    codebook = c.shared.codebook.astype(np.float64)

    def loss() -> float:
        s = SharedWeights(codebook, c.shared.indices, c.shared.mask, c.shared.bits)
        layer.params["W"][...] = s.decode()
        return softmax_cross_entropy(model.forward(X), y)[0]

    num = numerical_gradient(loss, codebook)
    loss()
    _, dlogits = softmax_cross_entropy(model.forward(X, train=True), y)
    model.backward(dlogits)
    ana = centroid_grad(layer.grads["W"], c.shared)
    assert rel_error(ana, num) < 1e-7
    # The per-weight gradient the constraint hands the optimiser is that centroid's gradient.
    per_weight = c.grad(layer.grads["W"])
    np.testing.assert_allclose(per_weight[c.shared.mask], ana[c.shared.indices[c.shared.mask]])
    assert np.all(per_weight[~c.shared.mask] == 0)


@pytest.mark.parametrize(
    "mode", [pytest.param("paper", marks=pytest.mark.task_centroid_grad), "mean"]
)
def test_finetune_moves_centroids_never_assignments(mode: str, tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(64)
    model = tiny_net()
    zeros = model.layer("fc1").params["W"] == 0
    quantize_model(model, {"conv": 3, "fc": 2}, mode=mode)
    before = {lay.name: (c.shared.codebook.copy(), c.shared.indices.copy())
              for lay, c in shared_constraints(model)}
    finetune(model, X, y, epochs=2, lr=0.01, batch_size=16, progress=False)
    for lay, c in shared_constraints(model):
        cb, idx = before[lay.name]
        np.testing.assert_array_equal(c.shared.indices, idx)
        assert not np.array_equal(c.shared.codebook, cb)
        W = lay.params["W"]
        np.testing.assert_array_equal(W, c.shared.decode())
        assert len(np.unique(W[W != 0])) <= 2**c.shared.bits
    np.testing.assert_array_equal(model.layer("fc1").params["W"] == 0, zeros)


def test_reassign_mode_moves_assignments_but_stays_shared(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(64)
    model = tiny_net()
    zeros = model.layer("fc1").params["W"] == 0
    quantize_model(model, 2, mode="reassign")
    idx0 = {lay.name: c.shared.indices.copy() for lay, c in shared_constraints(model)}
    finetune(model, X, y, epochs=3, lr=0.5, batch_size=16, progress=False)
    moved = 0
    for lay, c in shared_constraints(model):
        moved += int((c.shared.indices != idx0[lay.name]).sum())
        np.testing.assert_array_equal(lay.params["W"], c.shared.decode())
    assert moved > 0
    np.testing.assert_array_equal(model.layer("fc1").params["W"] == 0, zeros)


def test_finetune_needs_quantized_model(tiny_net, tiny_batch) -> None:
    X, y = tiny_batch(8)
    with pytest.raises(ValueError, match="quantize_model"):
        finetune(tiny_net(), X, y, epochs=1, lr=0.1, progress=False)


@pytest.mark.task_kmeans_plus_plus
def test_lenet5_by_kind_is_deterministic() -> None:
    a, b = zoo.build("lenet5"), zoo.build("lenet5")
    ra = quantize_model(a, "conv=4,fc=3", init="kmeans++", rng=5)
    rb = quantize_model(b, "conv=4,fc=3", init="kmeans++", rng=5)
    assert [r.to_json() for r in ra] == [r.to_json() for r in rb]
    assert {r.name: r.bits for r in ra} == {"conv1": 4, "conv2": 4, "fc1": 3, "fc2": 3}
    for la, lb in zip(a.layers, b.layers, strict=True):
        for key in la.params:
            np.testing.assert_array_equal(la.params[key], lb.params[key])


def test_shared_from_dense_recovers_a_saved_quantised_model(tmp_path, tiny_net) -> None:
    model = tiny_net()
    quantize_model(model, {"conv": 3, "fc": 2}, mode="paper")
    codebooks = {lay.name: c.shared for lay, c in shared_constraints(model)}
    loaded, _ = load_model(save_model(model, tmp_path / "q.npz"))
    for name, s in codebooks.items():
        W = loaded.layer(name).params["W"]
        rec = shared_from_dense(W, s.bits)
        np.testing.assert_array_equal(rec.decode(), W)
        np.testing.assert_array_equal(rec.mask, s.mask)
        used = np.unique(s.indices[s.mask])
        assert set(rec.codebook.tolist()) == set(s.codebook[used].tolist())
    with pytest.raises(ShapeError, match="distinct nonzero values"):
        shared_from_dense(tiny_net().layer("fc2").params["W"], 2)
