"""The deployable model: the generator inside the sample model's interface.

``DeployWrapper`` puts everything the board would otherwise do on its CPU
into the graph, so the exported ONNX has exactly the interface of Huawei's
HiFill sample (``edge_app/interface.py``):

- ``img`` NHWC BGR 0..255 -> ``x = img / 127.5 - 1`` in NCHW;
- ``mask`` NHWC, binarised in the graph (``mask > 0.5``, hole = 1);
- ``inpainted`` = ``refined * m + x * (1 - m)`` back to 0..255 NHWC, so that
  outside the hole it equals the input up to float rounding;
- ``attention`` = the generator's (1, 1024, 1024) scores as (1, 32, 32, 1024);
- ``mask_processed`` = ``max(m, gaussian7x7_sigma1(m))``.

Deliberate deviation (mask_processed): the reference blurred the hole mask
symmetrically, so the blend weight fell below 1 inside the hole near its
border and original hole pixels (the object being removed) leaked into the
final blend. Taking the max with ``m`` keeps the weight exactly 1 in the hole
and lets it fade only outside, over the 3 pixels the 7 x 7 kernel reaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from edge_app import interface
from training.checkpoint import load_generator
from training.model import HiFillGenerator, build_generator

#: Gaussian of the softened blend mask (reference: 7 x 7, sigma 1).
BLUR_SIZE = 7
BLUR_SIGMA = 1.0
#: Mask values above this are holes (JPEG masks are not binary).
MASK_THRESHOLD = 0.5


def gaussian_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Normalised (1, 1, size, size) Gaussian, a constant Conv weight."""
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2.0
    g = torch.exp(-(r * r) / (2.0 * sigma * sigma))
    k = torch.outer(g, g)
    return (k / k.sum()).reshape(1, 1, size, size)


class DeployWrapper(nn.Module):
    """``(img, mask) -> (inpainted, attention, mask_processed)``, interface of
    ``edge_app/interface.py`` (batch 1, MODEL_SIZE square)."""

    def __init__(self, generator: HiFillGenerator) -> None:
        super().__init__()
        self.generator = generator
        self.register_buffer("blur_kernel", gaussian_kernel(), persistent=False)

    def forward(self, img: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = img.permute(0, 3, 1, 2) / 127.5 - 1.0
        m = (mask.permute(0, 3, 1, 2) > MASK_THRESHOLD).to(x.dtype)
        _, refined, attention = self.generator(x, m)
        composite = refined * m + x * (1.0 - m)
        inpainted = ((composite + 1.0) * 127.5).permute(0, 2, 3, 1)
        soft = torch.maximum(m, F.conv2d(m, self.blur_kernel, padding=BLUR_SIZE // 2))
        attention = attention.reshape(interface.OUTPUTS["attention"][0])
        return inpainted, attention, soft.permute(0, 2, 3, 1)


@dataclass(frozen=True)
class Provenance:
    """Where the weights came from; written into the ONNX metadata."""

    checkpoint_sha256: str
    training_steps: int
    source: str

    def metadata(self) -> Dict[str, str]:
        """The ``edge_app.interface.METADATA_KEYS`` entries, as strings, plus
        "precision" (fp32; the float16 twin says fp16), which
        ``edge_app bench`` records and older exports lack."""
        values = {
            "interface_version": interface.INTERFACE_VERSION,
            "checkpoint_sha256": self.checkpoint_sha256,
            "training_steps": str(self.training_steps),
            "source": self.source,
        }
        return dict({k: values[k] for k in interface.METADATA_KEYS}, precision="fp32")


def load_wrapper(checkpoint: Optional[str], seed: int = 0) -> Tuple[DeployWrapper, Provenance]:
    """The eval-mode wrapper from ``checkpoint``, or randomly initialised
    (seeded, for tests and smoke runs) when ``checkpoint`` is None."""
    if checkpoint is None:
        torch.manual_seed(seed)
        generator = build_generator()
        provenance = Provenance("random-init", 0, f"random-init (seed {seed})")
    else:
        generator, meta = load_generator(checkpoint)
        provenance = Provenance(meta["sha256"], meta["total_steps"], f"checkpoint {meta['path']}")
    return DeployWrapper(generator).eval(), provenance


def example_inputs() -> Tuple[torch.Tensor, torch.Tensor]:
    """Interface-shaped inputs for tracing: a grey image with a box hole."""
    img = torch.full(interface.INPUTS["img"][0], 128.0)
    mask = torch.zeros(interface.INPUTS["mask"][0])
    s = interface.MODEL_SIZE
    mask[:, s // 4:s // 2, s // 4:s // 2, :] = 1.0
    return img, mask
