"""WGAN critic of the reference (spec hifill.md section 5).

Six 5x5 stride-2 convolutions with leaky ReLU 0.2 (channels
64/128/256/256/256/256), flattened, then a linear layer to one score per
image. Input: a 3-channel image in [-1, 1] (no mask). The linear layer's size
follows from the training size, so a critic is built for one input size.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import DiscriminatorConfig


def _conv_out(size: int) -> int:
    """Output side of a 5x5, stride-2, padding-2 convolution: ceil(size / 2)."""
    return (size + 2 * 2 - 5) // 2 + 1


class Discriminator(nn.Module):
    """Critic mapping (B, 3, size, size) images to (B,) scores."""

    def __init__(self, size: int, cfg: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        layers = []
        in_ch, side = 3, size
        for ch in cfg.channels:
            layers += [nn.Conv2d(in_ch, ch, 5, 2, 2), nn.LeakyReLU(cfg.negative_slope)]
            in_ch, side = ch, _conv_out(side)
        self.features = nn.Sequential(*layers)
        self.size = size
        self.linear = nn.Linear(in_ch * side * side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            raise ValueError(f"critic built for {self.size}x{self.size}, got {tuple(x.shape[-2:])}")
        return self.linear(torch.flatten(self.features(x), 1)).squeeze(1)
