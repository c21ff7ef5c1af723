"""Small hand-made ONNX graphs for the convert tests (onnx.helper)."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tensor(name: str, shape: Sequence[object], dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    """A graph input/output; strings in ``shape`` are dynamic dimensions."""
    return helper.make_tensor_value_info(name, dtype, list(shape))


def const(name: str, value: np.ndarray) -> onnx.TensorProto:
    """An initializer."""
    return numpy_helper.from_array(np.asarray(value), name)


def make_model(nodes: List[onnx.NodeProto], inputs: List[onnx.ValueInfoProto], outputs: List[onnx.ValueInfoProto],
               initializers: Optional[List[onnx.TensorProto]] = None, opset: int = 11) -> onnx.ModelProto:
    """A one-graph model in the default domain at ``opset``."""
    graph = helper.make_graph(nodes, "t", inputs, outputs, initializer=initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model
