"""Light-weight gated convolutions (LWGC, spec hifill.md section 2).

Two gate flavours: ``sc`` (one gate channel broadcast over the features, the
coarse stage) and ``pw`` (a 1x1 pointwise gate with one channel per feature,
the refine stage). Every convolution here has learned, constant weights, so the
layers export to plain ONNX Conv / Sigmoid / Elu / Mul / Resize nodes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedConv(nn.Module):
    """``out = act(feat(x)) * sigmoid(gate(x))`` with a ``sc`` or ``pw`` gate.

    ``activation=False`` drops the ELU on the features (the last layer of each
    stage, which produces the 3 output channels).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        dilation: int = 1,
        gate: str = "sc",
        activation: bool = True,
    ) -> None:
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.feat = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation)
        if gate == "sc":
            self.gate = nn.Conv2d(in_ch, 1, kernel, stride, padding, dilation)
        elif gate == "pw":
            self.gate = nn.Conv2d(in_ch, out_ch, 1, stride, 0)
        else:
            raise ValueError(f"unknown gate {gate!r}: expected 'sc' or 'pw'")
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.feat(x)
        if self.activation:
            feat = F.elu(feat)
        return feat * torch.sigmoid(self.gate(x))


class GatedUpConv(nn.Module):
    """Bilinear x2 upsampling followed by a 3x3 gated convolution."""

    def __init__(self, in_ch: int, out_ch: int, gate: str = "sc", activation: bool = True) -> None:
        super().__init__()
        self.conv = GatedConv(in_ch, out_ch, 3, 1, 1, gate=gate, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.conv(x)
