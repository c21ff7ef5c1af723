"""Interface-shaped test inputs: real photos and deterministic hole masks.

Photos are centre-cropped to a square and area-resized to MODEL_SIZE (area,
never nearest: nearest aliases). Masks mix a box and free-form strokes,
drawn from a seeded generator so every run compares the same inputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from edge_app import interface

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def square_resize(bgr: np.ndarray, size: int = interface.MODEL_SIZE) -> np.ndarray:
    """Centre square crop, then area resize to ``size`` x ``size`` (uint8 BGR)."""
    h, w = bgr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = bgr[top:top + side, left:left + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def load_photos(directory: str, count: int) -> List[Tuple[str, np.ndarray]]:
    """The first ``count`` photos under ``directory`` (sorted, recursive) as
    (name, uint8 BGR MODEL_SIZE square); unreadable files are skipped."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"image directory not found: {directory}")
    photos = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            photos.append((str(path.relative_to(root)), square_resize(image)))
        if len(photos) == count:
            break
    if not photos:
        raise ValueError(f"no readable photos ({', '.join(PHOTO_SUFFIXES)}) under {directory}")
    return photos


def make_mask(index: int, size: int = interface.MODEL_SIZE) -> np.ndarray:
    """Deterministic (size, size) float32 hole mask (1 = hole): one box and a
    few thick strokes, about 10-30 % of the image."""
    rng = np.random.default_rng(1000 + index)
    mask = np.zeros((size, size), np.uint8)
    bw, bh = rng.integers(size // 8, size // 3, size=2)
    x, y = rng.integers(0, size - bw), rng.integers(0, size - bh)
    mask[y:y + bh, x:x + bw] = 1
    for _ in range(int(rng.integers(2, 5))):
        points = rng.integers(0, size, size=(int(rng.integers(3, 6)), 2)).astype(np.int32)
        cv2.polylines(mask, [points], False, 1, thickness=int(rng.integers(size // 50, size // 20)))
    return mask.astype(np.float32)


def interface_inputs(bgr: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(img [1,H,W,3] float32 0..255, mask [1,H,W,1] float32) for the model."""
    return bgr.astype(np.float32)[None], mask.astype(np.float32)[None, :, :, None]
