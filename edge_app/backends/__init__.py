"""Backends: onnxruntime (desktops) and pyACL (the board), one interface.

Each backend module registers its class under its name
(``base.register_backend``); everything that names backends (the config's
check, the CLI's choices, the bench) reads this registry. "auto" is the
first registered backend that is available: acl on the board, else
onnxruntime. The runtimes themselves are imported when a backend opens, so
the board never needs onnxruntime and desktops never need ``acl``.
"""
import os
from typing import Tuple, Type

from ..config import AppConfig
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


def default_model(backend: str, config: AppConfig = AppConfig()) -> str:
    """The bundled model of a backend (hifill.om for acl, hifill.onnx for onnxruntime)."""
    return backend_class(backend).default_model(config)


def open_backend(name: str = AUTO, model=None, config: AppConfig = AppConfig()) -> Backend:
    """Open a backend by name with a model path (default: the bundled one)."""
    cls = backend_class(name)
    path = os.fspath(model) if model is not None else cls.default_model(config)
    return cls.open(path, config)
