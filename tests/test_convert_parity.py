"""Parity: onnxruntime fp32 vs PyTorch on real photos; the fp16 twin; the
precision-mode rule."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper
from skimage import data

from convert.__main__ import main
from convert.fp16 import to_float16
from convert.parity import (FP16_INPAINTED_MAX, Diff, ParityReport, ensure_same_weights, recommend_precision,
                            run_parity)
from convert.runtime import ort_session
from convert.samples import load_photos, make_mask
from convert.wrapper import load_wrapper
from convert_graphs import const, make_model, tensor
from edge_app import interface

# Registered as a plugin so the session fixture `exported` is built once for all modules.
pytest_plugins = ["convert_fixtures"]

# Measured on this machine (random-init, 2 photos): inpainted max 1.5e-5,
# attention max 4e-7. The tolerances leave room for other CPUs' kernels while
# staying far below one grey level (0.5 is where a rounded pixel changes).
INPAINTED_TOL = 1e-2
ATTENTION_TOL = 1e-5


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture(scope="module")
def report(exported, photo_dir):
    photos = load_photos(str(photo_dir), 2)
    return run_parity(exported.wrapper, exported.model(), photos)


def test_load_photos_and_masks(photo_dir):
    photos = load_photos(str(photo_dir), 5)
    assert [n for n, _ in photos] == ["astronaut.png", "coffee.png"]
    assert all(p.shape == (interface.MODEL_SIZE, interface.MODEL_SIZE, 3) and p.dtype == np.uint8 for _, p in photos)
    m0, m1 = make_mask(0), make_mask(1)
    # the same masks on every run and machine (parity reports are compared across them): the hole
    # pixel counts recorded when the masks were made, not a second call of this process
    assert (int(m0.sum()), int(m1.sum())) == (62197, 56139)
    assert not np.array_equal(m0, m1)
    assert set(np.unique(m0)) == {0.0, 1.0} and 0.05 < m0.mean() < 0.5


@pytest.mark.slow  # the exported 512 model
def test_ort_matches_pytorch(report):
    assert report.images == ["astronaut.png", "coffee.png"]
    assert report.fp32["inpainted"].max_abs < INPAINTED_TOL
    assert report.fp32["attention"].max_abs < ATTENTION_TOL
    assert report.fp32["mask_processed"].max_abs < 1e-6
    assert report.outside_hole_max < 1e-3


@pytest.mark.slow  # the exported 512 model
def test_fp16_run_differs_but_stays_small(report):
    inp = report.fp16["inpainted"]
    assert 0.0 < inp.mean_abs  # it really ran in fp16
    assert inp.max_abs < FP16_INPAINTED_MAX
    assert 0.0 < report.fp16_attention_row_l1 < 0.02
    text = report.to_text()
    assert "recommended ATC --precision_mode=" in text and "inpainted" in text


def _report(inpainted_max: float, row_l1: float) -> ParityReport:
    zero = Diff(0.0, 0.0)
    fp16 = {n: zero for n in interface.OUTPUTS}
    fp16["inpainted"] = Diff(inpainted_max, inpainted_max / 10)
    return ParityReport([], {n: zero for n in interface.OUTPUTS}, fp16, row_l1, 0.0)


def test_precision_rule():
    assert recommend_precision(_report(1.0, 0.001))[0] == "force_fp16"
    assert recommend_precision(_report(9.0, 0.001))[0] == "allow_fp32_to_fp16"
    assert recommend_precision(_report(1.0, 0.5))[0] == "allow_fp32_to_fp16"


def test_fp16_converter_keeps_resize_scales_fp32():
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["r"], mode="linear"),
             helper.make_node("Mul", ["r", "k"], ["y"])]
    inits = [const("roi", np.zeros(0, np.float32)), const("scales", np.array([1, 1, 2, 2], np.float32)),
             const("k", np.array(0.1, np.float32))]
    model = make_model(nodes, [tensor("x", [1, 1, 2, 2])], [tensor("y", [1, 1, 4, 4])], inits)
    helper.set_model_props(model, {"precision": "fp32", "source": "test"})
    half = to_float16(model)
    assert {p.key: p.value for p in half.metadata_props} == {"precision": "fp16", "source": "test"}
    assert {p.key: p.value for p in model.metadata_props}["precision"] == "fp32"
    types = {i.name: i.data_type for i in half.graph.initializer}
    assert types == {"roi": TensorProto.FLOAT, "scales": TensorProto.FLOAT, "k": TensorProto.FLOAT16}
    assert [n.op_type for n in half.graph.node] == ["Cast", "Resize", "Mul", "Cast"]
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2) + 0.3
    (y32,) = ort_session(model).run(None, {"x": x})
    (y16,) = ort_session(half).run(None, {"x": x})
    assert y16.dtype == np.float32
    np.testing.assert_allclose(y16, y32, atol=2e-3)
    assert model.graph.initializer[2].data_type == TensorProto.FLOAT  # input unchanged


@pytest.mark.slow  # the exported 512 model
def test_refuses_other_weights(exported):
    _, other = load_wrapper(None, exported.seed + 1)
    with pytest.raises(ValueError, match="seed"):
        ensure_same_weights(exported.model(), other)
    ensure_same_weights(exported.model(), exported.provenance)


@pytest.mark.slow  # the exported 512 model
def test_cli_parity(exported, photo_dir, capsys):
    assert main(["parity", str(exported.path), "--random-init", "--seed", str(exported.seed + 1),
                 "--images", str(photo_dir)]) == 2
    assert "random-init" in capsys.readouterr().err
    assert main(["parity", str(exported.path), "--random-init", "--images", str(photo_dir / "none")]) == 2
