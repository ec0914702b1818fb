"""The stages' budget arithmetic and retraining recipe; strict JSON in the report."""

import json
import math

import pytest

from tinycompress import pipeline, stages


def test_the_budget_is_points_of_validation_error_above_the_original():
    spend = stages.Budget(e0=0.0120, points=0.2)
    assert spend.limit == pytest.approx(0.0140)
    assert spend.left(0.0130) == pytest.approx(0.1)
    assert spend.left(0.0150) == pytest.approx(-0.1)
    assert spend.allows(1 - 0.986) and not spend.allows(1 - 0.9858)  # 1.40% is at the limit


def test_retraining_follows_the_models_recipe_and_makes_enough_steps():
    meta = {"recipe": {"lr": 0.1, "batch_size": 128, "shift": 2}}
    settings = pipeline.Settings(retrain_epochs=2, retrain_lr_factor=0.1)
    mnist = stages.retrain_recipe(meta, settings, 55_000)
    assert (mnist.epochs, mnist.batch_size, mnist.shift) == (2, 128, 2)
    assert mnist.lr == pytest.approx(0.01)
    small = stages.retrain_recipe(meta, settings, 1_300)  # 11 steps an epoch
    assert small.epochs == math.ceil(stages.MIN_RETRAIN_STEPS / 11)
    assert stages.retrain_recipe({}, settings, 1_300).batch_size == 64  # no recipe recorded


def test_the_report_json_has_no_nan(tmp_path):
    doc = {"a": float("nan"), "b": [1.0, float("inf"), {"c": -float("inf")}], "d": "x"}
    assert pipeline.finite(doc) == {"a": None, "b": [1.0, None, {"c": None}], "d": "x"}
    json.dumps(pipeline.finite(doc), allow_nan=False)  # strict JSON: would raise on a NaN


def test_quantisation_takes_a_bit_away_while_the_budget_allows(monkeypatch, tiny_mlp, blobs):
    """Solo errors that overstate every width below 4 bits start the search at 4; fine-tuned,
    the model is well within a generous budget, so each layer in turn loses a bit."""
    from tinycompress.nn.data import Splits
    from tinycompress.nn.train import Recipe, evaluate, train_with_recipe

    model = tiny_mlp(0)
    X, y = blobs(300, 0)
    train_with_recipe(model, X, y, Recipe(epochs=5, batch_size=32, lr=0.05), progress=False)
    data = Splits(X, y, X, y, X, y, {"n": 300, "seed": 0})
    pessimist = {n: {b: (0.0 if b >= 4 else 1.0) for b in range(2, 9)} for n in ("fc1", "fc2")}
    monkeypatch.setattr(stages.allocation, "solo_errors", lambda *a, **k: pessimist)
    names = [lay.name for lay in model.layers if "W" in lay.params]
    pessimist = {n: pessimist[p] for n, p in zip(names, ("fc1", "fc2"), strict=True)}
    settings = pipeline.Settings(finetune_epochs=0)
    e0 = evaluate(model, X, y)["error"]
    generous, impossible = stages.Budget(e0=e0, points=100.0), stages.Budget(e0=-1.0, points=0)
    for spend, widths in ((generous, [3, 3]), (impossible, [8, 8])):
        out, info = stages.stage_quantize(model, data, settings, spend, False, lambda _: None)
        assert info["tried"][0]["bits"] == ",".join(f"{n}=4" for n in names)
        assert [int(kv.split("=")[1]) for kv in info["bits"].split(",")] == widths
    assert len(info["tried"]) == 1 + 8  # over budget: widened to 8 bits, nothing taken away
