"""The energy cost model: hand-checkable numbers."""

import pytest

from tinycompress import energy, zoo
from tinycompress.energy import PJ_45NM, effective_multadds, inference_energy
from tinycompress.errors import UsageError


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


def test_the_table_prices_every_width_as_horowitz() -> None:
    want = {"iadd8": 0.03, "imul8": 0.2, "iadd32": 0.1, "imul32": 3.1, "fadd16": 0.4,
            "fmul16": 1.1, "fadd32": 0.9, "fmul32": 3.7}
    assert {k: PJ_45NM[k] for k in want} == want
    assert PJ_45NM["fmul32"] / PJ_45NM["imul8"] == pytest.approx(18.5)  # the int8 multiply
    assert set(energy.PRECISIONS) == set(energy.OPERATIONS)
    ops = {op for units in energy.OPERATIONS.values() for o in units.values() for op in o}
    assert ops <= set(PJ_45NM) and ops <= set(energy.OPERATION_NAMES)


def test_each_precision_counts_its_own_operations() -> None:
    model = zoo.build("lenet-300-100")  # dense: 266,200 MultAdds, 300 + 100 + 10 outputs
    assert energy.weight_layer_outputs(model) == 410
    assert energy.operation_counts(model, "fp32") == {"fmul32": 266_200, "fadd32": 266_200}
    assert energy.operation_counts(model, "fp16") == {"fmul16": 266_200, "fadd32": 266_200}
    assert energy.operation_counts(model, "int8") == {
        "imul8": 266_200, "iadd32": 266_200 + 2 * 410, "imul32": 410}


@pytest.mark.task_magnitude_prune
def test_codebook_counts_an_add_per_kept_weight_and_a_multiply_per_group(
        pruned_quantised) -> None:
    model = pruned_quantised("lenet-300-100", 0.9, 2)  # 4 centroids per layer
    ops = energy.operation_counts(model, "codebook")
    assert ops["fadd32"] == effective_multadds(model)
    assert ops["fmul32"] <= 4 * 410 and ops["fmul32"] < ops["fadd32"] / 10


@pytest.mark.task_magnitude_prune
def test_narrower_weights_are_read_in_fewer_words_and_may_fit_on_chip(
        pruned_quantised) -> None:
    model = zoo.build("lenet5")  # 431,080 parameters, 430,500 of them weights
    assert energy.stored_weight_bytes(model, "fp32") == 4 * 431_080
    assert energy.stored_weight_bytes(model, "fp16") == 2 * 431_080
    assert energy.stored_weight_bytes(model, "int8") == 430_500 + 4 * 580
    fp32, int8 = (energy.precision_energy(model, p) for p in ("fp32", "int8"))
    assert not fp32.on_chip and int8.on_chip  # 1.7 MB against 433 KB, a 512 KiB budget
    assert int8.memory_pj == -(-int8.weight_bytes // 4) * PJ_45NM["sram_read32"]
    assert int8.compute_pj == pytest.approx(
        model.multadds() * (0.2 + 0.1) + energy.weight_layer_outputs(model) * (3.1 + 0.2))
    assert fp32.compute_pj / int8.compute_pj > 10
    shared = pruned_quantised("lenet5", 0.9, 4)  # 16 shared values a layer, and the zero
    rows = [r for r in shared.rows() if r.weights]
    assert {r.distinct_weights for r in rows} == {16}
    bits = sum(5 * r.weights + 32 * 16 + 32 * (r.params - r.weights) for r in rows)
    assert energy.stored_weight_bytes(shared, "codebook") == -(-bits // 8)


@pytest.mark.task_magnitude_prune
@pytest.mark.task_inference_energy
def test_fp32_by_width_is_the_fp32_model(pruned_quantised) -> None:
    model = pruned_quantised("lenet5", 0.9, 4)
    for nbytes in (30_000, 4 * model.num_params()):
        e, w = inference_energy(model, nbytes), energy.precision_energy(model, "fp32", nbytes)
        assert (w.on_chip, w.memory_pj) == (e.on_chip, e.memory_pj)
        assert w.compute_pj == pytest.approx(e.compute_pj) and w.total_pj == pytest.approx(
            e.total_pj)


def test_assumptions_print_the_prices_they_use_and_bad_precisions_are_refused() -> None:
    text = energy.assumptions("int8")
    assert text.startswith("int8: per MultAdd of a nonzero weight: 8-bit integer multiply "
                           "(0.2 pJ) + 32-bit integer add (0.1 pJ); per output value")
    cheaper = energy.assumptions("int8", {**PJ_45NM, "imul8": 0.05})
    assert "(0.05 pJ)" in cheaper and "(0.2 pJ)" not in cheaper
    model = zoo.build("lenet-300-100")
    with pytest.raises(UsageError, match="unknown precision 'int4'"):
        energy.precision_energy(model, "int4")
    with pytest.raises(UsageError, match="unknown precision"):
        energy.stored_weight_bytes(model, "bf16")


def test_sram_reads_are_priced_by_the_size_of_the_sram() -> None:
    # Horowitz's 64-bit reads: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ; a 32-bit word is half
    assert energy.sram_read32_pj(8 * 1024) == PJ_45NM["sram_read32"] == 5.0
    assert energy.sram_read32_pj(8 * 1024 + 1) == 10.0
    assert energy.sram_read32_pj(energy.DEFAULT_SRAM_BYTES) == 50.0  # 512 KiB: the 1 MB row
    table = energy.sized_sram_table()
    assert table["sram_read32"] == 50.0 and table["dram_read32"] == PJ_45NM["dram_read32"]
    assert PJ_45NM["sram_read32"] == 5.0  # the shared table is not changed
    for bad in (0, 2 * 1024 * 1024):
        with pytest.raises(UsageError, match="no SRAM read energy"):
            energy.sram_read32_pj(bad)


@pytest.mark.task_inference_energy
def test_a_larger_sram_costs_an_on_chip_model_ten_times_the_reads() -> None:
    model = zoo.build("lenet-300-100")
    small, large = (inference_energy(model, 16_000, table=t)
                    for t in (PJ_45NM, energy.sized_sram_table()))
    assert small.on_chip and large.on_chip
    assert large.memory_pj == 10 * small.memory_pj == 4_000 * 50.0
    assert large.compute_pj == small.compute_pj
    off_chip = inference_energy(model, 4 * model.num_params(), table=energy.sized_sram_table())
    assert off_chip.memory_pj == 266_610 * PJ_45NM["dram_read32"]  # DRAM is priced as before


@pytest.mark.task_inference_energy
def test_counted_energy_is_inference_energy_from_counts() -> None:
    model = zoo.build("lenet5")
    for nbytes in (30_001, 4 * model.num_params()):
        e = inference_energy(model, nbytes, skip_zeros=False)
        assert energy.counted_energy(model.multadds(), nbytes) == e
    vgg = energy.counted_energy(15_470_264_320, 553_376_512)  # VGG-16 dense, from DRAM
    assert not vgg.on_chip and vgg.memory_pj == 553_376_512 / 4 * 640.0
    assert vgg.compute_pj == pytest.approx(15_470_264_320 * 4.6)
