"""The CRA aggregation as its own small model for the AI core (spec hifill.md 6).

For a frame of fixed size W x H (multiples of the 32 x 32 attention grid),
the residual is cut into 1024 patches of (W/32) x (H/32) x 3 values and the
aggregated residual is ``attention [1024, 1024] @ patches [1024, P]`` with
P = (W/32) * (H/32) * 3. One MatMul, opset 11, static shapes: the offline
counterpart of the Ascend sample's single-operator BatchMatMul (which was
fixed to 3072 x 3072, P = 27648).
"""
from __future__ import annotations

from typing import Tuple

import onnx
from onnx import TensorProto, helper

from edge_app import interface
from .supported_ops import OPSET

#: Graph names (the app feeds these).
ATTENTION_INPUT = "attention"
PATCHES_INPUT = "patches"
OUTPUT = "aggregated"
CHANNELS = 3


def parse_size(text: str) -> Tuple[int, int]:
    """'WxH' -> (W, H); both positive multiples of the attention grid."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r}: expected WxH, e.g. 3072x3072")
    w, h = (int(p) for p in parts)
    g = interface.ATTENTION_GRID
    if w <= 0 or h <= 0 or w % g or h % g:
        raise ValueError(f"size {w}x{h}: width and height must be positive multiples of {g} (the attention grid)")
    return w, h


def patch_values(size: Tuple[int, int]) -> int:
    """P: values per residual patch of a W x H frame (patch pixels * 3)."""
    w, h = size
    g = interface.ATTENTION_GRID
    return (w // g) * (h // g) * CHANNELS


def build_cra_matmul(size: Tuple[int, int]) -> onnx.ModelProto:
    """Opset-11 ONNX: aggregated [N, P] = attention [N, N] @ patches [N, P]."""
    n, p = interface.ATTENTION_CELLS, patch_values(size)
    graph = helper.make_graph(
        [helper.make_node("MatMul", [ATTENTION_INPUT, PATCHES_INPUT], [OUTPUT], name="cra_aggregate")],
        f"cra_matmul_{size[0]}x{size[1]}",
        [helper.make_tensor_value_info(ATTENTION_INPUT, TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info(PATCHES_INPUT, TensorProto.FLOAT, [n, p])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [n, p])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="convert.cra_matmul")
    model.ir_version = 6  # onnx 1.6+, the IR of opset 11: readable by ATC's parser
    onnx.checker.check_model(model)
    return model
