"""Filter pruning: L1 ranking, the channel-dependency walk, surgery that really shrinks."""

import copy

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.errors import ShapeError
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import GlobalAvgPool2D, MaxPool2D
from tinycompress.pruning import filters, magnitude


def small_lenet5(seed=0):
    """LeNet-5's layout at a small scale: conv -> pool -> conv -> pool -> flatten -> fc -> fc."""
    rng = np.random.default_rng(seed)
    return Sequential([Conv2D(1, 6, 3, rng=rng), MaxPool2D(2), Conv2D(6, 8, 3, rng=rng),
                       MaxPool2D(2), Flatten(), Dense(8 * 2 * 2, 10, rng=rng), ReLU(),
                       Dense(10, 3, rng=rng)], (1, 14, 14), "small-lenet5").astype(np.float64)


def bn_net(seed=0):
    """Conv -> BN -> ReLU -> conv, with non-trivial BN statistics."""
    rng = np.random.default_rng(seed)
    model = Sequential([Conv2D(2, 6, 3, padding=1, rng=rng), BatchNorm2D(6), ReLU(),
                        Conv2D(6, 4, 3, rng=rng), Flatten(), Dense(4 * 4 * 4, 3, rng=rng)],
                       (2, 6, 6), "bn-net").astype(np.float64)
    bn = model.layer("bn1")
    for key, store in (("gamma", bn.params), ("beta", bn.params),
                       ("running_mean", bn.buffers), ("running_var", bn.buffers)):
        store[key] = rng.uniform(0.5, 1.5, 6)
    return model


def x_for(model, n=5, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *model.input_shape))


@pytest.mark.task_filter_l1_ranking
def test_l1_ranking():
    w = np.zeros((4, 2, 3, 3))
    w[0] = 1.0
    w[1] = -0.1
    w[2, 0] = 2.0
    w[3] = 0.5
    norms = filters.filter_l1_norms(w)
    np.testing.assert_allclose(norms, [18, 1.8, 18, 9])
    np.testing.assert_array_equal(filters.filters_to_keep(norms, 2), [0, 2])
    np.testing.assert_array_equal(filters.filters_to_keep(norms, 3), [0, 2, 3])
    dense_w = np.array([[1.0, -3.0], [1.0, 0.5]])  # Dense: output units on axis 1
    np.testing.assert_allclose(filters.filter_l1_norms(dense_w, axis=1), [2.0, 3.5])


def test_channel_ties_lenet5():
    model = small_lenet5()
    ties = filters.channel_ties(model, "conv2")
    assert [(t.layer.name, t.role, t.repeat) for t in ties] == [
        ("conv2", "producer", 1), ("fc1", "consumer", 4)]
    assert [t.role for t in filters.channel_ties(model, "conv1")] == ["producer", "consumer"]
    assert [t.layer.name for t in filters.channel_ties(model, "fc1")] == ["fc1", "fc2"]
    with pytest.raises(ShapeError):
        filters.channel_ties(model, "fc2")  # the classes
    with pytest.raises(ShapeError):
        filters.channel_ties(model, "pool1")


def test_channel_ties_stop_at_a_layer_of_unknown_kind():
    model = small_lenet5()
    model.layer("pool1").kind = "mystery"  # a layer the tables do not know
    with pytest.raises(ShapeError, match="kind 'mystery'"):
        filters.channel_ties(model, "conv1")


@pytest.mark.parametrize("build,name,n_keep", [
    (small_lenet5, "conv1", 3), (small_lenet5, "conv2", 5), (small_lenet5, "fc1", 4),
    (bn_net, "conv1", 2),
])
@pytest.mark.task_filter_l1_ranking
def test_removed_equals_zeroed_readers(build, name, n_keep):
    """Before retraining, removing filters == zeroing the next layer's weights that read them."""
    model = build()
    x = x_for(model)
    lay = model.layer(name)
    axis = filters.PRODUCERS[lay.kind]
    keep = filters.filters_to_keep(filters.filter_l1_norms(lay.params["W"], axis), n_keep)
    drop = np.setdiff1d(np.arange(lay.params["W"].shape[axis]), keep)

    reference = copy.deepcopy(model)
    filters.zero_channel_readers(reference, name, drop)
    before = {t.layer.name: {k: v.shape for k, v in {**t.layer.params,
                                                      **t.layer.buffers}.items()}
              for t in filters.channel_ties(model, name)}
    kept = filters.prune_filters(model, {name: n_keep})
    np.testing.assert_array_equal(kept[name], keep)
    np.testing.assert_allclose(model.forward(x), reference.forward(x), rtol=1e-12, atol=1e-12)
    # and the reference really differs from the unpruned model (the test can fail)
    assert not np.allclose(build().forward(x), reference.forward(x))
    # every tied array shrank along its channel axis
    for tie in filters.channel_ties(model, name):
        for key, shape in before[tie.layer.name].items():
            if tie.role == "consumer" and key != "W":
                continue
            new = {**tie.layer.params, **tie.layer.buffers}[key].shape
            assert new != shape and np.prod(new) < np.prod(shape), (tie.layer.name, key)


@pytest.mark.task_filter_l1_ranking
def test_lenet5_surgery_updates_configs_counts_and_round_trips(tmp_path):
    model = small_lenet5()
    madds = model.multadds()
    params = model.num_params()
    filters.prune_filters(model, {"conv1": 3, "conv2": 4})
    assert model.layer("conv1").config()["out_channels"] == 3
    assert model.layer("conv2").config()["in_channels"] == 3
    assert model.layer("conv2").config()["out_channels"] == 4
    assert model.layer("fc1").config()["in_features"] == 4 * 2 * 2
    assert model.layer("fc1").params["W"].shape == (16, 10)
    # counters: conv1 halves, conv2 = 3/6 * 4/8 of before, fc1 halves
    rows = {r.name: r.multadds for r in model.rows()}
    assert rows["conv1"] == 9 * 1 * 3 * 12 * 12
    assert rows["conv2"] == 9 * 3 * 4 * 4 * 4
    assert rows["fc1"] == 16 * 10
    assert model.multadds() < madds and model.num_params() < params
    save_model(model, tmp_path / "small.npz")
    loaded, _ = load_model(tmp_path / "small.npz")
    x = x_for(model)
    np.testing.assert_allclose(loaded.forward(x), model.forward(x), rtol=1e-6)


@pytest.mark.task_magnitude_prune
@pytest.mark.task_filter_l1_ranking
def test_masks_shrink_with_the_filters():
    model = small_lenet5()
    magnitude.prune(model, sparsity=0.5)
    filters.prune_filters(model, {"conv2": 5})
    for lay in magnitude.prunable_layers(model):
        assert lay.constraints["W"].keep.shape == lay.params["W"].shape


@pytest.mark.task_filter_l1_ranking
def test_filter_sensitivity_shape():
    model = small_lenet5()
    X = x_for(model, 20)
    y = model.predict(X)
    curves = filters.filter_sensitivity(model, X, y, [0.0, 0.5], ["conv1", "conv2"])
    assert curves["conv1"][0] == 1.0 and curves["conv2"][0] == 1.0
    assert model.layer("conv1").params["W"].shape[0] == 6  # unchanged


def mobilenet_block(seed=0):
    """conv -> BN -> ReLU -> depthwise -> BN -> ReLU -> pointwise -> GAP -> fc (MobileNet)."""
    rng = np.random.default_rng(seed)
    model = Sequential([
        Conv2D(2, 6, 3, padding=1, rng=rng), BatchNorm2D(6), ReLU(),
        DepthwiseConv2D(6, 3, padding=1, rng=rng), BatchNorm2D(6), ReLU(),
        PointwiseConv2D(6, 5, rng=rng), BatchNorm2D(5), ReLU(),
        GlobalAvgPool2D(), Dense(5, 3, rng=rng)], (2, 5, 5), "block").astype(np.float64)
    for lay in model.layers:
        if lay.kind == "bn":
            c = lay.num_features
            lay.params["gamma"], lay.params["beta"] = rng.uniform(0.5, 1.5, (2, c))
            lay.buffers["running_mean"], lay.buffers["running_var"] = rng.uniform(0.5, 1.5, (2, c))
    return model


@pytest.mark.task_filter_l1_ranking
def test_depthwise_is_tied_to_the_pointwise_before_it():
    model = mobilenet_block()
    ties = filters.channel_ties(model, "conv1")
    assert [(t.layer.name, t.role) for t in ties] == [
        ("conv1", "producer"), ("bn1", "channelwise"), ("dw1", "channelwise"),
        ("bn2", "channelwise"), ("pw1", "consumer")]
    assert [t.layer.name for t in filters.channel_ties(model, "pw1")] == ["pw1", "bn3", "fc1"]
    x = x_for(model)
    reference = copy.deepcopy(model)
    keep = filters.filters_to_keep(filters.filter_l1_norms(model.layer("conv1").params["W"]), 4)
    filters.zero_channel_readers(reference, "conv1", np.setdiff1d(np.arange(6), keep))
    filters.prune_filters(model, {"conv1": 4})
    np.testing.assert_allclose(model.forward(x), reference.forward(x), rtol=1e-12, atol=1e-12)
    assert model.layer("dw1").config()["channels"] == 4
    assert model.layer("dw1").params["W"].shape == (4, 1, 3, 3)
    assert model.layer("bn2").buffers["running_var"].shape == (4,)
    assert model.layer("pw1").config()["in_channels"] == 4
    filters.prune_filters(model, {"pw1": 2})  # a pointwise layer is a producer too; GAP -> fc
    assert model.layer("fc1").params["W"].shape == (2, 3)


@pytest.mark.task_filter_l1_ranking
def test_mnist_mobilenet_halved_everywhere():
    """Every producer of the MNIST MobileNet (stem conv and each pointwise) loses half its
    filters; the depthwise layers and BatchNorms follow; outputs match the zeroed reference."""

    model = zoo.build("mobilenet-mnist").astype(np.float64)
    madds = model.multadds()
    producers = [lay.name for lay in model.layers if lay.kind in filters.PRODUCERS][:-1]
    reference = copy.deepcopy(model)
    kept = filters.prune_filters(model, {n: model.layer(n).params["W"].shape[0] // 2
                                         for n in producers})
    for name, keep in kept.items():
        n = reference.layer(name).params["W"].shape[0]
        filters.zero_channel_readers(reference, name, np.setdiff1d(np.arange(n), keep))
    x = x_for(model, 3)
    np.testing.assert_allclose(model.forward(x), reference.forward(x), rtol=1e-12, atol=1e-12)
    for lay in model.layers:
        if lay.kind == "depthwise":
            assert lay.params["W"].shape[0] == lay.config()["channels"]
    assert model.multadds() < 0.3 * madds  # every conv's MultAdds scale with in x out
