"""The energy cost model: hand-checkable numbers."""

import pytest

from tinycompress import zoo
from tinycompress.energy import PJ_45NM, effective_multadds, inference_energy


@pytest.mark.task_inference_energy
def test_dense_lenet_300_100_reads_every_weight_from_dram():
    model = zoo.build("lenet-300-100")
    e = inference_energy(model, 4 * model.num_params())
    assert not e.on_chip and e.weight_words == 266_610
    assert e.memory_pj == 266_610 * 640.0
    assert e.compute_pj == pytest.approx(266_200 * (3.7 + 0.9))
    assert e.total_pj == e.compute_pj + e.memory_pj


@pytest.mark.task_inference_energy
def test_pruned_small_model_fits_on_chip_and_skips_zeros():
    model = zoo.build("lenet5")
    fc1 = model.layer("fc1").params["W"]
    fc1.reshape(-1)[: fc1.size // 4 * 3] = 0  # prune 75% of fc1
    macs = effective_multadds(model)
    assert macs == model.multadds() - (fc1.size // 4 * 3)
    e = inference_energy(model, 40_000)
    assert e.on_chip and e.memory_pj == 10_000 * PJ_45NM["sram_read32"]
    assert inference_energy(model, 40_000, skip_zeros=False).multadds == model.multadds()
