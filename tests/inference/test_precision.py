"""One model run four ways and measured alike: error, time, energy; the report's rows."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress import report
from tinycompress.energy import PRECISIONS, stored_weight_bytes
from tinycompress.errors import UsageError
from tinycompress.inference import precision


@pytest.fixture
def shared_mlp(pruned_quantised):
    model = pruned_quantised("lenet-300-100", 0.9, 4)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 1, 28, 28)).astype(np.float32)
    return model, X, model.predict(X), rng.standard_normal((100, 1, 28, 28)).astype(np.float32)


@pytest.mark.task_magnitude_prune
@pytest.mark.task_requantize
def test_every_variant_runs_the_model_to_its_own_precision(shared_mlp) -> None:
    model, X, labels, calibration = shared_mlp
    runs = precision.runners(model, calibration=calibration)
    assert list(runs) == list(precision.VARIANTS)
    scores = {name: run(X[:16]) for name, run in runs.items()}
    assert np.array_equal(scores["int8"], scores["int8 int64 reference"])
    np.testing.assert_allclose(scores["fp32 CSR"], scores["fp32 dense"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores["codebook"], scores["fp32 dense"], rtol=1e-4, atol=1e-4)
    assert scores["fp16"].dtype == np.float16 and scores["int8"].dtype == np.uint8
    for name in ("fp16", "int8"):
        assert (precision.predict(runs[name], X, batch_size=7) == labels).mean() >= 0.8
    assert set(precision.DEFAULT_VARIANT) == set(PRECISIONS)


@pytest.mark.task_magnitude_prune
def test_evaluate_precision_reports_error_time_and_energy(shared_mlp) -> None:
    model, X, labels, _ = shared_mlp
    result = precision.evaluate_precision(model, X, labels, "codebook", repeat=1, min_seconds=0)
    assert result["precision"] == "codebook" and result["n"] == 80
    assert result["error"] == pytest.approx(1 - result["accuracy"])
    assert result["correct"] >= 78  # the labels are fp32's own predictions
    assert set(result["seconds"]) == {"1", "64"} and min(result["seconds"].values()) > 0
    energy = result["energy"]
    assert energy["weight_bytes"] == stored_weight_bytes(model, "codebook")
    assert energy["total_pj"] == pytest.approx(energy["compute_pj"] + energy["memory_pj"])
    assert "per kept weight" in result["assumptions"]
    few = precision.evaluate_precision(model, X[:10], labels[:10], "fp32", repeat=1,
                                       min_seconds=0, weight_bytes=1234)
    assert set(few["seconds"]) == {"1"} and few["energy"]["weight_bytes"] == 1234


@pytest.mark.task_magnitude_prune
def test_bad_precisions_and_missing_calibration_are_refused(shared_mlp) -> None:
    model, X, labels, _ = shared_mlp
    with pytest.raises(UsageError, match="unknown precision 'bf16'"):
        precision.evaluate_precision(model, X, labels, "bf16")
    with pytest.raises(UsageError, match="calibration"):
        precision.engine(model, "int8")
    with pytest.raises(UsageError, match="unknown variants"):
        precision.runners(model, ["fp64"])
    with pytest.raises(UsageError, match="needs at least 64"):
        precision.time_runner(model.forward, X[:10], 64)


@pytest.mark.task_requantize
def test_evaluate_source_reads_a_files_weights_in_its_own_form(shipped) -> None:
    net = shipped("lenet-300-100")
    X, y = net["X"][:64], net["y"][:64]
    result = precision.evaluate_source(str(net["path"]), net["model"], net["norm"], X, y,
                                       "int8", repeat=1, min_seconds=0)
    assert result["model"] == str(net["path"]) and result["energy"]["on_chip"]
    assert result["energy"]["weight_bytes"] == net["path"].stat().st_size
    text = precision.format_evaluation(result)
    assert text.startswith(f"{net['path']} (int8): accuracy ")
    assert "per batch of 64" in text and "from SRAM" in text and "8-bit integer multiply" in text


@pytest.mark.task_magnitude_prune
@pytest.mark.task_requantize
def test_latency_table_times_every_variant_against_fp32_dense(shared_mlp) -> None:
    model, X, _, calibration = shared_mlp
    rows = precision.latency_table(model, X, ["int8", "codebook"], calibration,
                                   batches=(1, 8), repeat=1, min_seconds=0)
    assert [(r["variant"], r["batch"]) for r in rows] == [
        (v, b) for b in (1, 8) for v in ("fp32 dense", "int8", "codebook")]
    assert all(r["ratio"] == r["median_ratio"] == 1.0 for r in rows
               if r["variant"] == "fp32 dense")
    assert all(0 < r["seconds"] == r["median_seconds"] for r in rows)  # one batch: no spread
    spread = precision.latency_table(model, X, ["int8"], calibration, batches=(1,), repeat=5,
                                     min_seconds=0)
    assert all(0 < r["seconds"] <= r["median_seconds"] for r in spread)


@pytest.mark.task_magnitude_prune
@pytest.mark.task_requantize
def test_the_report_gains_a_row_per_metric_with_every_precision(shared_mlp, tmp_path) -> None:
    model, X, labels, calibration = shared_mlp
    runs = {p: precision.evaluate_precision(model, X, labels, p, calibration=calibration,
                                            repeat=1, min_seconds=0) for p in PRECISIONS}
    rows = report.precision_rows({"precisions": runs})
    assert [row.split(" (")[0] for row in rows] == [
        "| 1. Test error", "| 3. Inference time, batch 1", "| 3. Inference time, batch 64",
        "| 4. Energy per inference"]
    assert all("(fp32 / fp16 / int8 / codebook) | - |" in row for row in rows)
    assert rows[0].endswith(" / ".join(f"{100 * r['error']:.2f}%" for r in runs.values()) + " |")
    assert report.precision_rows({}) == []


@pytest.mark.task_magnitude_prune
def test_the_markdown_report_shows_the_rows_and_each_cost_model(shared_mlp, tmp_path) -> None:
    from tests.test_report import REPORT  # the report test's round-number pipeline report

    model, X, labels, _ = shared_mlp
    runs = {p: precision.evaluate_precision(model, X[:8], labels[:8], p, repeat=1,
                                            min_seconds=0) for p in ("fp32", "codebook")}
    md = report.render_markdown({**REPORT, "precisions": runs}, tmp_path / "lenet5")
    energy_row = md.index("| 4. Energy per inference (45 nm model) |")
    assert energy_row < md.index("| 1. Test error (n = 8) (fp32 / codebook) | - |")
    assert md.rstrip().endswith(f"- {runs['codebook']['assumptions']}")
    assert "(fp32 / codebook)" not in report.render_markdown(REPORT, tmp_path / "plain")
