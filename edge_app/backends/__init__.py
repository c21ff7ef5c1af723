"""Backends: onnxruntime (desktops) and pyACL (the board), one interface.

Imports are lazy so the board never needs onnxruntime and desktops never
need ``acl``.
"""
import importlib.util
import os

from ..config import AppConfig
from ..errors import InpaintError
from .base import Backend


def acl_available() -> bool:
    """True when pyACL can be imported (on the board, or with the test stand-in)."""
    return importlib.util.find_spec("acl") is not None


def resolve_backend(name: str) -> str:
    """"auto" -> "acl" when pyACL is importable, else "onnxruntime"."""
    if name == "auto":
        return "acl" if acl_available() else "onnxruntime"
    if name not in ("acl", "onnxruntime"):
        raise InpaintError("unknown backend {!r} (auto, onnxruntime or acl)".format(name))
    return name


def default_model(backend: str, config: AppConfig = AppConfig()) -> str:
    """The bundled model for a backend: hifill.om for acl, hifill.onnx otherwise."""
    return config.om_model if resolve_backend(backend) == "acl" else config.onnx_model


def open_backend(name: str = "auto", model=None, config: AppConfig = AppConfig()) -> Backend:
    """Open a backend by name with a model path (default: the bundled one)."""
    name = resolve_backend(name)
    path = os.fspath(model) if model is not None else default_model(name, config)
    if name == "acl":
        from .acl import AclBackend
        return AclBackend(path, config.device_id, config.cra_matmul_model)
    from .onnxrt import OnnxRuntimeBackend
    return OnnxRuntimeBackend(path)
