"""The model zoo: names and builders, shipped checkpoints and their recipes, model resolution."""

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.coding import tcz
from tinycompress.errors import CheckpointError, UsageError
from tinycompress.nn.checkpoint import save_model
from tinycompress.nn.model import Sequential
from tinycompress.pruning import iterative

PARAMS = {"lenet-300-100": 266_610, "lenet5": 431_080, "vgg16": 138_357_544}


def assert_same_weights(a: Sequential, b: Sequential) -> None:
    assert [lay.name for lay in a.layers] == [lay.name for lay in b.layers]
    for la, lb in zip(a.layers, b.layers, strict=True):
        for key in la.params:
            np.testing.assert_array_equal(la.params[key], lb.params[key])


def test_every_name_builds_its_architecture():
    assert sorted(zoo.BUILDERS) == ["lenet-300-100", "lenet5", "mobilenet-mnist",
                                    "mobilenet-v1", "vgg16"]
    assert zoo.COUNTABLE <= set(zoo.BUILDERS)
    for name, params in PARAMS.items():
        options = {"shape_only": True} if name in zoo.COUNTABLE else {}
        model = zoo.build(name, **options)
        assert isinstance(model, Sequential) and model.num_params() == params
    assert zoo.build("mobilenet-mnist").layers[-1].params["W"].shape[-1] == 10


def test_an_unknown_name_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match="unknown model 'lenet7'") as info:
        zoo.build("lenet7")
    assert "\n" not in str(info.value) and "lenet5" in str(info.value)
    with pytest.raises(UsageError, match="no shipped checkpoint named 'vgg16'"):
        zoo.pretrained_path("vgg16")


def test_every_shipped_checkpoint_has_its_recipes_and_file():
    for name in zoo.PRETRAINED:
        base = name.removesuffix("-pruned")
        assert base in zoo.BUILDERS and base in zoo.TRAINING_RECIPES
        if base != name:
            assert base in iterative.PRUNE_RECIPES  # how the -pruned checkpoint was made
        assert zoo.pretrained_path(name).is_file()
    assert set(zoo.TRAINING_RECIPES) <= set(zoo.BUILDERS)


def test_the_recorded_training_rate_or_the_fallback():
    _, meta = zoo.load_pretrained("lenet5")
    assert zoo.training_lr(meta) == meta["recipe"]["lr"] == zoo.TRAINING_RECIPES["lenet5"].lr
    assert zoo.training_lr({}) == zoo.FALLBACK_LR


def test_a_missing_shipped_checkpoint_says_how_to_restore_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path))
    with pytest.raises(CheckpointError, match="git checkout -- data/checkpoints/lenet5.npz"):
        zoo.load_pretrained("lenet5")
    with pytest.raises(CheckpointError, match="--recipe lenet5 --out"):
        zoo.resolve_model("lenet5-pruned")


def test_resolve_a_zoo_name_a_checkpoint_and_a_tcz_file(tmp_path, tiny_net):
    model, meta = zoo.resolve_model("lenet-300-100")
    assert model.num_params() == PARAMS["lenet-300-100"] and "normalization" in meta
    net = tiny_net()
    path = save_model(net, tmp_path / "tiny.npz", {"note": "npz"})
    loaded, meta = zoo.resolve_model(str(path))
    assert meta == {"note": "npz"}
    assert_same_weights(loaded, net)
    tcz.save(net, tmp_path / "tiny.tcz", meta={"note": "tcz"})
    decoded, meta = zoo.resolve_model(str(tmp_path / "tiny.tcz"))
    assert meta == {"note": "tcz"}
    assert_same_weights(decoded, net)


@pytest.mark.parametrize(("arg", "message"), [
    ("no-such-model", "neither a zoo name"),
    ("vgg16", "architecture without shipped weights"),
    ("missing/model.npz", "nor an existing file"),
])
def test_resolve_refuses_what_names_nothing_in_one_line(arg, message):
    with pytest.raises(UsageError, match=message) as info:
        zoo.resolve_model(arg)
    assert "\n" not in str(info.value)


def test_train_model_on_another_dataset(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=40, n_test=10, size=(28, 28), classes=4)
    model, meta = zoo.train_model("lenet-300-100", folder, seed=1, epochs=1, lr=0.05)
    assert model.layers[-1].params["W"].shape == (100, 4)
    assert meta["recipe"] == {**zoo.TRAINING_RECIPES["lenet-300-100"].__dict__,
                              "epochs": 1, "lr": 0.05}
    assert meta["seed"] == 1 and meta["test"]["n"] == 10
    assert set(meta["normalization"]) == {"mean", "std"}
    assert set(meta["data_sha256"]) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}
    with pytest.raises(UsageError, match="no training recipe for 'vgg16'"):
        zoo.train_model("vgg16", folder)


@pytest.mark.task_batchnorm_backward
def test_every_recipe_trains_its_architecture(make_dataset, tmp_path):
    folder = make_dataset(tmp_path / "d", n_train=40, n_test=8, size=(28, 28), classes=10)
    for name in zoo.TRAINING_RECIPES:
        model, meta = zoo.train_model(name, folder, epochs=1, progress=False)
        assert model.input_shape == (1, 28, 28) and meta["validation"]["n"] == 4
        assert model.layers[-1].params["W"].shape[-1] == 10
