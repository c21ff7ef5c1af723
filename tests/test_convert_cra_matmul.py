"""The CRA aggregation MatMul model: numerics, pre-flight, CLI."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from convert.__main__ import main
from convert.check import check_model
from convert.cra_matmul import ATTENTION_INPUT, OUTPUT, PATCHES_INPUT, build_cra_matmul, parse_size, patch_values
from convert.runtime import ort_session
from edge_app import interface


def test_patch_values():
    assert patch_values((3072, 3072)) == 27648  # the Ascend sample's fixed size
    assert patch_values((64, 96)) == 2 * 3 * 3


def test_output_equals_numpy_matmul():
    size = (64, 96)
    model = build_cra_matmul(size)
    rng = np.random.default_rng(0)
    n = interface.ATTENTION_CELLS
    attention = rng.random((n, n), dtype=np.float32)
    attention /= attention.sum(axis=1, keepdims=True)
    patches = rng.uniform(-40, 40, (n, patch_values(size))).astype(np.float32)
    (out,) = ort_session(model).run([OUTPUT], {ATTENTION_INPUT: attention, PATCHES_INPUT: patches})
    expected = attention.astype(np.float64) @ patches.astype(np.float64)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-3)


def test_passes_check_without_interface():
    model = build_cra_matmul((3072, 3072))
    report = check_model(model, check_interface=False)
    assert report.ok, report.to_text()
    assert report.op_counts == {"MatMul": 1}
    assert not check_model(model, check_interface=True).ok  # it is not the inpainting model


@pytest.mark.parametrize("text", ["3000x3072", "3072", "axb", "0x32", "-32x32"])
def test_bad_sizes_are_rejected(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_cli_writes_model_and_script(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["cra-matmul", "--size", "2048x1024", "--out", str(tmp_path)]) == 0
    model = onnx.load(str(tmp_path / "cra_matmul_2048x1024.onnx"))
    p = patch_values((2048, 1024))
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1024, p]
    script = (tmp_path / "convert.sh").read_text()
    assert f'--input_shape="attention:1024,1024;patches:1024,{p}"' in script and "--input_format=ND" in script
    assert main(["cra-matmul", "--size", "2048x1024", "--out", str(tmp_path)]) == 2  # no silent overwrite
    assert main(["cra-matmul", "--size", "100x100", "--out", str(tmp_path)]) == 2
    assert "multiples of 32" in capsys.readouterr().err
