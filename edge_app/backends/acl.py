"""pyACL backend for the Ascend 310 board: an .om model through acllite."""
import importlib.util
from typing import Optional

import numpy as np

from .. import interface
from ..errors import ModelError
from .acllite import AclLiteModel, AclLiteResource, import_acl
from .base import Backend, Outputs, check_inputs, register_backend, require_file


def _require_om(path: str) -> str:
    require_file(path, "OM")
    if not path.lower().endswith(".om"):
        raise ModelError("the acl backend runs .om models (convert the ONNX model with ATC: "
                         "python -m convert atc), not this file", path)
    return path


class AclCraMatmul:
    """The CRA product on the AI core: a ``cra_matmul`` .om (made by
    ``python -m convert cra-matmul --size WxH``) computing
    aggregated [1024, P] = attention [1024, 1024] @ patches [1024, P] for one
    frame size (P = W/32 * H/32 * 3). Smaller products are zero-padded to it.
    Worth it for flat attention (a dense product); peaked attention is
    cheaper on the host, which skips the unused cells."""

    def __init__(self, model_path: str, run_mode: int):
        self._model = AclLiteModel(_require_om(model_path), run_mode)
        shapes = [t.shape for t in self._model.inputs + self._model.outputs]
        cells = interface.ATTENTION_CELLS
        if (len(shapes) != 3 or shapes[0] != (cells, cells) or len(shapes[1]) != 2 or shapes[1][0] != cells
                or shapes[2] != shapes[1]):
            self._model.destroy()
            raise ModelError("not a cra_matmul model: tensors {} (expected [1024, 1024] x [1024, P] -> "
                             "[1024, P])".format([list(s) for s in shapes]), model_path)
        self.patch_values = shapes[1][1]
        self.calls = 0

    def __call__(self, weights: np.ndarray, patches: np.ndarray) -> np.ndarray:
        rows, used = weights.shape
        cells = interface.ATTENTION_CELLS
        if patches.shape != (used, self.patch_values) or rows > cells or used > cells:
            raise ValueError("cra_matmul takes at most [1024, 1024] x [1024, {}], got {} x {}".format(
                self.patch_values, list(weights.shape), list(patches.shape)))
        a = np.zeros((cells, cells), np.float32)
        a[:rows, :used] = weights
        b = np.zeros((cells, self.patch_values), np.float32)
        b[:used] = patches
        self.calls += 1
        return self._model.execute([a, b])[0][:rows]

    def close(self) -> None:
        self._model.destroy()


@register_backend
class AclBackend(Backend):
    """An .om model of the interface in edge_app/interface.py on the NPU,
    optionally with the CRA product on the AI core (``cra_matmul``)."""

    name = "acl"
    model_option = "om_model"
    #: ATC's default (force_fp16): an assumption, an .om does not say.
    default_precision = "fp16"

    @classmethod
    def available(cls) -> bool:
        """True when pyACL can be imported (on the board, or with the test stand-in)."""
        return importlib.util.find_spec("acl") is not None

    @classmethod
    def open(cls, model_path: str, device_id: int = 0, cra_matmul_model: str = "", threads: int = 0) -> "AclBackend":
        return cls(model_path, device_id, cra_matmul_model)

    def __init__(self, model_path: str, device_id: int = 0, cra_matmul: str = ""):
        super().__init__()
        self.model_path = _require_om(model_path)
        if cra_matmul:
            _require_om(cra_matmul)
        self._resource = AclLiteResource(device_id).init()
        self._model = self._cra = None
        try:
            self._model = AclLiteModel(model_path, self._resource.run_mode)
            self._check_interface()
            if cra_matmul:
                self._cra = AclCraMatmul(cra_matmul, self._resource.run_mode)
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

    def aggregator(self, patch_values: int):
        if self._cra is not None and self._cra.patch_values == patch_values:
            return self._cra
        return None

    def accelerator(self) -> Optional[str]:
        """``acl.get_soc_name()`` (e.g. Ascend310); a pyACL stand-in (one with
        ``acl.standin``, as in tests/acl_standin) says so, never passing for an NPU."""
        acl = import_acl()
        name = acl.get_soc_name()
        if name and hasattr(acl, "standin"):
            return "{} (acl stand-in, no NPU)".format(name)
        return name or None

    def bind_thread(self) -> None:
        self._resource.bind_thread()

    def close(self) -> None:
        parts = [self._cra, self._model]
        resource, self._resource = self._resource, None
        self._cra = self._model = None
        try:
            for part in parts:
                if part is not None:
                    (part.close if isinstance(part, AclCraMatmul) else part.destroy)()
        finally:
            if resource is not None:
                resource.destroy()
