"""onnxruntime backend for desktops: CPU, or CUDA when that provider exists."""
import time
from typing import List, Optional

import numpy as np

from .. import interface
from ..errors import InpaintError, ModelError
from .base import Backend, Outputs, check_inputs, check_interface, register_backend, require_file


def _providers(requested: Optional[List[str]], available: List[str]) -> List[str]:
    if requested:
        return requested
    preferred = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in preferred if p in available] or available


@register_backend
class OnnxRuntimeBackend(Backend):
    """An ONNX model of the interface in edge_app/interface.py, run by onnxruntime."""

    name = "onnxruntime"
    model_option = "onnx_model"

    @classmethod
    def open(cls, model_path: str, device_id: int = 0, cra_matmul_model: str = "",
             threads: int = 0) -> "OnnxRuntimeBackend":
        return cls(model_path, threads=threads)

    def __init__(self, model_path: str, providers: Optional[List[str]] = None, threads: int = 0):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError:
            raise InpaintError("onnxruntime is not installed (pip install onnxruntime, or use --backend acl)")
        self.model_path = require_file(model_path, "ONNX")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(model_path, options,
                                                 providers=_providers(providers, ort.get_available_providers()))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError("cannot load as an ONNX model: {}".format(str(exc).strip().splitlines()[0][:200]),
                             model_path)
        check_interface({i.name: i.shape for i in self._session.get_inputs()},
                        {o.name: o.shape for o in self._session.get_outputs()}, model_path)
        meta = self._session.get_modelmeta().custom_metadata_map
        version = meta.get("interface_version")
        if version is not None and version != interface.INTERFACE_VERSION:
            raise ModelError("model has interface version {}, this app needs {}".format(
                version, interface.INTERFACE_VERSION), model_path)
        self.metadata = dict(meta)
        self.providers = self._session.get_providers()
        self._names = list(interface.OUTPUTS)

    def run(self, img: np.ndarray, mask: np.ndarray) -> Outputs:
        check_inputs(img, mask)
        t0 = time.perf_counter()
        outs = self._session.run(self._names, {"img": img, "mask": mask})
        self.timings = {"inference": time.perf_counter() - t0}
        return tuple(np.asarray(o, dtype=np.float32) for o in outs)

    def close(self) -> None:
        self._session = None
