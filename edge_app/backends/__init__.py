"""Backends: onnxruntime (desktops) and pyACL (the board), one interface.

Each backend module registers its class under its name
(``base.register_backend``); everything that names backends (the CLI's
choices, the Inpainter, the bench) reads this registry, and it alone checks
a backend's name (``resolve_backend``). "auto" is the first registered
backend that is available: acl on the board, else onnxruntime. The
runtimes themselves are imported when a backend opens, so the board never
needs onnxruntime and desktops never need ``acl``. Backends take their
settings as arguments: nothing here imports edge_app.config.
"""
import os
from typing import Tuple, Type

from ..errors import InpaintError
from . import acl, onnxrt  # noqa: F401  (registers them, acl first: "auto" prefers the board)
from .base import REGISTRY, Backend

AUTO = "auto"


def backend_names() -> Tuple[str, ...]:
    """The registered backends' names, in registration order."""
    return tuple(REGISTRY)


def backend_choices() -> Tuple[str, ...]:
    """What a backend option accepts: "auto" and every registered name."""
    return (AUTO,) + backend_names()


def backend_class(name: str) -> Type[Backend]:
    """The class registered under ``name`` ("auto" resolved first)."""
    return REGISTRY[resolve_backend(name)]


def resolve_backend(name: str) -> str:
    """"auto" -> the first registered backend that is available; a registered name as it is."""
    if name == AUTO:
        return next(n for n, cls in REGISTRY.items() if cls.available())
    if name not in REGISTRY:
        raise InpaintError("unknown backend {!r} ({})".format(name, ", ".join(backend_choices())))
    return name


def open_backend(name: str, model_path, device_id: int = 0, cra_matmul_model: str = "", threads: int = 0) -> Backend:
    """Open a backend by name on a model file (see Backend.open)."""
    return backend_class(name).open(os.fspath(model_path), device_id, cra_matmul_model, threads)
