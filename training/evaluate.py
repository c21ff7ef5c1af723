"""Evaluate a generator on a fixed, seeded set of crops and masks.

Sample ``i`` is crop ``i`` and mask ``i`` of a ``BatchSource`` with batch
size 1 and the given seed, so the set depends only on (folder, size, seed,
count) and the numbers are the same on every run. The metrics are computed
on the composited result ``refined * m + truth * (1 - m)``, quantised to
8 bits like a saved image, against the truth, on a 0..1 scale:

- ``l1_hole``: mean absolute error over hole pixels only (all channels);
- ``l1``: mean absolute error over the whole image (known pixels are exact,
  so this is ``l1_hole`` times the hole fraction);
- ``psnr`` (dB), ``ssim``, ``ms_ssim``: over the whole image, averaged over
  images. MS-SSIM uses 5 scales when the size allows it (>= 176 px), fewer
  otherwise; ``ms_ssim_scales`` says how many;
- ``swd`` and ``edge_f1``: the hole's patch-distribution distance (lower is
  better) and edge F1 (higher is better) of training/hole_metrics.py, which
  judge detail and structure where pixel errors favour a smooth fill.

``--baseline telea|navier_stokes`` measures OpenCV's ``cv2.inpaint`` (radius
3) on the same samples instead, the classical reference of the model card;
``--baseline patches`` the app's exemplar completion of the 512 view
(edge_app.completion, the default fill's, without the network's candidates).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Optional

import cv2
import numpy as np
import torch
from torch import nn

from edge_app.completion import complete_view

from . import hole_metrics, metrics
from .checkpoint import load_generator
from .config import DataConfig, LossConfig, MaskConfig, ModelConfig
from .losses import attention_losses
from .data import BatchSource

METRICS = ("l1_hole", "l1", "psnr", "ssim", "ms_ssim", "swd", "edge_f1")
#: Of the attention rows of the hole (a generator's, not a baseline's): KL
#: from the target rows and the mean top weight (training/attention_target.py).
ATTENTION_METRICS = ("att_cost", "att_kl", "att_top")
ATTENTION_CELL = ModelConfig().attention_cell
#: OpenCV's inpainting methods (``--baseline``, with "patches").
OPENCV_BASELINES = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
BASELINES = tuple(OPENCV_BASELINES) + ("patches",)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8 BGR."""
    return torch.round((x.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class HostInpaint(nn.Module):
    """A host-side fill with the generator's call signature: ``(x, m) -> (None,
    result, None)``, x in [-1, 1] BGR (B, 3, H, W), m (B, 1, H, W) hole = 1:
    OpenCV's cv2.inpaint (radius 3) or the app's patch completion."""

    def __init__(self, method: str, radius: int = 3) -> None:
        super().__init__()
        if method not in BASELINES:
            raise ValueError(f"unknown baseline {method!r}: choose from {', '.join(BASELINES)}")
        self.method, self.radius = method, radius

    def _fill(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        if self.method == "patches":
            done = complete_view(image, hole)
            return image if done is None else np.clip(np.rint(done.image), 0, 255).astype(np.uint8)
        return cv2.inpaint(image, hole * 255, self.radius, OPENCV_BASELINES[self.method])

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        holes = (mask[:, 0] > 0.5).to(torch.uint8).cpu().numpy()
        out = np.stack([self._fill(np.ascontiguousarray(i), h) for i, h in zip(_to_uint8(x), holes)])
        result = torch.from_numpy(out).permute(0, 3, 1, 2).to(x.device, torch.float32) / 127.5 - 1.0
        return None, result, None


@torch.no_grad()
def evaluate_generator(generator: nn.Module, source: BatchSource, count: int, device: torch.device,
                       batch: int = 4) -> Dict[str, Any]:
    """Mean metrics of ``generator`` on samples 0..count-1 of ``source``."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    generator.eval()
    size = source.cfg.size
    scales = metrics.max_ms_ssim_scales(size, size)
    sums = {k: 0.0 for k in METRICS}
    for start in range(0, count, batch):
        pairs = [source.batch(i) for i in range(start, min(count, start + batch))]
        x = torch.cat([p[0] for p in pairs]).to(device)
        m = torch.cat([p[1] for p in pairs]).to(device)
        _, refined, attention = generator(x, m)
        if attention is not None:
            terms = attention_losses(x, m, attention, ATTENTION_CELL, LossConfig())
            for k in ATTENTION_METRICS:
                sums[k] = sums.get(k, 0.0) + float(terms[k]) * x.shape[0]
        out = refined.float() * m + x * (1 - m)
        out01 = torch.round((out.clamp(-1, 1) + 1) * 127.5) / 255.0
        truth01 = (x + 1) / 2
        values = {
            "l1_hole": metrics.l1(out01, truth01, m),
            "l1": metrics.l1(out01, truth01),
            "psnr": metrics.psnr(out01, truth01),
            "ssim": metrics.ssim(out01, truth01),
            "ms_ssim": metrics.ms_ssim(out01, truth01, scales),
        }
        for k, v in values.items():
            sums[k] += float(v.double().sum())
        holes = (m[:, 0] > 0.5).cpu().numpy()
        for result, truth, hole in zip(_to_uint8(out), _to_uint8(x), holes):
            sums["swd"] += hole_metrics.swd(result, truth, hole)
            sums["edge_f1"] += hole_metrics.edge_f1(result, truth, hole)
    result: Dict[str, Any] = {k: v / count for k, v in sums.items()}
    result.update({"count": count, "size": size, "ms_ssim_scales": scales})
    return result


def format_table(result: Dict[str, Any]) -> str:
    """The metrics as an aligned two-column text table."""
    rows = [
        ("L1 in hole (0..1)", result["l1_hole"]),
        ("L1 whole image (0..1)", result["l1"]),
        ("PSNR (dB)", result["psnr"]),
        ("SSIM", result["ssim"]),
        (f"MS-SSIM ({result['ms_ssim_scales']} scales)", result["ms_ssim"]),
        ("SWD in hole (lower is better)", result["swd"]),
        ("edge F1 in hole", result["edge_f1"]),
    ]
    rows += [(name, result[key]) for key, name in (("att_cost", "attention match cost (hole rows)"),
                                                   ("att_kl", "attention KL from target (hole rows)"),
                                                   ("att_top", "attention top weight (hole rows)"))
             if key in result]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  --------"]
    lines += [f"{name:<{width}}  {value:.6f}" if math.isfinite(value) else f"{name:<{width}}  {value}"
              for name, value in rows]
    return "\n".join(lines)


def run_evaluation(checkpoint: Optional[str], data: str, size: int = 512, count: int = 100, seed: int = 1234,
                   batch: int = 4, json_path: Optional[str] = None, device: str = "cpu",
                   baseline: Optional[str] = None) -> Dict[str, Any]:
    """Evaluate a checkpoint, or an OpenCV ``baseline`` (default masks:
    MaskConfig()), print and return the metrics."""
    if (checkpoint is None) == (baseline is None):
        raise ValueError("give a checkpoint or a baseline (one of them)")
    dev = torch.device(device)
    if baseline is None:
        generator, meta = load_generator(checkpoint)
        what = {"checkpoint": meta["path"], "checkpoint_sha256": meta["sha256"], "step": meta["step"],
                "total_steps": meta["total_steps"]}
        title = f"{checkpoint} (step {meta['step']}, {meta['total_steps']} in all)"
    else:
        generator, what = HostInpaint(baseline), {"baseline": baseline}
        title = "patch completion" if baseline == "patches" else f"OpenCV {baseline}"
    generator.to(dev)
    source = BatchSource(DataConfig(root=data, size=size), MaskConfig(), 1, seed)
    result = evaluate_generator(generator, source, count, dev, batch)
    result.update({"seed": seed, "data": str(data)}, **what)
    print(f"{title}: {count} crops of {size}x{size} from {data}, seed {seed}")
    print(format_table(result))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n")
    return result
