"""Metrics that judge a fill by its kind of detail and its edges, not pixel by pixel.

Borrowed or synthesised texture is never in phase with the truth, so pixel
errors (L1) favour a smooth fill. These two do not:

- :func:`swd` - the sliced Wasserstein distance between the 7 x 7 patches of
  a 3-level Laplacian pyramid of the result and of the truth, taken where
  the hole is (Karras et al. 2018's metric, per case). Patches are
  normalised by the truth's per-dimension mean and spread, so 0 means the
  same distribution of detail and blur or streaks score badly whatever
  their phase. ``max_side=512`` scores the hole's box scaled to at most
  512 px a side (what a person sees of the whole hole).
- :func:`edge_f1` - Canny edges of the hole's box (scaled to at most 512 px
  a side, grey, lightly blurred) in the result against the truth's, inside
  the hole, matched within 2 px: a blurred fill loses recall, streaks and
  repeats lose precision.

Both take uint8 BGR images of one size and a bool hole mask; numpy and
OpenCV only, deterministic (fixed seeds).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np

#: Pyramid levels, patch side, patches sampled per level and projections (SWD).
SWD_LEVELS = 3
SWD_PATCH = 7
SWD_PATCHES = 4096
SWD_PROJECTIONS = 256
#: Hole pixels a level needs to be scored (a thin wire vanishes at coarse levels).
SWD_MIN_PIXELS = 16
#: Edge F1: side of the scaled box, Gaussian sigma, Canny thresholds, match distance.
EDGE_SIDE = 512
EDGE_SIGMA = 1.0
EDGE_CANNY = (50, 150)
EDGE_MATCH_PX = 2.0


def hole_box(hole: np.ndarray, margin: int) -> Tuple[slice, slice]:
    """The hole's bounding box grown by ``margin`` pixels, clipped to the frame."""
    ys, xs = np.nonzero(hole)
    if ys.size == 0:
        raise ValueError("the hole is empty")
    h, w = hole.shape
    return (slice(max(int(ys.min()) - margin, 0), min(int(ys.max()) + 1 + margin, h)),
            slice(max(int(xs.min()) - margin, 0), min(int(xs.max()) + 1 + margin, w)))


def _scaled(images: List[np.ndarray], hole: np.ndarray, max_side: Optional[int]) -> Tuple[List[np.ndarray], np.ndarray]:
    """Images and hole scaled (area) so the longest side is at most ``max_side``;
    a pixel is hole when at least half of its area was."""
    h, w = hole.shape
    if max_side is None or max(h, w) <= max_side:
        return images, hole
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]
    area = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return small, area >= 0.5


def _laplacian_pyramid(image: np.ndarray, levels: int) -> List[np.ndarray]:
    """Band-pass levels (finest first) and the low-pass rest, float32."""
    out, current = [], image.astype(np.float32)
    for _ in range(levels - 1):
        down = cv2.pyrDown(current)
        up = cv2.pyrUp(down, dstsize=(current.shape[1], current.shape[0]))
        out.append(current - up)
        current = down
    out.append(current)
    return out


def _level_hole(hole: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    if hole.shape == shape:
        return hole
    area = cv2.resize(hole.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return area >= 0.5


def _patches(level: np.ndarray, centres: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(N, PATCH * PATCH * C) patches around ``centres`` (edges reflected)."""
    r = SWD_PATCH // 2
    padded = cv2.copyMakeBorder(level, r, r, r, r, cv2.BORDER_REFLECT_101)
    if padded.ndim == 2:
        padded = padded[..., None]
    ys, xs = centres
    offsets = np.arange(SWD_PATCH)
    rows = ys[:, None, None] + offsets[None, :, None]
    cols = xs[:, None, None] + offsets[None, None, :]
    return padded[rows, cols].reshape(len(ys), -1)


def _sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance
    between the projections of the two (N, D) sets (same N)."""
    directions = rng.standard_normal((a.shape[1], SWD_PROJECTIONS))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    pa = np.sort(a @ directions, axis=0)
    pb = np.sort(b @ directions, axis=0)
    return float(np.abs(pa - pb).mean())


def swd(result: np.ndarray, truth: np.ndarray, hole: np.ndarray, max_side: Optional[int] = None,
        seed: int = 0) -> float:
    """Sliced Wasserstein distance of the hole's Laplacian-pyramid patches
    (lower is better; NaN when the hole is too small to score).

    ``max_side``: score the hole's box scaled to at most this many pixels a
    side (None: at native size).
    """
    margin = SWD_PATCH * 2 ** SWD_LEVELS
    rows, cols = hole_box(hole, margin)
    (res, tru), box_hole = _scaled([result[rows, cols], truth[rows, cols]], hole[rows, cols], max_side)
    rng = np.random.default_rng(seed)
    scores = []
    for res_level, tru_level in zip(_laplacian_pyramid(res, SWD_LEVELS), _laplacian_pyramid(tru, SWD_LEVELS)):
        level_hole = _level_hole(box_hole, res_level.shape[:2])
        ys, xs = np.nonzero(level_hole)
        if ys.size < SWD_MIN_PIXELS:
            continue
        if ys.size > SWD_PATCHES:
            pick = rng.choice(ys.size, SWD_PATCHES, replace=False)
            ys, xs = ys[pick], xs[pick]
        a, b = _patches(res_level, (ys, xs)), _patches(tru_level, (ys, xs))
        mean, spread = b.mean(axis=0), b.std(axis=0) + 1e-3 * 255
        scores.append(_sliced_wasserstein((a - mean) / spread, (b - mean) / spread, rng))
    return float(np.mean(scores)) if scores else float("nan")


def edges(image: np.ndarray) -> np.ndarray:
    """Canny edges (bool) of a BGR or grey uint8 image after a light blur."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    blurred = cv2.GaussianBlur(grey, (0, 0), EDGE_SIGMA)
    return cv2.Canny(blurred, *EDGE_CANNY) > 0


def _near(points: np.ndarray, to: np.ndarray) -> np.ndarray:
    """For each True pixel of ``points``: is a True pixel of ``to`` within EDGE_MATCH_PX?"""
    if not to.any():
        return np.zeros(int(points.sum()), bool)
    distance = cv2.distanceTransform((~to).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance[points] <= EDGE_MATCH_PX


def edge_f1(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    """F1 of the result's edges against the truth's inside the hole (higher is
    better): 1 when neither has an edge there, 0 when only one has."""
    rows, cols = hole_box(hole, 4)
    (res, tru), box_hole = _scaled([result[rows, cols], truth[rows, cols]], hole[rows, cols], EDGE_SIDE)
    found, wanted = edges(res) & box_hole, edges(tru) & box_hole
    if not found.any() and not wanted.any():
        return 1.0
    if not found.any() or not wanted.any():
        return 0.0
    precision = float(_near(found, wanted).mean())
    recall = float(_near(wanted, found).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
