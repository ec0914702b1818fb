"""Structured clean-up: dead units go, their constants are folded, and the outputs stay the same."""

import copy

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.coding import tcz
from tinycompress.errors import ShapeError, UsageError
from tinycompress.nn.architecture import architecture
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.data import Normalization, data_dir, load_arrays, normalization_of
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.elementwise import Dropout, ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.optim import SGD
from tinycompress.nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from tinycompress.nn.train import fit
from tinycompress.pruning import filters, magnitude
from tinycompress.pruning.structured import remove_dead_units
from tinycompress.quantization import trained

TIGHT = {"rtol": 1e-10, "atol": 1e-10}  # float64 models: only the folding's rounding differs


def x_for(model, n=7, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *model.input_shape))


def cleaned(model, x):
    """Clean a copy of ``model``; check its outputs on ``x`` against the original's."""
    out = copy.deepcopy(model)
    report = remove_dead_units(out)
    np.testing.assert_allclose(out.forward(x), model.forward(x), **TIGHT)
    return out, report


def f64(layers, input_shape, name):
    return Sequential(layers, input_shape, name).astype(np.float64)


def mlp(relu=True, sizes=(16, 12, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    layers = [Flatten()]
    for k, (d, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Dense(d, m, rng=rng, dtype=np.float64))
        if relu and k < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(layers, (1, 4, 4), "mlp")


def randomise(bn, rng, beta=None):
    """Non-trivial BatchNorm parameters and statistics."""
    for store, key in ((bn.params, "gamma"), (bn.params, "beta"), (bn.buffers, "running_mean"),
                       (bn.buffers, "running_var")):
        store[key] = rng.uniform(0.5, 1.5, bn.num_features)
    if beta is not None:
        bn.params["beta"][...] = beta


@pytest.mark.task_fold_dead_units
@pytest.mark.parametrize("relu", [True, False])
def test_dense_chain_both_kinds_of_dead_unit(relu):
    model = mlp(relu)
    fc1, fc2 = model.layer("fc1"), model.layer("fc2")
    fc1.params["W"][:, [2, 7]] = 0  # no incoming weights: constant b (ReLU(b) with ReLU)
    fc1.params["b"][[2, 7]] = [0.8, -0.4]
    fc2.params["W"][[5, 9], :] = 0  # no outgoing weights
    fc2.params["W"][:, 4] = 0
    x = x_for(model)
    out, report = cleaned(model, x)
    assert report.no_inputs == {"fc1": [2, 7], "fc2": [4]}
    assert report.no_outputs == {"fc1": [5, 9], "fc2": []}
    assert report.units == {"fc1": (12, 8), "fc2": (8, 7)}
    assert report.rounds == 1 and report.kept_constant == {}
    assert [out.layer("fc1").out_features, out.layer("fc2").in_features] == [8, 8]
    assert out.layer("fc2").params["W"].shape == (8, 7)
    assert out.num_params() == report.after["params"] == 16 * 8 + 8 + 8 * 7 + 7 + 7 * 3 + 3
    assert out.multadds() == report.after["multadds"] == 16 * 8 + 8 * 7 + 7 * 3
    assert report.before["params"] == model.num_params()
    # the fold is what keeps the outputs: the same units cut without it change them
    cut = copy.deepcopy(model)
    filters.remove_channels(cut, "fc1", np.setdiff1d(np.arange(12), [2, 5, 7, 9]))
    assert not np.allclose(cut.forward(x), model.forward(x), **TIGHT)


def small_lenet5(seed=0):
    """LeNet-5's layout at a small scale: no ReLU after the convolutions."""
    rng = np.random.default_rng(seed)
    return f64([Conv2D(1, 6, 3, rng=rng), MaxPool2D(2), Conv2D(6, 8, 3, rng=rng), MaxPool2D(2),
                Flatten(), Dense(8 * 2 * 2, 10, rng=rng), ReLU(), Dense(10, 3, rng=rng)],
               (1, 14, 14), "small-lenet5")


def dead_lenet5():
    model = small_lenet5()
    model.layer("conv1").params["W"][4] = 0  # a constant map b into conv2 (no padding)
    model.layer("conv2").params["W"][[1, 6]] = 0  # pooled, flattened, folded into fc1's bias
    model.layer("fc1").params["W"][3 * 4 : 4 * 4] = 0  # conv2 filter 3 read by nothing
    model.layer("fc2").params["W"][8] = 0  # fc1 unit 8 read by nothing
    return model


@pytest.mark.task_fold_dead_units
def test_conv_flatten_dense_like_lenet5():
    model = dead_lenet5()
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"conv1": [4], "conv2": [1, 6], "fc1": []}
    assert report.no_outputs == {"conv1": [], "conv2": [3], "fc1": [8]}
    assert out.layer("conv2").params["W"].shape == (5, 5, 3, 3)
    assert out.layer("fc1").params["W"].shape == (5 * 4, 9)
    assert out.layer("fc1").in_features == 20
    assert out.shapes()[-1] == (3,)


@pytest.mark.task_fold_dead_units
def test_dead_units_of_lenet5_itself():
    """The zoo's LeNet-5 (28x28, conv 20 and 50): the empty filters fold through pool2 and
    Flatten's 4x4 rows per channel."""
    model = zoo.build("lenet5", seed=3).astype(np.float64)
    model.layer("conv2").params["W"][[0, 17, 49]] = 0
    model.layer("fc1").params["W"][:, [3, 400]] = 0
    out, report = cleaned(model, x_for(model, n=3))
    assert report.no_inputs == {"conv1": [], "conv2": [0, 17, 49], "fc1": [3, 400]}
    assert report.units["conv2"] == (50, 47) and report.units["fc1"] == (500, 498)
    assert out.layer("fc1").params["W"].shape == (47 * 16, 498)


@pytest.mark.task_fold_dead_units
def test_batchnorm_between_and_after():
    rng = np.random.default_rng(0)
    model = f64([Conv2D(2, 6, 3, padding=1, rng=rng), BatchNorm2D(6), ReLU(), Dropout(0.5),
                 Conv2D(6, 4, 3, bias=False, rng=rng), BatchNorm2D(4), ReLU(), AvgPool2D(2),
                 Flatten(), Dense(4 * 2 * 2, 3, rng=rng)], (2, 6, 6), "bn")
    randomise(model.layer("bn1"), rng)
    randomise(model.layer("bn2"), rng)
    model.layer("conv1").params["W"][[0, 5]] = 0  # its own padding does not matter
    model.layer("conv2").params["W"][2] = 0  # constant BN(0) into fc1, through AvgPool
    mean = model.layer("bn2").buffers["running_mean"].copy()
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"conv1": [0, 5], "conv2": [2]}
    assert "b" not in out.layer("conv2").params  # bias-free: the fold went into bn2's mean
    assert not np.allclose(out.layer("bn2").buffers["running_mean"], np.delete(mean, 2))
    assert out.layer("bn1").num_features == 4 and out.layer("bn2").num_features == 3


@pytest.mark.task_fold_dead_units
def test_bias_free_consumer_without_batchnorm_gets_a_bias(tmp_path):
    rng = np.random.default_rng(0)
    model = f64([Conv2D(1, 4, 3, rng=rng), ReLU(), Conv2D(4, 2, 3, bias=False, rng=rng),
                 Flatten(), Dense(2 * 2 * 2, 3, rng=rng)], (1, 6, 6), "nb")
    model.layer("conv1").params["W"][1] = 0
    model.layer("conv1").params["b"][1] = 0.7
    out, _ = cleaned(model, x_for(model))
    assert out.layer("conv2").bias and out.layer("conv2").params["b"].shape == (2,)
    back, _ = load_model(save_model(out, tmp_path / "nb.npz"))
    np.testing.assert_allclose(back.forward(x_for(model)), model.forward(x_for(model)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.task_fold_dead_units
def test_padded_consumer_keeps_a_nonzero_constant():
    """A padded convolution reads zeros at the border: only a zero constant may go."""
    rng = np.random.default_rng(0)
    model = f64([Conv2D(1, 4, 3, rng=rng), ReLU(), Conv2D(4, 3, 3, padding=1, rng=rng),
                 Flatten(), Dense(3 * 4 * 4, 2, rng=rng)], (1, 6, 6), "pad")
    conv1 = model.layer("conv1")
    conv1.params["W"][[0, 1]] = 0
    conv1.params["b"][[0, 1]] = [0.5, -0.5]  # ReLU: 0.5 and 0
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"conv1": [1], "conv2": []}
    assert report.kept_constant == {"conv1": [0]}
    # folding unit 0 as if there were no padding would be wrong at the border
    wrong = copy.deepcopy(out)
    conv2 = wrong.layer("conv2")
    conv2.params["b"] += 0.5 * model.layer("conv2").params["W"][:, 0].sum(axis=(1, 2))
    filters.remove_channels(wrong, "conv1", np.array([1, 2]))
    assert not np.allclose(wrong.forward(x_for(model)), model.forward(x_for(model)), **TIGHT)


def separable_net():
    """MobileNet's pattern, bias-free: pw -> BN -> ReLU -> dw (padding 1) -> BN -> ReLU -> pw ->
    BN -> ReLU -> global pooling -> fc."""
    rng = np.random.default_rng(0)
    model = f64([
        PointwiseConv2D(2, 4, bias=False, rng=rng), BatchNorm2D(4), ReLU(),
        DepthwiseConv2D(4, 3, 1, 1, bias=False, rng=rng), BatchNorm2D(4), ReLU(),
        PointwiseConv2D(4, 5, bias=False, rng=rng), BatchNorm2D(5), ReLU(), GlobalAvgPool2D(),
        Dense(5, 3, rng=rng)], (2, 5, 5), "separable")
    for bn in ("bn1", "bn2", "bn3"):
        randomise(model.layer(bn), rng)
    model.layer("bn1").params["beta"][2] = 5.0  # pw1 unit 2: constant ReLU(BN(0)) > 0
    model.layer("pw1").params["W"][2] = 0  # ... into the padded depthwise: not constant
    model.layer("dw1").params["W"][1] = 0  # an empty depthwise filter: constant from there
    model.layer("pw2").params["W"][:, 3] = 0  # pw1 unit 3 read by nothing
    model.layer("pw2").params["W"][4] = 0  # constant through BN, ReLU, pooling into fc
    return model


@pytest.mark.task_fold_dead_units
def test_depthwise_separable_blocks():
    model = separable_net()
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"pw1": [1], "pw2": [4]}
    assert report.no_outputs == {"pw1": [3], "pw2": []}
    assert report.kept_constant == {"pw1": [2]}
    assert out.layer("dw1").channels == 2 and out.layer("dw1").params["W"].shape == (2, 1, 3, 3)
    assert out.layer("fc1").in_features == 4 and "b" not in out.layer("pw2").params


@pytest.mark.task_fold_dead_units
def test_unpadded_depthwise_carries_a_constant():
    """Without padding a depthwise filter maps a constant c to c * sum(w) + d."""
    rng = np.random.default_rng(0)
    model = f64([PointwiseConv2D(2, 3, rng=rng), DepthwiseConv2D(3, 3, 2, rng=rng), ReLU(),
                 PointwiseConv2D(3, 2, rng=rng), Flatten(), Dense(2 * 2 * 2, 3, rng=rng)],
                (2, 5, 5), "dw")
    model.layer("pw1").params["W"][1] = 0
    model.layer("pw1").params["b"][1] = 0.9
    model.layer("dw1").params["W"][1] = 0.1
    model.layer("dw1").params["b"][1] = 0.2  # ReLU(0.9 * 0.9 + 0.2) = 1.01 into pw2
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"pw1": [1], "pw2": []}
    assert out.layer("dw1").channels == 2


@pytest.mark.task_fold_dead_units
def test_cascade_to_a_fixed_point():
    model = mlp(sizes=(16, 5, 4, 3, 2))
    W1, W2, W3, W4 = (model.layer(f"fc{k}").params["W"] for k in (1, 2, 3, 4))
    W1[:, 0] = 0  # fc1 unit 0: constant, and the only input of fc2 unit 0
    model.layer("fc1").params["b"][0] = 1.0
    W2[:, 0] = 0
    W2[0, 0] = 2.0
    W4[1] = 0  # fc3 unit 1: no outputs, and the only reader of fc2 unit 1 ...
    W3[1] = 0
    W3[1, 1] = 1.5
    W2[1] = 0  # ... which is the only reader of fc1 unit 1
    W2[1, 1] = -1.0
    out, report = cleaned(model, x_for(model))
    assert report.no_inputs == {"fc1": [0], "fc2": [0], "fc3": []}
    assert report.no_outputs == {"fc1": [1], "fc2": [1], "fc3": [1]}
    assert report.rounds == 3  # fc3 unit 1, then fc2 unit 1, then fc1 unit 1
    assert remove_dead_units(out).removed == 0  # a fixed point


@pytest.mark.task_fold_dead_units
def test_nothing_is_removed_from_a_dense_model(same_bits):
    model = zoo.build("lenet-300-100", seed=1)
    before = copy.deepcopy(model)
    report = remove_dead_units(model)
    assert report.removed == 0 and report.before == report.after and report.rounds == 0
    assert same_bits(model, before) and architecture(model) == architecture(before)


@pytest.mark.task_fold_dead_units
def test_inputs_and_output_classes_are_never_removed():
    model = mlp()
    model.layer("fc1").params["W"][3] = 0  # input pixel 3 has no weights
    model.layer("fc3").params["W"][:, 1] = 0  # class 1 has no weights
    out, report = cleaned(model, x_for(model))
    assert report.removed == 0 and "fc3" not in report.units
    assert out.layer("fc1").in_features == 16 and out.layer("fc3").out_features == 3


@pytest.mark.task_fold_dead_units
def test_a_layer_keeps_one_unit():
    model = mlp()
    model.layer("fc2").params["W"][...] = 0
    out, report = cleaned(model, x_for(model))
    assert report.units["fc2"] == (8, 1) and report.kept_constant == {"fc2": [0]}
    assert report.no_inputs["fc2"] == list(range(1, 8))
    assert report.units["fc1"] == (12, 1)  # nothing reads fc1 at all: one unit stays
    assert report.no_outputs["fc1"] == list(range(1, 12))


@pytest.mark.task_fold_dead_units
@pytest.mark.task_magnitude_prune
def test_masks_are_sliced_and_training_keeps_the_zeros(tiny_net, tiny_batch):
    model = tiny_net()
    model.layer("conv1").params["W"][1] = 0
    model.layer("fc1").params["W"][:, 2] = 0
    magnitude.masks_from_zeros(model)
    report = remove_dead_units(model)
    assert report.units == {"conv1": (3, 2), "fc1": (5, 4)}
    for lay in magnitude.prunable_layers(model):
        mask = lay.constraints["W"]
        np.testing.assert_array_equal(mask.keep, lay.params["W"] != 0)
    X, y = tiny_batch()
    fit(model, X, y, epochs=1, batch_size=8, optimizer=SGD(model, lr=0.1), progress=False)
    for lay in magnitude.prunable_layers(model):
        assert not lay.params["W"][~lay.constraints["W"].keep].any()


def test_refuses_a_quantised_model_and_changes_nothing(tiny_net, same_bits):
    model = tiny_net()
    model.layer("fc1").params["W"][:, 2] = 0
    trained.quantize_model(model, 2)
    before = copy.deepcopy(model)
    with pytest.raises(UsageError, match="before quantising"):
        remove_dead_units(model)
    assert same_bits(model, before)


def test_refuses_a_layer_of_unknown_kind_and_changes_nothing(same_bits):
    model = dead_lenet5()
    model.layer("pool1").kind = "mystery"
    before = copy.deepcopy(model)
    with pytest.raises(ShapeError, match="mystery"):
        remove_dead_units(model)
    assert same_bits(model, before)


@pytest.mark.task_fold_dead_units
def test_a_cleaned_model_saves_encodes_and_exports(tmp_path, same_bits):
    model = dead_lenet5().astype(np.float32)
    remove_dead_units(model)
    x = x_for(model).astype(np.float32)
    back, _ = load_model(save_model(model, tmp_path / "clean.npz"))
    assert architecture(back) == architecture(model) and same_bits(back, model)
    decoded, _ = tcz.from_bytes(tcz.to_bytes(model))
    assert architecture(decoded) == architecture(model) and same_bits(decoded, model)
    np.testing.assert_array_equal(decoded.forward(x), model.forward(x))
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tinycompress.interop.onnx_export import export_onnx
    from tinycompress.interop.runtime import agreement

    pixels = np.random.default_rng(0).random((5, *model.input_shape), dtype=np.float32)
    agree = agreement(model, Normalization(0.1, 0.3), export_onnx(model, Normalization(0.1, 0.3)),
                      pixels)
    assert agree["same_class"] == 5 and agree["max_abs_diff"] < 1e-4


SHIPPED = ["lenet-300-100-pruned-dc", "lenet5-pruned-dc"]


@pytest.mark.task_fold_dead_units
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pruned_checkpoints_lose_their_dead_units(name):
    model, meta = load_model(data_dir() / "checkpoints" / f"{name}.npz")
    fc1 = model.layer("fc1")
    reader = model.layers[model.layers.index(fc1) + 2]  # after fc1's ReLU
    empty = set(np.flatnonzero(~fc1.params["W"].any(axis=0)))
    unread = set(np.flatnonzero(~reader.params["W"].any(axis=1)))
    X, _ = load_arrays("test", norm=normalization_of(meta), limit=500)
    cleanup = copy.deepcopy(model)
    report = remove_dead_units(cleanup)
    removed = set(report.no_inputs["fc1"]) | set(report.no_outputs["fc1"])
    assert empty and removed >= empty | unread
    assert set(report.no_inputs["fc1"]) == (empty - unread) - set(report.no_outputs["fc1"])
    assert report.units["fc1"] == (500 if name == "lenet5-pruned-dc" else 300,
                                   cleanup.layer("fc1").out_features)
    assert cleanup.num_params() == report.after["params"] < report.before["params"]
    ref, got = model.forward(X), cleanup.forward(X)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
