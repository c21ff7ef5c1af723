"""PyTorch wrapper -> ATC-ready ONNX (opset 11, static, simplified, provenance).

Steps: TorchScript export at opset 11 with the interface's names and static
shapes; onnx-simplifier folds the Shape / ConstantOfShape / Gather / Cast
chains of the padding and coverage maps into constants (Resize scales and
Reshape shapes become constants, as ATC wants); provenance goes into
``metadata_props``; the pre-flight check must pass and the constants other
than the learned weights must stay small (a guard against duplicated or
unfolded identity kernels / coverage maps bloating the file); the file is
written atomically and never overwrites one unless asked.
"""
from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import onnx
import torch
from onnx import numpy_helper
from onnxsim import simplify

from edge_app import interface
from edge_app.atomic import atomic_path
from .check import check_model
from .supported_ops import OPSET
from .wrapper import DeployWrapper, Provenance, example_inputs

#: Ops onnxsim must have folded away: their presence means a shape is still
#: computed at run time.
LEFTOVER_OPS = frozenset({"Shape", "ConstantOfShape", "Gather"})
#: Bytes of constants allowed beyond the learned parameters: the coverage
#: maps and the 3x3 identity kernel take about 0.4 MB; one duplicated large
#: constant would exceed this.
EXTRA_CONSTANT_BUDGET = 1 << 20


@dataclass(frozen=True)
class ExportResult:
    """What was written: for the CLI's summary line."""

    path: str
    file_bytes: int
    parameter_bytes: int
    extra_constant_bytes: int
    op_counts: Dict[str, int]

    def describe(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.op_counts.items()))
        return (f"wrote {self.path}: {self.file_bytes / 1e6:.2f} MB (parameters {self.parameter_bytes / 1e6:.2f} MB, "
                f"other constants {self.extra_constant_bytes / 1e3:.0f} kB); {sum(self.op_counts.values())} nodes: {ops}")


def trace_to_onnx(wrapper: DeployWrapper) -> onnx.ModelProto:
    """Raw TorchScript export at opset 11 with the interface's names."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer / deprecation chatter, not actionable here
        torch.onnx.export(
            wrapper, example_inputs(), buf,
            opset_version=OPSET, dynamo=False, do_constant_folding=True,
            input_names=list(interface.INPUTS), output_names=list(interface.OUTPUTS),
        )
    return onnx.load_from_string(buf.getvalue())


def simplify_static(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxsim with a validation run; refuse if shape ops are left over."""
    simplified, ok = simplify(model)
    if not ok:
        raise RuntimeError("onnxsim could not validate the simplified graph against the original")
    left = sorted({n.op_type for n in simplified.graph.node} & LEFTOVER_OPS)
    if left:
        raise RuntimeError(f"shape computations left after onnxsim: {left}")
    return simplified


def _constants(model: onnx.ModelProto) -> List[Tuple[str, int]]:
    """(name, bytes) of every initializer and Constant node."""
    sized = [(i.name, numpy_helper.to_array(i).nbytes) for i in model.graph.initializer]
    sized += [(n.output[0], numpy_helper.to_array(a.t).nbytes)
              for n in model.graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"]
    return sized


def _parameter_bytes(wrapper: DeployWrapper) -> int:
    return sum(p.numel() * p.element_size() for p in wrapper.parameters())


def _extra_constant_bytes(model: onnx.ModelProto, wrapper: DeployWrapper) -> int:
    return sum(b for _, b in _constants(model)) - _parameter_bytes(wrapper)


def build_onnx(wrapper: DeployWrapper, provenance: Provenance) -> onnx.ModelProto:
    """Traced, simplified, checked model with provenance metadata."""
    model = simplify_static(trace_to_onnx(wrapper))
    onnx.helper.set_model_props(model, provenance.metadata())
    model.doc_string = ("HiFill (CRA) generator in the Ascend sample's interface; "
                        "mask_processed = max(m, gaussian7x7(m)) (see convert/wrapper.py)")
    report = check_model(model, name="exported graph")
    if not report.ok:
        raise RuntimeError("exported graph fails the pre-flight check:\n" + report.to_text())
    extra = _extra_constant_bytes(model, wrapper)
    if extra > EXTRA_CONSTANT_BUDGET:
        params = {n for n, _ in wrapper.named_parameters()}
        largest = sorted(((b, n) for n, b in _constants(model) if n not in params), reverse=True)[:5]
        raise RuntimeError(f"{extra / 1e6:.1f} MB of constants beyond the weights (budget "
                           f"{EXTRA_CONSTANT_BUDGET / 1e6:.1f} MB); largest: "
                           + ", ".join(f"{n} ({b / 1e3:.0f} kB)" for b, n in largest))
    return model


def save_onnx(model: onnx.ModelProto, out: str, overwrite: bool = False) -> None:
    """Write atomically (temporary file + rename); refuse to replace ``out``
    unless ``overwrite``."""
    path = Path(out)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass --overwrite to replace it")
    with atomic_path(path) as tmp:
        onnx.save(model, tmp)


def export(wrapper: DeployWrapper, provenance: Provenance, out: str, overwrite: bool = False) -> ExportResult:
    """Export ``wrapper`` to ``out`` (see the module docstring for the steps)."""
    if Path(out).exists() and not overwrite:  # fail before the slow part
        raise FileExistsError(f"{out} exists: pass --overwrite to replace it")
    model = build_onnx(wrapper, provenance)
    save_onnx(model, out, overwrite)
    counts = dict(Counter(n.op_type for n in model.graph.node))
    return ExportResult(out, os.path.getsize(out), _parameter_bytes(wrapper),
                        _extra_constant_bytes(model, wrapper), counts)
