"""Export of the random-init generator: ATC-ready graph with the sample's interface."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from convert.__main__ import main
from convert.check import check_model
from convert.export import LEFTOVER_OPS, simplify_static
from convert.runtime import ort_session, run_ort
from convert.samples import interface_inputs, make_mask
from convert.supported_ops import OPSET
from convert.wrapper import BLUR_SIZE, load_wrapper
from convert_graphs import make_model, tensor
from edge_app import interface
from training.checkpoint import file_sha256, save_checkpoint

# Registered as a plugin so the session fixture `exported` is built once for all modules.
pytest_plugins = ["convert_fixtures"]


@pytest.fixture(scope="module")
def outputs(exported):
    """One onnxruntime run on a textured image with a box + stroke hole."""
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (interface.MODEL_SIZE,) * 2 + (3,)).astype(np.uint8)
    img, mask = interface_inputs(bgr, make_mask(0))
    return img, mask, run_ort(ort_session(str(exported.path)), img, mask)


@pytest.mark.slow  # the exported 512 model
def test_export_passes_check_with_interface(exported):
    report = check_model(exported.model(), name=str(exported.path))
    assert report.ok, report.to_text()


@pytest.mark.slow  # the exported 512 model
def test_graph_is_simplified_static_opset11(exported):
    model = exported.model()
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    ops = {n.op_type for n in model.graph.node}
    assert not ops & LEFTOVER_OPS
    assert {"Conv", "MatMul", "Softmax", "Resize"} <= ops


@pytest.mark.slow  # the exported 512 model
def test_file_size_has_no_duplicated_constants(exported):
    size = exported.path.stat().st_size
    weights = sum(p.numel() * 4 for p in exported.wrapper.parameters())
    assert 11e6 < size < 13e6
    assert size - weights < 1 << 20  # coverage maps + identity kernel: ~0.4 MB


@pytest.mark.slow  # the exported 512 model
def test_metadata_provenance(exported):
    meta = {p.key: p.value for p in exported.model().metadata_props}
    assert set(interface.METADATA_KEYS) <= set(meta)
    assert meta["interface_version"] == interface.INTERFACE_VERSION
    assert meta["checkpoint_sha256"] == "random-init"
    assert meta["training_steps"] == "0"
    assert f"seed {exported.seed}" in meta["source"]
    assert meta["precision"] == "fp32"


@pytest.mark.slow  # the exported 512 model
def test_runs_with_interface_shapes(outputs):
    _, _, out = outputs
    for name, (shape, _) in interface.OUTPUTS.items():
        assert out[name].shape == tuple(shape) and out[name].dtype == np.float32
    assert 0.0 <= out["inpainted"].min() and out["inpainted"].max() <= 255.0


@pytest.mark.slow  # the exported 512 model
def test_inpainted_equals_input_outside_hole(outputs):
    img, mask, out = outputs
    known = mask[..., 0] == 0
    # Only float rounding of img / 127.5 - 1 and back: ~1e-5 measured.
    assert np.abs(out["inpainted"] - img)[known].max() < 1e-3
    assert np.abs(out["inpainted"] - img)[~known].max() > 1.0  # the hole was filled, not copied


@pytest.mark.slow  # the exported 512 model
def test_mask_processed_is_one_in_hole_and_fades_outside(outputs):
    _, mask, out = outputs
    soft, hole = out["mask_processed"][0, ..., 0], mask[0, ..., 0] > 0.5
    assert np.all(soft[hole] == 1.0)
    assert 0.0 <= soft.min() and soft.max() <= 1.0
    ring = ~hole & (soft > 0)
    assert ring.any() and soft[ring].max() < 1.0
    # Nothing beyond the kernel's reach (3 px) from the hole.
    reach = cv2.dilate(hole.astype(np.uint8), np.ones((BLUR_SIZE, BLUR_SIZE), np.uint8)) > 0
    assert np.all(soft[~reach] == 0.0)


@pytest.mark.slow  # the exported 512 model
def test_mask_is_binarised_in_graph(exported, outputs):
    img, mask, out = outputs
    soft_mask = np.where(mask > 0.5, 0.9, 0.2).astype(np.float32)  # JPEG-like, not binary
    again = run_ort(ort_session(str(exported.path)), img, soft_mask)
    for name in interface.OUTPUTS:
        np.testing.assert_array_equal(again[name], out[name])


@pytest.mark.slow  # the exported 512 model
def test_refuses_to_overwrite(exported, capsys):
    before = exported.path.read_bytes()
    assert main(["export", "--out", str(exported.path), "--random-init"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert exported.path.read_bytes() == before
    onnx.checker.check_model(str(exported.path))


@pytest.mark.slow  # the exported 512 model
def test_provenance_from_checkpoint(tmp_path, exported):
    path = tmp_path / "g.pt"
    config = {"model": dataclasses.asdict(exported.wrapper.generator.cfg)}
    save_checkpoint(path, {"generator": exported.wrapper.generator.state_dict(), "step": 1234, "config": config})
    wrapper, provenance = load_wrapper(str(path))
    meta = provenance.metadata()
    assert meta["checkpoint_sha256"] == file_sha256(path) and meta["training_steps"] == "1234"
    assert str(path) in meta["source"] and list(meta) == list(interface.METADATA_KEYS) + ["precision"]
    for a, b in zip(wrapper.parameters(), exported.wrapper.parameters()):
        assert torch.equal(a, b)


def test_simplify_refuses_runtime_shape_ops():
    # Zeros shaped like a dynamic input: onnxsim cannot fold the Shape.
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ConstantOfShape", ["s"], ["z"], name="zeros"),
             helper.make_node("Add", ["x", "z"], ["y"], name="add")]
    model = make_model(nodes, [tensor("x", ["n", 4])], [tensor("y", ["n", 4])])
    with pytest.raises(RuntimeError, match="Shape"):
        simplify_static(model)
