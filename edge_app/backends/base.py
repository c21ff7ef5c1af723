"""The backend interface: the network's 512 inputs in, its three outputs out.

Every backend validates its model against ``edge_app.interface`` when it
opens it, records the seconds of its last run per stage (``timings``, in
the stages of edge_app.timings: "h2d", "inference", "d2h" where it can tell
them apart) and says what it runs on (``accelerator``, ``precision``,
``providers``). Backend classes register under their ``name``
(``register_backend``); edge_app.backends opens them by that name. They take
their settings as arguments (``open``).
"""
import os
import threading
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Type

import numpy as np

from .. import interface
from ..errors import ModelError
from ..timings import Timings

Outputs = Tuple[np.ndarray, np.ndarray, np.ndarray]

#: Precisions a model can run at.
PRECISIONS = ("fp32", "fp16")

#: Backend classes by name, in registration order: the order "auto" tries them in.
REGISTRY = {}  # type: Dict[str, Type[Backend]]

#: How to get a model, for the "model not found" error.
EXPORT_HINT = ("export one with `python -m convert export --checkpoint CKPT --out edge_app/models/hifill.onnx`, "
               "convert it to .om with ATC for the board, or pass --model PATH")


def require_file(path: str, kind: str) -> str:
    """The model path, or a ModelError saying how to get a model."""
    if not os.path.isfile(path):
        raise ModelError("{} model not found; {}".format(kind, EXPORT_HINT), path)
    return path


def check_interface(inputs: Mapping[str, Sequence[int]], outputs: Mapping[str, Sequence[int]], path: str) -> None:
    """ModelError unless the names and shapes match edge_app/interface.py."""
    for kind, found, expected in (("input", inputs, interface.INPUTS), ("output", outputs, interface.OUTPUTS)):
        want = {name: tuple(shape) for name, (shape, _) in expected.items()}
        got = {name: tuple(shape) for name, shape in found.items()}
        if got != want:
            raise ModelError("not a HiFill model of interface {}: {}s {} (expected {})".format(
                interface.INTERFACE_VERSION, kind, _describe(got), _describe(want)), path)


def _describe(shapes: Mapping[str, Tuple]) -> str:
    return ", ".join("{} {}".format(name, list(shape)) for name, shape in shapes.items()) or "none"


def check_inputs(img: np.ndarray, mask: np.ndarray) -> None:
    """ValueError unless the arrays are the interface's float32 NHWC inputs."""
    for name, arr in (("img", img), ("mask", mask)):
        shape = interface.INPUTS[name][0]
        if arr.dtype != np.float32 or tuple(arr.shape) != shape:
            raise ValueError("input {}: expected float32 {}, got {} {}".format(name, list(shape), arr.dtype,
                                                                              list(arr.shape)))


class Backend:
    """Runs the model: ``run(img, mask) -> (inpainted, attention, mask_processed)``.

    img float32 [1,512,512,3] BGR 0..255, mask float32 [1,512,512,1] hole=1;
    outputs as in edge_app/interface.py. Use as a context manager or call
    ``close()``.
    """

    name = "backend"
    #: The AppConfig field holding the model this kind of backend runs by default.
    model_option = ""
    model_path = ""
    #: The precision of a model that does not say (its "precision" metadata).
    default_precision = "fp32"

    def __init__(self) -> None:
        #: held around ``run`` and ``close`` by its users (edge_app.pipeline):
        #: one run at a time, never one while it closes
        self.lock = threading.Lock()
        self.timings = {}  # type: Timings
        #: The model's own key/value metadata (empty where the format has none).
        self.metadata = {}  # type: Dict[str, str]
        #: The runtime's execution providers in use, first = preferred (empty where it has none).
        self.providers = []  # type: List[str]

    @classmethod
    def available(cls) -> bool:
        """False when this backend surely cannot open here ("auto" skips it)."""
        return True

    @classmethod
    def open(cls, model_path: str, device_id: int = 0, cra_matmul_model: str = "", threads: int = 0) -> "Backend":
        """The backend on ``model_path``. ``device_id`` (the NPU),
        ``cra_matmul_model`` (a CRA product model, see AclBackend) and
        ``threads`` (the runtime's intra-op threads on the host, 0: its
        default) are for the backends that have them; the others ignore them."""
        raise NotImplementedError

    def accelerator(self) -> Optional[str]:
        """The name of the chip the model runs on, when the backend can tell."""
        return None

    def precision(self) -> Tuple[str, str]:
        """(precision, how it is known): the model's "precision" metadata, else
        ``default_precision`` (an assumption where the model does not say)."""
        if self.metadata.get("precision") in PRECISIONS:
            return self.metadata["precision"], "metadata"
        return self.default_precision, "default"

    def run(self, img: np.ndarray, mask: np.ndarray) -> Outputs:
        raise NotImplementedError

    def aggregator(self, patch_values: int):
        """A ``matmul(weights, patches)`` running the CRA product elsewhere
        (the AI core) for patches of this many values, or None (host)."""
        return None

    def bind_thread(self) -> None:
        """Make the calling thread able to run the model (ACL contexts are per thread)."""

    def close(self) -> None:
        """Release the model and everything it holds (idempotent)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def register_backend(cls: Type[Backend]) -> Type[Backend]:
    """Class decorator: make a Backend subclass openable by its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError("a backend named {!r} is registered already".format(cls.name))
    REGISTRY[cls.name] = cls
    return cls
