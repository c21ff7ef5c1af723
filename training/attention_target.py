"""A training target for the attention rows of the hole: where CRA should copy from.

At inference CRA fills each hole cell with the attention-weighted sum of the
context cells' high-frequency residuals. A row spread over many cells
averages residuals of random phase, which cancel: the fill comes out smooth.
In training the truth under the hole is known, so each hole cell's ideal row
can be written down: high weight on the context cells that look like the
truth there. "Look like" must not depend on the texture's phase (a patch of
grass is far, pixel by pixel, from every other patch of grass, and closer to
a flat patch of the same mean), so cells are compared by a descriptor:

- structure: the cell's colour on a 4 x 4 grid of sub-blocks;
- texture: the spread of its high frequencies (the image minus its 4 x 4
  block means, upsampled) per channel, and their mean absolute steps along
  x and y (orientation), weighted by ``texture_weight``.

The target row is a softmax of minus the squared descriptor distance over
the usable keys (those the network may weigh, ``AttentionComputing.key_validity``),
with a temperature relative to the image's typical best match
(``temperature`` x the median over hole rows of the smallest distance), so
it is as peaked on a sky as on a lawn. The loss is the KL divergence from
the target to the network's row, averaged over the hole's rows (0 when
they agree). Measured before choosing (MODEL_CARD.md): with such target
rows in place of the network's, CRA's fill at native resolution had 40 % of
the truth's high-frequency energy (against 1 % with the flat rows).
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

_EPS = 1e-6
#: Cost given to unusable keys (and cap of the others): far above any real mismatch.
_MAX_COST = 1.0e4


def cell_descriptors(x: torch.Tensor, cell: int, texture_weight: float) -> torch.Tensor:
    """(B, 3, H, W) images in [-1, 1] -> (B, N, 53) descriptors of the
    cell x cell cells (N = (H / cell) * (W / cell), row-major like the attention)."""
    b, c, h, w = x.shape
    if cell % 4 or h % cell or w % cell:
        raise ValueError(f"image {h}x{w} does not divide into cells of {cell} (a multiple of 4)")
    sub = cell // 4
    blocks = F.avg_pool2d(x, sub)  # (B, 3, 4 gh, 4 gw)
    gh, gw = h // cell, w // cell
    structure = blocks.reshape(b, c, gh, 4, gw, 4).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * 16)
    high = x - F.interpolate(blocks, scale_factor=sub, mode="bilinear", align_corners=False)
    mean = F.avg_pool2d(high, cell)
    spread = torch.sqrt(torch.clamp(F.avg_pool2d(high * high, cell) - mean * mean, min=0.0) + _EPS)
    lum = high.mean(dim=1, keepdim=True)
    step_x = F.avg_pool2d(F.pad(torch.abs(lum[..., :, 1:] - lum[..., :, :-1]), (0, 1)), cell)
    step_y = F.avg_pool2d(F.pad(torch.abs(lum[..., 1:, :] - lum[..., :-1, :]), (0, 0, 0, 1)), cell)
    texture = torch.cat([spread, step_x, step_y], dim=1).flatten(2).transpose(1, 2)
    return torch.cat([structure, texture_weight * texture], dim=2)


def hole_rows(mask: torch.Tensor, cell: int) -> torch.Tensor:
    """(B, 1, H, W) hole mask -> (B, N) 1.0 for cells holding a hole pixel
    (the rows CRA uses)."""
    return F.max_pool2d(mask, cell, cell).flatten(1)


def match_costs(truth: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, cell: int,
                texture_weight: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """How badly each usable key matches each hole cell's truth, and which rows count.

    ``truth`` (B, 3, H, W) the uncorrupted images, ``mask`` (B, 1, H, W)
    hole = 1, ``valid`` (B, 1, N) usable keys. Returns ``cost`` (B, N, N):
    the squared descriptor distance above the row's best usable match, in
    units of the image's typical best match (the median over its hole rows
    of the smallest distance), so 0 at each row's best key; unusable keys
    get a large cost. And ``rows`` (B, N), 1.0 for hole rows with a usable key.
    """
    with torch.no_grad():
        desc = cell_descriptors(truth.float(), cell, texture_weight)
        dist = torch.cdist(desc, desc).pow(2)  # (B, N, N)
        usable = valid.float()  # (B, 1, N), broadcast over rows
        big = torch.finfo(dist.dtype).max / 4
        dist = torch.where(usable > 0, dist, torch.full_like(dist, big))
        rows = hole_rows(mask, cell) * (usable.sum(dim=2) > 0).float()
        nearest = dist.amin(dim=2)  # (B, N)
        ref = []
        for i in range(truth.shape[0]):  # the image's typical best match, over its hole rows
            chosen = nearest[i][rows[i] > 0]
            ref.append(chosen.median() if chosen.numel() else nearest.new_tensor(1.0))
        unit = torch.clamp(torch.stack(ref), min=_EPS)[:, None, None]
        cost = torch.clamp((dist - nearest[:, :, None]) / unit, max=_MAX_COST)
        return cost, rows


def target_rows(cost: torch.Tensor, valid: torch.Tensor, rows: torch.Tensor, temperature: float) -> torch.Tensor:
    """The target rows ``softmax(-cost / temperature)`` over usable keys (zero rows where not counted)."""
    target = torch.softmax(-cost / temperature, dim=2) * valid.float()
    target = target / torch.clamp(target.sum(dim=2, keepdim=True), min=_EPS)
    return target * rows[:, :, None]


def expected_cost(attention: torch.Tensor, cost: torch.Tensor, valid: torch.Tensor,
                  rows: torch.Tensor) -> torch.Tensor:
    """Mean over counted rows of the attention-weighted match cost, relative
    to a uniform row's: 0 when every row puts all its weight on its best
    key, 1 for rows spread evenly over the usable keys. Linear in the
    weights, so it is lowest for a row peaked on the key that matches best:
    a row spread over many plausible keys (what a KL to the target settles
    for when the query is uncertain) averages residuals that cancel in CRA."""
    usable = valid.float()
    uniform = (cost * usable).sum(dim=2) / torch.clamp(usable.sum(dim=2), min=1.0)
    per_row = (attention.float() * cost).sum(dim=2) / torch.clamp(uniform, min=_EPS) * rows
    return per_row.sum() / torch.clamp(rows.sum(), min=1.0)


def attention_kl(attention: torch.Tensor, target: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Mean over counted rows of KL(target row || attention row); 0 without rows."""
    att = attention.float()
    cross = -(target * torch.log(att + _EPS)).sum(dim=2)
    entropy = -(target * torch.log(target + _EPS)).sum(dim=2)
    per_row = (cross - entropy) * rows
    return per_row.sum() / torch.clamp(rows.sum(), min=1.0)


def top_weight(attention: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Mean over counted rows of the row's largest weight (1 = one key, 1/N = flat)."""
    peak = attention.float().amax(dim=2)
    return (peak * rows).sum() / torch.clamp(rows.sum(), min=1.0)
