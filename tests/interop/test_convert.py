"""What ``tinycompress import`` and ``export`` do: formats by suffix, the input convention,
the reports; the commands end to end; and the package without the optional extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.errors import InteropError, UsageError
from tinycompress.interop import convert, safetensors
from tinycompress.nn.architecture import architecture, state_arrays
from tinycompress.nn.base import SHAPE_ONLY
from tinycompress.nn.data import data_dir
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.model import Sequential

from . import EXTRA_MISSING

ROOT = Path(__file__).resolve().parents[2]


def _same(a, b) -> bool:
    return architecture(a) == architecture(b) and all(
        np.array_equal(x, y) for x, y in zip(state_arrays(a).values(), state_arrays(b).values(),
                                             strict=True))


def test_a_safetensors_export_records_what_its_import_needs(tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    report = convert.export_model("lenet-300-100", out, "safetensors")
    assert report["bytes"] == out.stat().st_size
    assert report["source_bytes"] == zoo.pretrained_path("lenet-300-100").stat().st_size
    model, meta = convert.import_model(out)
    original, original_meta = zoo.resolve_model("lenet-300-100")
    assert _same(model, original)
    assert meta["normalization"] == original_meta["normalization"]  # exact: recorded as JSON
    _, given = convert.import_model(out, mean=0.5)  # the command line's word wins
    assert given["normalization"] == {"mean": 0.5, "std": 1.0}


def test_a_safetensors_state_dict_needs_an_architecture(tmp_path: Path) -> None:
    path = safetensors.save(tmp_path / "w.safetensors", {"fc.weight": np.ones((2, 2), "f4")})
    with pytest.raises(UsageError, match="records no architecture: give --arch"):
        convert.import_model(path)
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"name": "m", "input_shape": [1, 2, 2], "layers": [
        {"type": "Flatten", "config": {"name": "flat"}},
        {"type": "Dense", "config": {"in_features": 4, "out_features": 2, "name": "fc"}}]}))
    with pytest.raises(InteropError, match=r"missing \['fc.bias'\]"):
        convert.import_model(path, arch=arch)
    arch.write_text('{"name": "m", "input_shape": [1, 2, 2], "layers": [], "extra": 1}')
    with pytest.raises(InteropError, match="unknown key 'extra'"):
        convert.import_model(path, arch=arch)


@pytest.mark.parametrize(("name", "match"), [
    ("model.pt", "is a pickle, which is never loaded"),
    ("model.PTH", "is a pickle"),
    ("model.npz", "import reads .onnx and .safetensors files"),
])
def test_what_import_does_not_read(tmp_path: Path, name: str, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x80\x04anything")  # never opened
    with pytest.raises(UsageError, match=match):
        convert.import_model(path)


def test_export_refuses_unknown_formats_and_compact_safetensors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="formats onnx, safetensors"):
        convert.export_model("lenet5", tmp_path / "x", "tflite")
    with pytest.raises(UsageError, match="with --compact"):
        convert.export_model("lenet5", tmp_path / "x", "safetensors", compact=True)
    assert not (tmp_path / "x").exists()


def test_the_check_uses_test_images_when_they_fit_else_seeded_noise() -> None:
    lenet, _ = zoo.resolve_model("lenet5")
    pixels, what = convert.check_pixels(lenet, 3, None)
    assert what == "test images" and pixels.shape == (3, 1, 28, 28) and pixels.max() <= 1
    other = Sequential([Flatten(), Dense(1024, 2, rng=SHAPE_ONLY)], (1, 32, 32))
    first, what = convert.check_pixels(other, 2, None)
    assert what.startswith("random") and first.shape == (2, 1, 32, 32)
    np.testing.assert_array_equal(convert.check_pixels(other, 2, None)[0], first)


def test_an_onnx_export_reports_its_bytes_beside_the_tcz_and_its_check(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason=EXTRA_MISSING)
    tcz = data_dir() / "compressed" / "lenet5.tcz"
    report = convert.export_model(str(tcz), tmp_path / "c.onnx", compact=True, check=50)
    assert report["bytes"] == (tmp_path / "c.onnx").stat().st_size
    assert report["source_bytes"] == tcz.stat().st_size
    assert report["dense_bytes"] >= 6 * report["bytes"]
    assert report["check"] == {"images": "test images", "n": 50, "same_class": 50,
                               "max_abs_diff": pytest.approx(0, abs=1e-4)}
    text = convert.format_export(report)
    assert "compact ONNX" in text and f"{tcz.stat().st_size:,} B" in text


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinycompress", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, check=False)


def test_the_commands_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason=EXTRA_MISSING)
    done = _run("export", "lenet-300-100", "--out", "m.onnx", "--check", "20", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the same class on 20" in done.stdout
    done = _run("import", "m.onnx", "--out", "m.npz", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"]["producer"].startswith("tinycompress")
    assert _same(zoo.resolve_model(str(tmp_path / "m.npz"))[0], zoo.resolve_model(
        "lenet-300-100")[0])
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    done = _run("import", "bad.onnx", "--out", "b.npz", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "not a valid ONNX model" in done.stderr and not (tmp_path / "b.npz").exists()


def test_the_package_imports_and_reads_safetensors_without_the_extra(tmp_path: Path) -> None:
    script = f"""
import sys
for name in ("onnx", "onnxruntime", "torch", "safetensors"):
    sys.modules[name] = None  # as if not installed
import tinycompress.cli, tinycompress.interop.convert as convert
from tinycompress.errors import InteropError
model, _ = convert.import_model(convert.export_model(
    "lenet5", {str(tmp_path / 'm.safetensors')!r}, "safetensors")["out"])
try:
    convert.export_model("lenet5", {str(tmp_path / 'm.onnx')!r})
except InteropError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("ONNX files need the Python package 'onnx', which is not "
                                   "installed: pip install 'tinycompress[interop]'")
    assert not (tmp_path / "m.onnx").exists()
