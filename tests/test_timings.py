"""Stage timings: one vocabulary (edge_app.timings.STAGES) that every part
of the app records in and reads through."""
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter
from edge_app.timings import STAGES, in_order


def test_in_order_follows_the_pipeline_and_rejects_other_names():
    assert in_order({"blend": 3.0, "decode": 1.0, "inference": 2.0}) == [
        ("decode", 1.0), ("inference", 2.0), ("blend", 3.0)]
    with pytest.raises(ValueError, match="unknown stage.*copy"):
        in_order({"decode": 1.0, "copy": 2.0})


def test_the_inpainter_and_its_backends_record_only_stage_names(acl, tmp_path):
    image = np.full((200, 300, 3), 90, np.uint8)
    mask = np.zeros((200, 300), np.uint8)
    mask[60:120, 100:200] = 1
    models = {"onnxruntime": edge_fakes.fake_hifill(tmp_path / "fake.onnx"),
              "acl": edge_fakes.fake_om(tmp_path, "fake")}
    recorded = {}
    for backend, model in models.items():
        with Inpainter(model=model, backend=backend) as inpaint:
            inpaint(image, mask)
            recorded[backend] = [stage for stage, _ in in_order(inpaint.timings)]
    assert recorded["onnxruntime"] == ["preprocess", "inference", "cra", "blend"]
    assert recorded["acl"] == ["preprocess", "h2d", "inference", "d2h", "cra", "blend"]
    assert set(STAGES) - set(recorded["acl"]) == {"decode", "encode"}  # the callers' file I/O
