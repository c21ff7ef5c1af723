"""Float16 twin of an fp32 ONNX graph: what ATC's default ``force_fp16`` does.

Every float32 initializer and Constant becomes float16 and so does every
computation; float32 inputs and outputs stay float32 through Cast nodes at
the graph's edges (ATC with ``--output_type=FP32`` behaves the same way).
Exceptions: the ``roi`` and ``scales`` inputs of Resize stay float32, which
ONNX requires and which are not computed on. Running the result in
onnxruntime shows the fp16 error before anything reaches the board.
"""
from __future__ import annotations

import copy
from typing import Set

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_FLOAT = TensorProto.FLOAT
_HALF = TensorProto.FLOAT16


def _fp32_only_names(graph: onnx.GraphProto) -> Set[str]:
    """Tensors ONNX requires to stay float32 (Resize roi / scales)."""
    return {name for node in graph.node if node.op_type == "Resize" for name in node.input[1:3] if name}


def _half(tensor: TensorProto) -> TensorProto:
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), tensor.name)


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of ``model`` with float32 I/O (``model`` is unchanged)."""
    out = copy.deepcopy(model)
    graph = out.graph
    keep = _fp32_only_names(graph)
    for init in graph.initializer:
        if init.data_type == _FLOAT and init.name not in keep:
            init.CopyFrom(_half(init))
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] not in keep:
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == _FLOAT:
                    attr.t.CopyFrom(_half(attr.t))
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to" and attr.i == _FLOAT:
                    attr.i = _HALF

    edge_nodes = []
    for value in graph.input:
        if value.type.tensor_type.elem_type != _FLOAT:
            continue
        half_name = value.name + "_fp16"
        for node in graph.node:
            node.input[:] = [half_name if i == value.name else i for i in node.input]
        edge_nodes.append(helper.make_node("Cast", [value.name], [half_name], name=half_name + "_cast", to=_HALF))
    tail_nodes = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != _FLOAT:
            continue
        half_name = value.name + "_fp16"
        for node in graph.node:
            node.output[:] = [half_name if o == value.name else o for o in node.output]
            node.input[:] = [half_name if i == value.name else i for i in node.input]
        tail_nodes.append(helper.make_node("Cast", [half_name], [value.name], name=value.name + "_cast", to=_FLOAT))
    nodes = edge_nodes + list(graph.node) + tail_nodes
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # stale float32 annotations; onnxruntime re-infers
    precision = [p for p in out.metadata_props if p.key == "precision"]
    if precision:
        precision[0].value = "fp16"
    return out
