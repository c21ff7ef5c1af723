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
  otherwise; ``ms_ssim_scales`` says how many.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch import nn

from . import metrics
from .checkpoint import load_generator
from .config import DataConfig, MaskConfig
from .data import BatchSource

METRICS = ("l1_hole", "l1", "psnr", "ssim", "ms_ssim")


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
        _, refined, _ = generator(x, m)
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
    result: Dict[str, Any] = {k: sums[k] / count for k in METRICS}
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
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  --------"]
    lines += [f"{name:<{width}}  {value:.6f}" if math.isfinite(value) else f"{name:<{width}}  {value}"
              for name, value in rows]
    return "\n".join(lines)


def run_evaluation(checkpoint: str, data: str, size: int = 512, count: int = 100, seed: int = 1234,
                   batch: int = 4, json_path: Optional[str] = None, device: str = "cpu") -> Dict[str, Any]:
    """Evaluate a checkpoint (default masks: MaskConfig()), print and return the metrics."""
    generator, meta = load_generator(checkpoint)
    dev = torch.device(device)
    generator.to(dev)
    source = BatchSource(DataConfig(root=data, size=size), MaskConfig(), 1, seed)
    result = evaluate_generator(generator, source, count, dev, batch)
    result.update({"seed": seed, "data": str(data), "checkpoint": meta["path"],
                   "checkpoint_sha256": meta["sha256"], "step": meta["step"]})
    print(f"{checkpoint} (step {meta['step']}): {count} crops of {size}x{size} from {data}, seed {seed}")
    print(format_table(result))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n")
    return result
