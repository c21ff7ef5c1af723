"""Image quality metrics in torch: L1, PSNR, SSIM, MS-SSIM.

Images are float tensors (B, C, H, W) in [0, 1] (any H, W, any channel
order: channels are scored separately and averaged). Every function returns
one value per image, shape (B,), so callers can average as they like.

SSIM uses an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, data
range 1, "valid" filtering (no padding). MS-SSIM uses the standard 5 scales
and weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) with 2x2 average pooling
(floor) between scales; the coarsest scale must still hold an 11x11 window,
so the short side must be at least 11 * 2**(scales-1) (176 px for 5 scales,
88 for 4). For smaller images pass fewer ``scales`` (the first weights,
renormalised to sum to 1; see ``max_ms_ssim_scales``): otherwise a
ValueError says so. Computed in float32. Negative contrast-structure terms are clamped to 0 before
the fractional powers (as common implementations do) so the result is real.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def l1(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean absolute error per image; with ``mask`` (B,1,H,W) only where mask = 1."""
    _check(x, y)
    diff = (x - y).abs()
    if mask is None:
        return diff.flatten(1).mean(1)
    weight = mask.expand_as(diff)
    return (diff * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1e-12)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 1); +inf for identical images."""
    _check(x, y)
    mse = ((x - y) ** 2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    coords = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-(coords ** 2) / (2 * SIGMA ** 2))
    g = (g / g.sum()).to(dtype=dtype, device=device)
    return g.reshape(1, 1, 1, WINDOW).repeat(channels, 1, 1, 1)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filter, per channel."""
    c = x.shape[1]
    x = F.conv2d(x, g, groups=c)
    return F.conv2d(x, g.transpose(2, 3), groups=c)


def _ssim_parts(x: torch.Tensor, y: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
    """Per-image mean SSIM and mean contrast-structure term."""
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, got {tuple(x.shape[-2:])}")
    g = _gaussian(x.shape[1], x.dtype, x.device)
    c1, c2 = K1 ** 2, K2 ** 2
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    var_x = _blur(x * x, g) - mu_x ** 2
    var_y = _blur(y * y, g) - mu_y ** 2
    cov = _blur(x * y, g) - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Structural similarity per image (1 for identical images)."""
    _check(x, y)
    return _ssim_parts(x.float(), y.float())[0]


def max_ms_ssim_scales(height: int, width: int) -> int:
    """Most MS-SSIM scales (at most 5) an image of this size supports (0 if none)."""
    short = min(height, width)
    n = 0
    while n < len(MS_SSIM_WEIGHTS) and short >= WINDOW * 2 ** n:
        n += 1
    return n


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int = 5) -> torch.Tensor:
    """Multi-scale SSIM per image (Wang et al. 2003); see module docstring."""
    _check(x, y)
    if not 1 <= scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"scales must be 1..{len(MS_SSIM_WEIGHTS)}, got {scales}")
    need = WINDOW * 2 ** (scales - 1)
    if min(x.shape[-2:]) < need:
        raise ValueError(f"MS-SSIM with {scales} scales needs a short side of at least {need} px, got "
                         f"{tuple(x.shape[-2:])}; pass scales={max_ms_ssim_scales(*x.shape[-2:])}")
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float64, device=x.device)
    weights = weights / weights.sum()
    a, b = x.float(), y.float()
    result = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for i in range(scales):
        s, cs = _ssim_parts(a, b)
        term = s if i == scales - 1 else cs
        result = result * term.clamp_min(0.0) ** weights[i]
        if i < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return result.to(x.dtype)

