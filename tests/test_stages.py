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
