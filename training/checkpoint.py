"""Checkpoint files: atomic writes and the generator loader other parts use.

A checkpoint is a ``torch.save``d dict with at least::

    {"generator": state_dict, "step": int, "config": dict (TrainConfig as a dict)}

and, for resumable training runs, the discriminator, optimiser, scheduler and
RNG states. ``load_generator`` needs only the first three.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Dict, Tuple, Union

import torch

from edge_app.atomic import atomic_path

from .config import ModelConfig, stored_config
from .model import HiFillGenerator, build_generator

PathLike = Union[str, "os.PathLike[str]"]


def save_checkpoint(path: PathLike, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: temporary file, fsync, rename.

    A crash or Ctrl-C mid-write never leaves a truncated checkpoint behind.
    """
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: PathLike) -> Dict[str, Any]:
    """Load a checkpoint dict on the CPU, with a clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for corrupt files
        raise ValueError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or "generator" not in state:
        raise ValueError(f"{path}: not a HiFill checkpoint (no 'generator' entry)")
    return state


def model_config_from(state: Dict[str, Any]) -> ModelConfig:
    """The ModelConfig stored in a checkpoint (fields it predates get their
    legacy values, ``config.LEGACY_VALUES``: an old checkpoint builds the
    network it was trained as)."""
    return stored_config(state.get("config") or {}).model


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file (provenance in exported models)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def total_steps(state: Dict[str, Any]) -> int:
    """Generator steps behind a checkpoint's weights: its own run's steps plus
    those of the checkpoint it was started from with ``--init`` (recorded as
    ``init_from``), so a chain of runs keeps its full count."""
    origin = state.get("init_from") or {}
    return int(state.get("step", 0)) + int(origin.get("total_steps", origin.get("step", 0)))


def load_generator(path: PathLike) -> Tuple[HiFillGenerator, Dict[str, Any]]:
    """Build the generator stored in ``path``, in eval mode on the CPU.

    Returns ``(generator, meta)`` with meta keys ``step`` (this run's),
    ``total_steps`` (see :func:`total_steps`), ``sha256``, ``path``.
    """
    state = load_checkpoint(path)
    generator = build_generator(model_config_from(state))
    generator.load_state_dict(state["generator"])
    generator.eval()
    meta = {"step": int(state.get("step", 0)), "total_steps": total_steps(state), "sha256": file_sha256(path),
            "path": str(path)}
    return generator, meta
