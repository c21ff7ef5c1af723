"""Training masks (hole = 1): free-form strokes, LaMa-style strokes and boxes,
and templates from a folder; a mix of them with configurable probabilities.

Every generator takes an ``np.random.Generator`` and is a pure function of it,
so a mask is reproducible from a seed. Every mask's hole fraction lies in the
configured closed range ``[lo, hi]``: stroke generators draw strokes until a
target fraction drawn from the range is reached, templates are redrawn, and
as a last resort a mask is dilated/eroded into the range or replaced by a
rectangle of an in-range area (see ``fit_ratio``).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable, List, Tuple

import cv2
import numpy as np

from .config import MaskConfig

log = logging.getLogger(__name__)

MASK_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_TRIES = 10
_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels."""
    return float(mask.mean())


def _in_range(mask: np.ndarray, lo: float, hi: float) -> bool:
    return lo <= hole_ratio(mask) <= hi


def rectangle_mask(rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
    """A random rectangle whose area fraction lies in ``[lo, hi]``."""
    total = size * size
    area = int(round(rng.uniform(lo, hi) * total))
    area = min(max(area, math.ceil(lo * total)), math.floor(hi * total))
    w_min = max(1, math.ceil(area / size))
    w = int(rng.integers(w_min, size + 1))
    h = min(size, max(1, area // w))
    # Grow by whole rows/columns until the area is reached (stays <= hi).
    while w * h < math.ceil(lo * total):
        h += 1
    y = int(rng.integers(0, size - h + 1))
    x = int(rng.integers(0, size - w + 1))
    mask = np.zeros((size, size), np.float32)
    mask[y:y + h, x:x + w] = 1.0
    return mask


def fit_ratio(mask: np.ndarray, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Bring ``mask`` into ``[lo, hi]`` by dilation/erosion, else a rectangle."""
    m = mask.astype(np.uint8)
    for _ in range(64):
        r = float(m.mean())
        if lo <= r <= hi:
            return m.astype(np.float32)
        nxt = cv2.dilate(m, _KERNEL) if r < lo else cv2.erode(m, _KERNEL)
        if (nxt == m).all() or not nxt.any() or (r > hi and nxt.mean() < lo):
            break
        m = nxt
    return rectangle_mask(rng, mask.shape[0], lo, hi)


def _stroke_mask(rng: np.random.Generator, size: int, lo: float, hi: float,
                 draw: Callable[[np.ndarray, np.random.Generator], None]) -> np.ndarray:
    """Call ``draw`` (one stroke or box) until a target fraction is reached."""
    best = None
    for _ in range(_TRIES):
        target = rng.uniform(lo, hi)
        mask = np.zeros((size, size), np.uint8)
        for _ in range(200):
            draw(mask, rng)
            if mask.mean() >= target:
                break
        if _in_range(mask, lo, hi):
            return mask.astype(np.float32)
        best = mask
    return fit_ratio(best, rng, lo, hi)


def _polyline(mask: np.ndarray, rng: np.random.Generator, width: int, vertices: int,
              max_len: float, max_angle: float) -> None:
    """One brush stroke: a random walk of ``vertices`` segments, round joints."""
    size = mask.shape[0]
    x, y = float(rng.integers(0, size)), float(rng.integers(0, size))
    angle = rng.uniform(0, 2 * math.pi)
    cv2.circle(mask, (int(x), int(y)), width // 2, 1, -1)
    for _ in range(vertices):
        angle += rng.uniform(-max_angle, max_angle)
        length = rng.uniform(max_len * 0.2, max_len)
        nx = float(np.clip(x + length * math.cos(angle), 0, size - 1))
        ny = float(np.clip(y + length * math.sin(angle), 0, size - 1))
        cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, width)
        cv2.circle(mask, (int(nx), int(ny)), width // 2, 1, -1)
        x, y = nx, ny


def free_form_mask(rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
    """DeepFill v2 style free-form brush strokes (wide, bendy polylines)."""

    def draw(mask: np.ndarray, r: np.random.Generator) -> None:
        width = int(r.uniform(0.03, 0.1) * size) + 1
        _polyline(mask, r, width, int(r.integers(4, 13)), 0.2 * size, 2 * math.pi / 5)

    return _stroke_mask(rng, size, lo, hi, draw)


# LaMa's three stroke families, widths as fractions of the image side.
_LAMA_WIDTHS = {"thin": (0.01, 0.04), "medium": (0.04, 0.1), "thick": (0.1, 0.25)}


def lama_mask(rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
    """LaMa-style thin/medium/thick strokes; medium and thick mix in boxes."""
    kind = ("thin", "medium", "thick")[int(rng.integers(0, 3))]
    w_lo, w_hi = _LAMA_WIDTHS[kind]

    def draw(mask: np.ndarray, r: np.random.Generator) -> None:
        if kind != "thin" and r.uniform() < 0.3:
            bw, bh = (int(r.uniform(0.1, 0.4) * size) for _ in range(2))
            x, y = int(r.integers(0, size - bw + 1)), int(r.integers(0, size - bh + 1))
            mask[y:y + bh, x:x + bw] = 1
            return
        width = int(r.uniform(w_lo, w_hi) * size) + 1
        _polyline(mask, r, width, int(r.integers(1, 6)), 0.4 * size, math.pi / 2)

    return _stroke_mask(rng, size, lo, hi, draw)


class FolderMasks:
    """Mask templates from a folder with random flip, rotation and scale.

    ``hole="white"``: white (>127) pixels are the hole; ``"black"``: black are.
    Templates are augmented as in the reference: random flips, rotation
    U(-90, 90) degrees and scale U(0.8, 1.0) about the centre.
    """

    def __init__(self, folder: str, hole: str = "white") -> None:
        if hole not in ("white", "black"):
            raise ValueError(f"mask_hole must be 'white' or 'black', got {hole!r}")
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"mask folder not found: {folder}")
        self.templates: List[np.ndarray] = []
        for p in sorted(q for q in root.rglob("*") if q.suffix.lower() in MASK_EXTENSIONS):
            img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            if img is None:
                log.warning("skipping unreadable mask %s", p)
                continue
            hole_px = img > 127 if hole == "white" else img <= 127
            self.templates.append(hole_px.astype(np.uint8))
        if not self.templates:
            raise ValueError(f"no usable mask image in {folder}")

    def _augment(self, rng: np.random.Generator, size: int) -> np.ndarray:
        t = self.templates[int(rng.integers(0, len(self.templates)))]
        t = cv2.resize(t, (size, size), interpolation=cv2.INTER_NEAREST)
        if rng.uniform() < 0.5:
            t = t[:, ::-1]
        if rng.uniform() < 0.5:
            t = t[::-1, :]
        rot = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-90, 90), rng.uniform(0.8, 1.0))
        return cv2.warpAffine(np.ascontiguousarray(t), rot, (size, size), flags=cv2.INTER_NEAREST,
                              borderValue=0)

    def __call__(self, rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
        mask = None
        for _ in range(_TRIES):
            mask = self._augment(rng, size)
            if _in_range(mask, lo, hi):
                return mask.astype(np.float32)
        return fit_ratio(mask, rng, lo, hi)


class MaskGenerator:
    """Draws masks of one size from the configured mix of kinds.

    ``gen(rng)`` returns a float32 (size, size) array in {0, 1}, hole = 1.
    """

    def __init__(self, cfg: MaskConfig, size: int) -> None:
        lo, hi = cfg.hole_ratio
        if not 0.0 <= lo <= hi <= 1.0 or hi <= 0.0:
            raise ValueError(f"hole_ratio must satisfy 0 <= lo <= hi <= 1, hi > 0; got {cfg.hole_ratio}")
        self.size, self.lo, self.hi = size, lo, hi
        kinds: List[Tuple[str, float, Callable[..., np.ndarray]]] = [
            ("free_form", cfg.free_form, free_form_mask),
            ("lama", cfg.lama, lama_mask),
        ]
        if cfg.folder > 0:
            if not cfg.mask_dir:
                raise ValueError("mask.folder > 0 needs mask.mask_dir (a folder of mask images)")
            kinds.append(("folder", cfg.folder, FolderMasks(cfg.mask_dir, cfg.mask_hole)))
        weights = np.array([max(0.0, w) for _, w, _ in kinds], np.float64)
        if weights.sum() <= 0:
            raise ValueError("mask config: all kind probabilities are zero")
        self.names = [k for k, _, _ in kinds]
        self.fns = [f for _, _, f in kinds]
        self.probs = weights / weights.sum()

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        idx = int(rng.choice(len(self.fns), p=self.probs))
        return self.fns[idx](rng, self.size, self.lo, self.hi)
