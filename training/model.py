"""The HiFill generator (spec hifill.md sections 2 to 4).

Contract used by the rest of the project::

    from training.model import build_generator
    g = build_generator()
    coarse, refined, attention = g(x, mask)

``x`` (B, 3, H, W) BGR in [-1, 1]; ``mask`` (B, 1, H, W), hole = 1. ``coarse``
and ``refined`` are (B, 3, H, W) in [-1, 1]; ``attention`` is (B, N, N) with
N = (H/16) * (W/16) (1024 at 512 x 512). H and W must be multiples of 32.
With the default config the parameter count is the released model's
2,722,791 (coarse 811,489, refine 1,911,302).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AttentionComputing, AttentionTransfer
from .config import ModelConfig
from .layers import GatedConv, GatedUpConv
from .prefill import MembraneFill

# The input must divide into the attention grid and survive the coarse
# stage's half-size input followed by two stride-2 layers.
SIZE_MULTIPLE = 32


class CoarseNet(nn.Module):
    """Coarse stage: all LWGC-sc, runs at half the input size."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.base_width
        layers = [
            GatedConv(4, c, 5, 2),
            GatedConv(c, c, 3),
            GatedConv(c, 2 * c, 3, 2),
            *[GatedConv(2 * c, 2 * c, 3) for _ in range(3)],
            *[GatedConv(2 * c, 2 * c, 3, dilation=d) for d in cfg.coarse_dilations],
            *[GatedConv(2 * c, 2 * c, 3) for _ in range(3)],
            GatedUpConv(2 * c, c),
            GatedConv(c, c, 3),
            GatedUpConv(c, 3, activation=False),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _pw(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> GatedConv:
    return GatedConv(in_ch, out_ch, 3, stride, dilation, gate="pw")


def _pw_up(in_ch: int, out_ch: int, activation: bool = True) -> GatedUpConv:
    return GatedUpConv(in_ch, out_ch, gate="pw", activation=activation)


class RefineNet(nn.Module):
    """Refine stage: all LWGC-pw, ACM at H/8, ATM at H/4 (P2) and H/2 (P1)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.base_width
        self.enc1 = nn.Sequential(_pw(4, c, 2), _pw(c, c))  # P1, H/2
        self.enc2 = nn.Sequential(_pw(c, 2 * c, 2), _pw(2 * c, 2 * c))  # P2, H/4
        self.enc3 = nn.Sequential(
            _pw(2 * c, 4 * c, 2),
            _pw(4 * c, 4 * c),
            *[_pw(4 * c, 4 * c, dilation=d) for d in cfg.refine_dilations],
        )  # H/8
        self.acm = AttentionComputing(4 * c, cfg.softmax_scale, cfg.fuse, cfg.attention_cell,
                                      cfg.max_softmax_scale if cfg.learned_scale else None, cfg.attention_head)
        self.dec3 = nn.Sequential(_pw(8 * c, 4 * c), _pw(4 * c, 4 * c))
        self.up2 = nn.Sequential(_pw_up(4 * c, 2 * c), _pw(2 * c, 2 * c))
        cell = cfg.attention_cell
        self.atm2 = AttentionTransfer(2 * c, cell // 4)
        self.att2 = nn.Sequential(_pw(2 * c, 2 * c, dilation=1), _pw(2 * c, 2 * c, dilation=2))
        self.up1 = nn.Sequential(_pw_up(4 * c, c), _pw(c, c))
        self.atm1 = AttentionTransfer(c, cell // 2)
        self.att1 = nn.Sequential(_pw(c, c, dilation=1), _pw(c, c, dilation=2))
        self.to_rgb = _pw_up(2 * c, 3, activation=False)

    def attention(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The attention alone (no transfer, no decoder)."""
        return self.acm.weights(self.enc3(self.enc2(self.enc1(x))), mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        p1 = self.enc1(x)
        p2 = self.enc2(p1)
        deep = self.enc3(p2)
        attended, attention = self.acm(deep, mask)
        y = self.dec3(torch.cat([deep, attended], dim=1))
        y = self.up2(y)
        y = torch.cat([y, self.att2(self.atm2(p2, attention))], dim=1)
        y = self.up1(y)
        y = torch.cat([y, self.att1(self.atm1(p1, attention))], dim=1)
        return self.to_rgb(y), attention


class HiFillGenerator(nn.Module):
    """Coarse-to-fine generator returning ``(coarse, refined, attention)``.

    With ``cfg.prefill`` (the default) the hole is first filled inside the
    graph by :class:`~training.prefill.MembraneFill`; both stages see that
    filled image and add a correction to their input, and their last layers
    start at zero, so an untrained generator returns the classical fill.
    Without it, the release's design: zeros in the hole, stages that output
    the image directly.
    """

    def __init__(self, cfg: Optional[ModelConfig] = None) -> None:
        super().__init__()
        self.cfg = cfg or ModelConfig()
        self.prefill = MembraneFill(*self.cfg.prefill_iters) if self.cfg.prefill else None
        self.coarse = CoarseNet(self.cfg)
        self.refine = RefineNet(self.cfg)
        self._init_features(self.cfg.init_gain)

    def _init_features(self, gain: float) -> None:
        """Signal-preserving start for the gated layers' feature convolutions
        (see ``ModelConfig.init_gain``); the gates keep PyTorch's default.
        With the pre-fill, each stage's last feature convolution starts at
        zero: its correction is learned from nothing."""
        for module in self.modules():
            if isinstance(module, GatedConv):
                nn.init.kaiming_normal_(module.feat.weight, nonlinearity="linear")
                module.feat.weight.data.mul_(gain)
                nn.init.zeros_(module.feat.bias)
        if self.prefill is not None:
            for last in (self.coarse.body[-1].conv, self.refine.to_rgb.conv):
                nn.init.zeros_(last.feat.weight)

    def _coarse(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(coarse result, the refine stage's 3-channel input: coarse in the hole, known elsewhere)."""
        h, w = x.shape[-2:]
        if not torch.jit.is_tracing() and (int(h) % SIZE_MULTIPLE or int(w) % SIZE_MULTIPLE):
            raise ValueError(f"input size {int(h)}x{int(w)} is not a multiple of {SIZE_MULTIPLE}")
        known = x * (1.0 - mask)
        start = self.prefill(x, mask) if self.prefill is not None else known
        small = F.interpolate(torch.cat([start, mask], dim=1), scale_factor=0.5, mode="bilinear",
                              align_corners=False)
        coarse = F.interpolate(self.coarse(small), scale_factor=2.0, mode="bilinear", align_corners=False)
        if self.prefill is not None:
            coarse = start + coarse
        coarse = torch.clamp(coarse, -1.0, 1.0)
        return coarse, coarse * mask + known

    def attention(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The attention (B, N, N) alone: what :meth:`forward` returns third,
        without the transfers and the decoder (a cheap pass to train it)."""
        _, merged = self._coarse(x, mask)
        return self.refine.attention(torch.cat([merged, mask], dim=1), mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        coarse, merged = self._coarse(x, mask)
        refined, attention = self.refine(torch.cat([merged, mask], dim=1), mask)
        if self.prefill is not None:
            refined = merged + refined
        return coarse, torch.clamp(refined, -1.0, 1.0), attention


def build_generator(cfg: Optional[ModelConfig] = None) -> HiFillGenerator:
    """Build a HiFill generator (default config: the released architecture)."""
    return HiFillGenerator(cfg)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
