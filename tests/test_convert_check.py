"""The offline ATC pre-flight names what ATC (CANN 5.0.4) would reject."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper

from convert.__main__ import main
from convert.check import check_model
from convert.supported_ops import SUPPORTED_OPS, help_text
from convert_graphs import const, make_model, tensor


def _issues(model: onnx.ModelProto, rule: str, interface: bool = False):
    return [i for i in check_model(model, check_interface=interface).issues if i.rule == rule]


def _conv_model(weight_from_data: bool) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[1, 1, 1, 1])]
    inits = [const("w", np.ones((2, 2, 3, 3), np.float32))]
    if weight_from_data:  # weight = x reshaped: data-dependent, as in the reference's patch convolutions
        nodes.insert(0, helper.make_node("Reshape", ["x", "wshape"], ["w"], name="make_weight"))
        inits = [const("wshape", np.array([2, 2, 3, 3], np.int64))]
    return make_model(nodes, [tensor("x", [1, 2, 6, 6])], [tensor("y", [1, 2, 6, 6])], inits)


def test_clean_graph_passes():
    report = check_model(_conv_model(weight_from_data=False), check_interface=False)
    assert report.ok, report.to_text()
    assert "PASS" in report.summary()


def test_unsupported_operator_is_named():
    model = make_model([helper.make_node("Einsum", ["a", "b"], ["c"], name="my_einsum", equation="ij,jk->ik")],
                       [tensor("a", [2, 3]), tensor("b", [3, 4])], [tensor("c", [2, 4])], opset=12)
    report = check_model(model, check_interface=False)
    ops = [i for i in report.issues if i.rule == "operator"]
    assert [(i.op_type, i.node) for i in ops] == [("Einsum", "my_einsum")]
    assert "FAIL [operator] Einsum 'my_einsum'" in report.to_text()
    assert [i.rule for i in report.issues if i.rule == "opset"] == ["opset"]  # opset 12 named too


def test_dynamic_dimension_is_named():
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [tensor("x", ["batch", 3, 8, 8])], [tensor("y", ["batch", 3, 8, 8])])
    issues = _issues(model, "static-shape")
    assert {i.node for i in issues} == {"x", "y"}
    assert all("'batch'" in i.message for i in issues)


def test_unknown_inferred_shape_is_named():
    # Static graph inputs and outputs, but a Reshape whose shape comes from
    # data: the intermediate tensor's shape is unknown, so the node is named.
    nodes = [helper.make_node("Reshape", ["x", "s"], ["t"], name="dyn_reshape"),
             helper.make_node("Relu", ["t"], ["y"], name="relu")]
    model = make_model(nodes, [tensor("x", [1, 12]), tensor("s", [2], onnx.TensorProto.INT64)], [tensor("y", [3, 4])])
    static = _issues(model, "static-shape")
    assert [(i.op_type, i.node) for i in static] == [("Reshape", "dyn_reshape")]
    assert [(i.op_type, i.node) for i in _issues(model, "constant-input")] == [("Reshape", "dyn_reshape")]


def test_conv_weight_from_data_is_named():
    issues = _issues(_conv_model(weight_from_data=True), "conv-weight")
    assert [(i.op_type, i.node) for i in issues] == [("Conv", "conv0")]
    assert "computed from data" in issues[0].message


def test_conv_weight_from_constant_node_is_accepted():
    model = _conv_model(weight_from_data=False)
    weight = model.graph.initializer.pop()
    model.graph.node.insert(0, helper.make_node("Constant", [], ["w"], name="wconst", value=weight))
    assert check_model(model, check_interface=False).ok


def _resize_model(scales_from_data: bool, mode: str = "linear", coord: str = "half_pixel",
                  scales=(1.0, 1.0, 2.0, 2.0)) -> onnx.ModelProto:
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="up", mode=mode,
                              coordinate_transformation_mode=coord)]
    inits = [const("roi", np.zeros(0, np.float32))]
    inputs = [tensor("x", [1, 2, 4, 4])]
    if scales_from_data:
        inputs.append(tensor("scales", [4]))
    else:
        inits.append(const("scales", np.array(scales, np.float32)))
    out = [int(a * b) for a, b in zip([1, 2, 4, 4], scales)]
    return make_model(nodes, inputs, [tensor("y", out)], inits)


def test_resize_constant_scales_pass():
    assert check_model(_resize_model(False), check_interface=False).ok


def test_resize_with_data_scales_is_named():
    issues = _issues(_resize_model(True), "constant-input")
    assert [(i.op_type, i.node) for i in issues] == [("Resize", "up")]
    assert "'scales'" in issues[0].message


@pytest.mark.parametrize("mode, coord, needle", [
    ("cubic", "half_pixel", "mode 'cubic'"),
    ("linear", "pytorch_half_pixel", "'pytorch_half_pixel'"),
    ("linear", "tf_crop_and_resize", "'tf_crop_and_resize'"),
])
def test_resize_modes_are_checked(mode, coord, needle):
    issues = _issues(_resize_model(False, mode, coord), "resize")
    assert len(issues) == 1 and issues[0].node == "up" and needle in issues[0].message


def test_resize_of_channels_is_rejected():
    issues = _issues(_resize_model(False, scales=(1.0, 2.0, 2.0, 2.0)), "resize")
    assert len(issues) == 1 and "N or C" in issues[0].message


def test_custom_domain_is_rejected():
    node = helper.make_node("MyOp", ["x"], ["y"], name="custom", domain="com.example")
    model = make_model([node], [tensor("x", [2])], [tensor("y", [2])])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    issues = _issues(model, "operator")
    assert [(i.op_type, i.node) for i in issues] == [("MyOp", "custom")]


def test_interface_mismatch_is_reported():
    model = _conv_model(weight_from_data=False)
    issues = _issues(model, "interface", interface=True)
    assert {i.node for i in issues} == {"inputs", "outputs", "metadata_props"}


def test_supported_table_drives_help():
    text = help_text()
    assert "Einsum" not in SUPPORTED_OPS and "Einsum" not in text
    assert all(op in text for op in ("Resize", "MatMul", "Xor"))
    assert f"Supported operators ({len(SUPPORTED_OPS)})" in text


def test_cli_exit_codes_and_json(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    onnx.save(_conv_model(weight_from_data=True), str(bad))
    assert main(["check", str(bad), "--no-interface", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and {i["node"] for i in report["issues"]} >= {"conv0"}
    good = tmp_path / "good.onnx"
    onnx.save(_conv_model(weight_from_data=False), str(good))
    assert main(["check", str(good), "--no-interface"]) == 0
    assert "summary: PASS" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "missing.onnx")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_rejects_unknown_flags_but_passes_bundle_its_own(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", "m.onnx", "--bogus"])
    assert exc.value.code == 2 and "--bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bundle", "--help"])  # convert/bundle.py's own parser answers
    assert exc.value.code == 0 and "--model" in capsys.readouterr().out
