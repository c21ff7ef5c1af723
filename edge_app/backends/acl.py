"""pyACL backend for the Ascend 310 board: an .om model through acllite."""
import numpy as np

from .. import interface
from ..errors import ModelError
from .acllite import AclLiteModel, AclLiteResource
from .base import Backend, Outputs, check_inputs, require_file


class AclBackend(Backend):
    """An .om model of the interface in edge_app/interface.py on the NPU."""

    name = "acl"

    def __init__(self, model_path: str, device_id: int = 0):
        super().__init__()
        self.model_path = require_file(model_path, "OM")
        if not model_path.lower().endswith(".om"):
            raise ModelError("the acl backend runs .om models (convert the ONNX model with ATC, "
                             "see docs), not this file", model_path)
        self._resource = AclLiteResource(device_id).init()
        self._model = None
        try:
            self._model = AclLiteModel(model_path, self._resource.run_mode)
            self._check_interface()
        except Exception:
            self.close()
            raise

    def _check_interface(self) -> None:
        """Shapes in the interface's order (ATC may rename the outputs)."""
        for kind, tensors, expected in (("input", self._model.inputs, interface.INPUTS),
                                        ("output", self._model.outputs, interface.OUTPUTS)):
            got = [(t.shape, t.dtype) for t in tensors]
            want = [(shape, np.dtype(np.float32)) for shape, _ in expected.values()]
            if got != want:
                raise ModelError("not a HiFill model of interface {}: {}s {} (expected float32 {})".format(
                    interface.INTERFACE_VERSION, kind, ", ".join(t.describe() for t in tensors),
                    ", ".join("{} {}".format(n, list(s)) for n, (s, _) in expected.items())), self.model_path)

    @property
    def run_mode(self) -> int:
        return self._resource.run_mode

    def run(self, img: np.ndarray, mask: np.ndarray) -> Outputs:
        check_inputs(img, mask)
        inpainted, attention, blend = self._model.execute([img, mask])
        self.timings = dict(self._model.timings)
        return inpainted, attention, blend

    def bind_thread(self) -> None:
        self._resource.bind_thread()

    def close(self) -> None:
        model, self._model = self._model, None
        resource, self._resource = self._resource, None
        try:
            if model is not None:
                model.destroy()
        finally:
            if resource is not None:
                resource.destroy()
