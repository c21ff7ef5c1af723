"""Offline pre-flight of an ONNX graph: what ATC (CANN 5.0.4) would reject.

No CANN toolkit runs here, so this is the last line of defence before a
conversion on a CANN host: opset, operator coverage, static shapes, constant
convolution weights and shape inputs, Resize modes, and (optionally) the
model interface of ``edge_app/interface.py``. Every problem names the node.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterator, List, Optional

import numpy as np
import onnx
from onnx import numpy_helper

from edge_app import interface
from .supported_ops import (
    CONSTANT_INPUTS,
    DATA_DEPENDENT_OPS,
    OPSET,
    RESIZE_COORDINATE_MODES,
    RESIZE_MODES,
    SUPPORTED_OPS,
    WEIGHT_OPS,
)

_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Issue:
    """One problem: the rule broken, where (op type and node or tensor name), and why."""

    rule: str
    op_type: str
    node: str
    message: str

    def line(self) -> str:
        where = f"{self.op_type} '{self.node}'" if self.op_type else f"'{self.node}'"
        return f"FAIL [{self.rule}] {where}: {self.message}"


@dataclass
class CheckReport:
    """Result of :func:`check_model`; ``ok`` when no issue was found."""

    model: str
    nodes: int
    op_counts: Dict[str, int]
    issues: List[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def summary(self) -> str:
        if self.ok:
            return f"summary: PASS, {self.nodes} nodes, {len(self.op_counts)} operator types, no issues ({self.model})"
        by_rule = Counter(i.rule for i in self.issues)
        rules = ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items()))
        return f"summary: FAIL, {len(self.issues)} issue(s) ({rules}) in {self.model}"

    def to_text(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.op_counts.items()))
        return "\n".join([f"{self.model}: {self.nodes} nodes: {ops}", *(i.line() for i in self.issues), self.summary()])

    def to_json(self) -> str:
        return json.dumps({
            "model": self.model,
            "ok": self.ok,
            "summary": self.summary(),
            "nodes": self.nodes,
            "op_counts": self.op_counts,
            "issues": [asdict(i) for i in self.issues],
        }, indent=2)


def _nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node, including those in subgraphs (If branches)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
                yield from _nodes(sub)


def _node_name(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"<unnamed #{index}>"


def constant_values(graph: onnx.GraphProto) -> Dict[str, np.ndarray]:
    """Tensors known without running the graph: initializers and Constant outputs."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            attr = next((a for a in node.attribute if a.name == "value"), None)
            values[node.output[0]] = numpy_helper.to_array(attr.t) if attr is not None else np.zeros(0)
    return values


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _check_opset(model: onnx.ModelProto) -> List[Issue]:
    versions = [o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS]
    if not versions:
        return [Issue("opset", "", "model", "no default-domain opset import")]
    return [Issue("opset", "", "model", f"opset {v}, ATC of CANN 5.0.4 parses only opset {OPSET}")
            for v in versions if v != OPSET]


def _check_operators(model: onnx.ModelProto) -> List[Issue]:
    issues = []
    for i, node in enumerate(_nodes(model.graph)):
        name = _node_name(node, i)
        if node.domain not in _DEFAULT_DOMAINS:
            issues.append(Issue("operator", node.op_type, name, f"custom domain '{node.domain}' is not parsed by ATC"))
        elif node.op_type not in SUPPORTED_OPS:
            issues.append(Issue("operator", node.op_type, name, "not supported by ATC (CANN 5.0.4)"))
        elif node.op_type in DATA_DEPENDENT_OPS:
            issues.append(Issue("operator", node.op_type, name, "data-dependent output shape: not compilable for the 310"))
    return issues


def _shape_problem(value: onnx.ValueInfoProto) -> Optional[str]:
    """Why ``value`` is not a static tensor shape, or None when it is."""
    t = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not t.HasField("shape"):
        return "no static shape (rank unknown)"
    for axis, dim in enumerate(t.shape.dim):
        if dim.HasField("dim_param"):
            return f"dynamic dimension '{dim.dim_param}' on axis {axis}"
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            return f"unknown dimension on axis {axis}"
    return None


def _check_static_shapes(model: onnx.ModelProto) -> List[Issue]:
    issues = []
    graph = model.graph
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for v in values:
            problem = _shape_problem(v)
            if problem:
                issues.append(Issue("static-shape", "", v.name, f"graph {kind}: {problem}"))
    if issues:  # inference from dynamic inputs would repeat the same cause on every node
        return issues
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True).graph
    except Exception as exc:  # onnx raises InferenceError and others
        return [Issue("static-shape", "", "model", f"shape inference failed: {exc}")]
    known = {v.name: v for v in list(inferred.value_info) + list(inferred.output) + list(inferred.input)}
    consts = {i.name for i in graph.initializer}
    for i, node in enumerate(graph.node):
        for out in node.output:
            if not out or out in consts or node.op_type == "Constant":
                continue
            problem = _shape_problem(known[out]) if out in known else "shape could not be inferred"
            if problem:
                issues.append(Issue("static-shape", node.op_type, _node_name(node, i), f"output '{out}': {problem}"))
    return issues


def _check_constant_inputs(graph: onnx.GraphProto, consts: Dict[str, np.ndarray]) -> List[Issue]:
    issues = []
    for i, node in enumerate(graph.node):
        name = _node_name(node, i)
        if node.op_type in WEIGHT_OPS and len(node.input) > 1 and node.input[1] not in consts:
            issues.append(Issue("conv-weight", node.op_type, name,
                                f"weight '{node.input[1]}' is computed from data, not an initializer/Constant"))
        for idx in CONSTANT_INPUTS.get(node.op_type, ()):
            if idx < len(node.input) and node.input[idx] and node.input[idx] not in consts:
                issues.append(Issue("constant-input", node.op_type, name,
                                    f"input {idx} '{node.input[idx]}' must be constant (fold it with onnxsim)"))
    return issues


def _check_resize(graph: onnx.GraphProto, consts: Dict[str, np.ndarray]) -> List[Issue]:
    issues = []
    for i, node in enumerate(graph.node):
        if node.op_type != "Resize":
            continue
        name = _node_name(node, i)
        mode = _attr(node, "mode", "nearest")
        coord = _attr(node, "coordinate_transformation_mode", "half_pixel")
        if mode not in RESIZE_MODES:
            issues.append(Issue("resize", "Resize", name, f"mode '{mode}': only {sorted(RESIZE_MODES)}"))
        if coord not in RESIZE_COORDINATE_MODES:
            issues.append(Issue("resize", "Resize", name,
                                f"coordinate_transformation_mode '{coord}': only {sorted(RESIZE_COORDINATE_MODES)}"))
        scales = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if scales is not None and scales.size == 4 and not np.allclose(scales[:2], 1.0):
            issues.append(Issue("resize", "Resize", name, f"scales {scales.tolist()} resize N or C: only H and W can be resized"))
    return issues


def _elem_type(value: onnx.ValueInfoProto) -> str:
    return onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type)


def _dims(value: onnx.ValueInfoProto) -> tuple:
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim)


def _check_interface(model: onnx.ModelProto) -> List[Issue]:
    issues = []
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    for kind, actual, expected in (("input", [v for v in graph.input if v.name not in inits], interface.INPUTS),
                                   ("output", list(graph.output), interface.OUTPUTS)):
        names = [v.name for v in actual]
        if names != list(expected):
            issues.append(Issue("interface", "", kind + "s", f"names {names}, expected {list(expected)}"))
        for v in actual:
            if v.name not in expected:
                continue
            shape = tuple(expected[v.name][0])
            if _dims(v) != shape:
                issues.append(Issue("interface", "", v.name, f"shape {list(_dims(v))}, expected {list(shape)}"))
            if _elem_type(v) != "FLOAT":
                issues.append(Issue("interface", "", v.name, f"dtype {_elem_type(v)}, expected FLOAT (float32)"))
    present = {p.key for p in model.metadata_props}
    missing = [k for k in interface.METADATA_KEYS if k not in present]
    if missing:
        issues.append(Issue("interface", "", "metadata_props", f"missing provenance keys {missing}"))
    return issues


def check_model(model: onnx.ModelProto, name: str = "model", check_interface: bool = True) -> CheckReport:
    """Run every pre-flight rule on ``model``; the report lists all issues."""
    graph = model.graph
    consts = constant_values(graph)
    report = CheckReport(model=name, nodes=len(graph.node), op_counts=dict(Counter(n.op_type for n in graph.node)))
    report.issues += _check_opset(model)
    report.issues += _check_operators(model)
    report.issues += _check_static_shapes(model)
    report.issues += _check_constant_inputs(graph, consts)
    report.issues += _check_resize(graph, consts)
    if check_interface:
        report.issues += _check_interface(model)
    return report


def check_file(path: str, check_interface: bool = True) -> CheckReport:
    """:func:`check_model` on an ONNX file (clear error for a missing/corrupt file)."""
    try:
        model = onnx.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"ONNX file not found: {path}") from None
    except Exception as exc:  # protobuf DecodeError and friends
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from exc
    return check_model(model, name=path, check_interface=check_interface)
