"""Run the deploy model by the interface's names: onnxruntime or PyTorch eager.

Shared by the parity check and the latency benchmark so that both feed the
two runtimes exactly the same arrays.
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np
import onnx
import onnxruntime as ort
import torch

from edge_app import interface
from .wrapper import DeployWrapper

Outputs = Dict[str, np.ndarray]


def ort_session(model: Union[str, onnx.ModelProto], threads: Optional[int] = None,
                optimize: bool = True) -> ort.InferenceSession:
    """A CPU onnxruntime session on a path or an in-memory model.

    ``optimize=False`` disables graph optimisations; needed for fp16 graphs,
    where onnxruntime otherwise removes the fp32<->fp16 Cast pairs it wraps
    around kernels that have no fp16 version, keeping intermediates in fp32.
    """
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_ort(session: ort.InferenceSession, img: np.ndarray, mask: np.ndarray) -> Outputs:
    """Outputs by name for one (img, mask) pair, shaped as in the interface."""
    names = list(interface.OUTPUTS)
    values = session.run(names, {"img": img.astype(np.float32), "mask": mask.astype(np.float32)})
    return dict(zip(names, values))


def run_torch(wrapper: DeployWrapper, img: np.ndarray, mask: np.ndarray) -> Outputs:
    """The same outputs from the eager PyTorch wrapper."""
    with torch.no_grad():
        values = wrapper(torch.from_numpy(img.astype(np.float32)), torch.from_numpy(mask.astype(np.float32)))
    return {name: v.numpy() for name, v in zip(interface.OUTPUTS, values)}
