"""Every training-side setting in one place.

The dataclasses here are the single source of configuration for the model,
losses, optimiser, masks, data and the training loop. The CLI overrides a
few fields; a YAML file may override any (see ``load_config``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple


@dataclass
class ModelConfig:
    """Generator shape (spec hifill.md sections 2 to 4)."""

    base_width: int = 32
    # Dilation rates of the coarse stage's dilated block (14 layers).
    coarse_dilations: Tuple[int, ...] = (1, 1, 1, 2, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8)
    # Dilation rates of the refine stage's dilated block (5 layers).
    refine_dilations: Tuple[int, ...] = (1, 2, 4, 8, 16)
    # Attention: softmax scale applied to cosine similarities (bounded logits
    # in [-scale, scale], safe in fp16).
    softmax_scale: float = 10.0
    # DeepFill v1 "fuse" (two 3x3 identity-kernel convolutions over the scores).
    fuse: bool = False
    # One attention cell covers this many input pixels per side (512 / 32).
    attention_cell: int = 16


@dataclass
class TrainConfig:
    """Top-level configuration: the model plus everything the trainer needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
