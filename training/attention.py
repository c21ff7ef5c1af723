"""Attention Computing Module (ACM) and Attention Transfer Module (ATM).

Spec hifill.md section 4. Everything is written with operations that survive
ONNX opset 11 and Ascend's ATC: constant-weight Conv / ConvTranspose with
identity kernels (im2col / col2im of 3x3 patches), Pad / Slice / Reshape /
Transpose for the large 2r x 2r patches, MatMul, ReduceMax / Softmax. No
Einsum, unfold/fold, grid_sample, or convolution whose weights are data.

Deliberate differences from the reference, all parameter-free:
- Queries are L2-normalised like the keys (cosine similarity), so logits are
  bounded to [-softmax_scale, softmax_scale]: safe for ATC's fp16 default.
- Keys touching the hole get a large negative logit (not 0) and rows are
  renormalised over the usable keys, then multiplied by the validity mask so
  that those keys get exactly zero weight. A row with no usable key is all
  zeros (it sums to at most 1).
- Overlapping transferred patches are averaged (divided by a constant
  coverage map) rather than summed, which avoids checkerboard gain patterns.
- The softmax scale may be learned (``max_scale``): ``max_scale *
  sigmoid(theta)``, bounded so the logits stay fp16-safe, starting at
  ``softmax_scale``. With cosine logits a fixed scale of 10 cannot make a
  row peak over hundreds of keys (a key at cosine 0.9 against the best at
  1.0 keeps e^-1 of its weight), and CRA's aggregated residual is only as
  sharp as the rows are peaked.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# Logit given to keys that touch the hole: far below any real logit, and
# representable in fp16 (max 65504).
_MASKED_LOGIT = -1.0e4
_EPS = 1.0e-4


def identity_kernel(channels: int, kernel: int) -> torch.Tensor:
    """Constant weight (channels*k*k, 1, k, k) that copies each k x k neighbour
    of each channel to its own output channel (im2col as a grouped Conv; the
    same tensor does col2im as a grouped ConvTranspose)."""
    eye = torch.eye(kernel * kernel).reshape(kernel * kernel, 1, kernel, kernel)
    return eye.repeat(channels, 1, 1, 1)


def safe_l2_normalise(v: torch.Tensor, dim: int) -> torch.Tensor:
    """L2-normalise along ``dim`` without fp16 overflow: scale by the max
    magnitude first so the sum of squares stays below the vector length."""
    v = v / (torch.amax(torch.abs(v), dim=dim, keepdim=True) + _EPS)
    return v / torch.sqrt(torch.sum(v * v, dim=dim, keepdim=True) + _EPS)


def extract_block_patches(x: torch.Tensor, r: int) -> torch.Tensor:
    """2r x 2r patches with stride r, one centred on each r x r cell.

    ``x`` (B, C, g*r, g*r') -> (B, 4*C*r*r, g*g'). Built from non-overlapping
    r x r blocks (Pad, Reshape, Transpose, Slice, Concat) instead of an
    identity convolution, which at r = 8 would cost gigaflops of copies.
    """
    b, c, h, w = x.shape
    gh, gw = h // r, w // r
    half = r // 2
    x = F.pad(x, (half, half, half, half))
    blocks = x.reshape(b * c, gh + 1, r, gw + 1, r).permute(0, 2, 4, 1, 3)
    parts = [blocks[:, :, :, i:i + gh, j:j + gw] for i in (0, 1) for j in (0, 1)]
    return torch.cat([p.reshape(b, c * r * r, gh * gw) for p in parts], dim=1)


def fold_block_patches(cols: torch.Tensor, channels: int, r: int, grid: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`extract_block_patches` with overlaps summed.

    ``cols`` (B, 4*C*r*r, gh*gw) -> (B, C, gh*r, gw*r).
    """
    b = cols.shape[0]
    gh, gw = grid
    half = r // 2
    parts = torch.chunk(cols, 4, dim=1)
    offsets = [(i, j) for i in (0, 1) for j in (0, 1)]
    total = None
    for (i, j), part in zip(offsets, parts):
        part = part.reshape(b * channels, r, r, gh, gw)
        part = F.pad(part, (j, 1 - j, i, 1 - i))
        total = part if total is None else total + part
    out = total.permute(0, 3, 1, 4, 2).reshape(b, channels, (gh + 1) * r, (gw + 1) * r)
    return out[:, :, half:half + gh * r, half:half + gw * r]


def key_validity(mask: torch.Tensor, cell: int) -> torch.Tensor:
    """(B, 1, H, W) hole mask -> (B, 1, N): 1 where the key's 3x3 patch of
    cell x cell cells is entirely known (the keys a row may weigh)."""
    cells = F.max_pool2d(mask, cell, cell)
    touching = F.max_pool2d(cells, 3, 1, 1)
    return (1.0 - touching).flatten(2)


def transfer(values: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Attention-weighted sum of value columns: (B, D, N) x (B, Nq, Nk) -> (B, D, Nq)."""
    return torch.matmul(values, attention.transpose(1, 2))


class AttentionEmbedding(nn.Module):
    """The features the attention compares: ``x + conv1x1(elu(conv3x3(x)))``
    on the H/16 grid, the last convolution starting at zero (the scores of
    a network without it, at first). The values CRA and the transfers move
    stay the encoder's own features: the head changes where they come from,
    not what they are, so it can be trained alone on the attention target."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.spread = nn.Conv2d(channels, channels, 3, padding=1)
        self.mix = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.mix.weight)
        nn.init.zeros_(self.mix.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.elu(self.spread(x)))


class AttentionComputing(nn.Module):
    """ACM: one (N x N) score matrix on the H/16 grid, and the transfer at H/8.

    Input ``feat`` (B, C, H/8, W/8) after the refine stage's dilated block and
    the binary hole mask (B, 1, H, W). Returns the attended (B, C, H/8, W/8)
    map and ``attention`` (B, N, N) with N = (H/16) * (W/16): row q holds the
    weights of query cell q over the key cells, zero for any key touching the
    hole.
    """

    def __init__(self, channels: int, softmax_scale: float = 10.0, fuse: bool = False, cell: int = 16,
                 max_scale: Optional[float] = None, head: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.embed = AttentionEmbedding(channels) if head else None
        self.softmax_scale = softmax_scale
        self.max_scale = max_scale
        if max_scale is not None:
            if not 0.0 < softmax_scale < max_scale:
                raise ValueError(f"softmax_scale {softmax_scale} must lie in (0, max_scale {max_scale})")
            start = softmax_scale / max_scale
            self.scale_logit = nn.Parameter(torch.tensor(math.log(start / (1.0 - start))))
        self.fuse = fuse
        self.cell = cell
        self.register_buffer("patch_kernel", identity_kernel(channels, 3), persistent=False)
        self.register_buffer("fuse_kernel", torch.eye(3).reshape(1, 1, 3, 3), persistent=False)

    def _patches(self, x: torch.Tensor, stride: int) -> torch.Tensor:
        cols = F.conv2d(x, self.patch_kernel, stride=stride, padding=1, groups=self.channels)
        return cols.flatten(2)

    def _fuse(self, scores: torch.Tensor, gh: int, gw: int) -> torch.Tensor:
        """DeepFill v1 fuse: favour keys whose neighbours match the query's neighbours."""
        n = gh * gw
        s = F.conv2d(scores.reshape(-1, 1, n, n), self.fuse_kernel, padding=1)
        # Transpose the spatial order (rows <-> columns of the grid) and fuse again.
        s = s.reshape(-1, gh, gw, gh, gw).permute(0, 2, 1, 4, 3).reshape(-1, 1, n, n)
        s = F.conv2d(s, self.fuse_kernel, padding=1)
        s = s.reshape(-1, gw, gh, gw, gh).permute(0, 2, 1, 4, 3)
        return s.reshape(-1, n, n)

    def scale(self) -> torch.Tensor:
        """The softmax scale: learned in (0, max_scale), or the fixed one."""
        if self.max_scale is None:
            return torch.tensor(self.softmax_scale)
        return self.max_scale * torch.sigmoid(self.scale_logit)

    def key_validity(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) hole mask -> (B, 1, N): see :func:`key_validity`."""
        return key_validity(mask, self.cell)

    def weights(self, feat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The attention (B, N, N) of ``feat`` (B, C, H/8, W/8) and the hole mask."""
        small = F.max_pool2d(feat, 1, 2)  # every other pixel: the H/16 grid
        gh, gw = small.shape[2], small.shape[3]
        if self.embed is not None:
            small = self.embed(small)
        patches = safe_l2_normalise(self._patches(small, 1), dim=1)  # (B, 9C, N)
        scores = torch.matmul(patches.transpose(1, 2), patches)  # (B, Nq, Nk), in [-1, 1]
        if self.fuse:
            scores = self._fuse(scores, gh, gw) / 9.0
        valid = self.key_validity(mask)
        scale = self.softmax_scale if self.max_scale is None else self.scale().to(scores.dtype)
        logits = scores * scale * valid + (1.0 - valid) * _MASKED_LOGIT
        logits = logits - torch.amax(logits, dim=2, keepdim=True)
        return torch.softmax(logits, dim=2) * valid

    def forward(self, feat: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = feat.shape
        gh, gw = (h + 1) // 2, (w + 1) // 2
        attention = self.weights(feat, mask)
        values = self._patches(feat, 2)  # 3x3 patches, stride 2: (B, 9C, N)
        cols = transfer(values, attention).reshape(b, c * 9, gh, gw)
        out = F.conv_transpose2d(cols, self.patch_kernel, stride=2, padding=1, output_padding=1, groups=c)
        ones = torch.ones(1, 9, gh, gw, dtype=feat.dtype, device=feat.device)
        coverage = F.conv_transpose2d(ones, self.patch_kernel[:9], stride=2, padding=1, output_padding=1)
        return out / coverage, attention


class AttentionTransfer(nn.Module):
    """ATM: reuse the ACM scores at a finer level with 2r x 2r value patches."""

    def __init__(self, channels: int, r: int) -> None:
        super().__init__()
        if r % 2:
            raise ValueError(f"ATM patch stride must be even, got {r}")
        self.channels = channels
        self.r = r

    def forward(self, feat: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        grid = (feat.shape[2] // self.r, feat.shape[3] // self.r)
        cols = transfer(extract_block_patches(feat, self.r), attention)
        out = fold_block_patches(cols, self.channels, self.r, grid)
        ones = torch.ones(1, 4 * self.r * self.r, grid[0] * grid[1], dtype=feat.dtype, device=feat.device)
        coverage = fold_block_patches(ones, 1, self.r, grid)
        return out / coverage
