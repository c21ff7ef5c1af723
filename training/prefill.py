"""A classical fill of the hole, inside the network graph.

The generator does not start from zeros in the hole: it starts from a
smooth membrane (harmonic) interpolation of the known pixels and learns only
a correction to it (see ``training/model.py``). An untrained generator is
therefore already a classical inpainter, and training can only improve it.

The fill is a multigrid pull-push:

- pull: the known pixels (premultiplied by their weight) and their weights
  are averaged 2 x 2 down a pyramid, so every cell of a coarse level holds
  the mean of the known pixels under it;
- push: from the coarsest level up, each level keeps its own (partly) known
  cells and takes the rest from the bilinear upsampling of the coarser
  filled level, then relaxes the unknown cells a few times towards the mean
  of their 3 x 3 neighbourhood (Jacobi iterations of the Laplace equation,
  with the known cells held fixed).

Only AveragePool, Resize, Mul, Add, Div and Clip: ONNX opset 11, constant
weights, accepted by the ATC pre-flight (``convert/check.py``).
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# Smallest weight sum treated as "something known under this cell"; far
# above fp16's smallest normal number (6e-5), so safe under ATC's fp16.
_EPS = 1.0e-3


def pyramid_levels(height: int, width: int, min_side: int = 1) -> int:
    """How many exact 2 x 2 halvings ``height`` x ``width`` allows before a
    side would drop below ``min_side`` or stop being even."""
    levels = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= min_side:
        height, width, levels = height // 2, width // 2, levels + 1
    return levels


def _relax(value: torch.Tensor, fixed: torch.Tensor, weight: torch.Tensor, iters: int) -> torch.Tensor:
    """``iters`` Jacobi sweeps: cells move to their 3 x 3 mean, each held at
    ``fixed`` in proportion to its known ``weight``."""
    for _ in range(iters):
        mean = F.avg_pool2d(value, 3, 1, 1, count_include_pad=False)
        value = weight * fixed + (1.0 - weight) * mean
    return value


class MembraneFill(nn.Module):
    """``(x, mask) -> filled``: the hole of ``x`` (hole = 1 in ``mask``)
    replaced by a smooth interpolation of the known pixels; known pixels are
    returned unchanged. A frame with no known pixel comes back as zeros.

    ``iters`` Jacobi sweeps per pyramid level, ``fine_iters`` extra ones at
    full resolution (the fine detail of thin holes' edges).
    """

    def __init__(self, iters: int, fine_iters: int) -> None:
        super().__init__()
        self.iters = iters
        self.fine_iters = fine_iters

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        known = 1.0 - mask
        levels = pyramid_levels(int(x.shape[2]), int(x.shape[3]))
        # Pull: (value, weight) per level; value is the weighted mean of known pixels.
        weighted, weight = x * known, known
        pyramid: List[Tuple[torch.Tensor, torch.Tensor]] = [(weighted, known)]
        for _ in range(levels):
            weighted = F.avg_pool2d(weighted, 2)
            weight = F.avg_pool2d(weight, 2)
            pyramid.append((weighted / torch.clamp(weight, min=_EPS), torch.clamp(weight * 4.0, 0.0, 1.0)))
        # Push: coarsest to finest.
        filled = pyramid[-1][0]
        for level in range(levels - 1, -1, -1):
            value, weight = pyramid[level]
            up = F.interpolate(filled, scale_factor=2.0, mode="bilinear", align_corners=False)
            filled = weight * value + (1.0 - weight) * up
            filled = _relax(filled, value, weight, self.iters + (self.fine_iters if level == 0 else 0))
        return filled
