"""Frame + hole -> the network's 512 x 512 inputs (spec hifill.md 6, step 2).

The image is area-averaged (never nearest: nearest aliases). The reference
makes a 512 pixel a hole if any native pixel it overlaps is one
(``small_hole``); that widens a hole by up to a 512 pixel (8.5 native ones
at 4K) on each side and hides the known pixels closest to it. With
``min_known`` < 1 a 512 pixel is known when at least that fraction of its
area is, and its colour is the area mean of its known native pixels only
(``known_small_image``): still no hole pixel leaks into the known part.
"""
import cv2
import numpy as np

from .interface import MODEL_SIZE


def small_image(image: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """uint8 BGR (size, size, 3), area-resampled (works up and down)."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def _any_pool_rows(mask: np.ndarray, out_len: int) -> np.ndarray:
    """Output row i = any(mask rows that source range i overlaps).

    Output i covers source rows [i*n/out, (i+1)*n/out): rows floor(i*n/out)
    up to ceil((i+1)*n/out) - 1 (at least one row, also when n < out).
    A loop of row-wise maxima is much faster than ``reduceat`` along axis 0.
    """
    n = mask.shape[0]
    i = np.arange(out_len, dtype=np.int64)
    starts = (i * n) // out_len
    stops = np.maximum(-((-(i + 1) * n) // out_len), starts + 1)
    return np.stack([np.maximum.reduce(mask[a:b], axis=0) for a, b in zip(starts, stops)])


def small_hole(hole: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """uint8 (size, size) 0/1: 1 where any overlapped native pixel is a hole."""
    m = hole if hole.dtype == np.uint8 else hole.astype(np.uint8)
    rows = _any_pool_rows(m, size)
    pooled = _any_pool_rows(np.ascontiguousarray(rows.T), size).T
    return (pooled != 0).astype(np.uint8)


def known_fraction(hole: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """float32 (size, size): the known fraction of each 512 pixel's area."""
    known = (hole == 0).astype(np.float32)
    return cv2.resize(known, (size, size), interpolation=cv2.INTER_AREA)


def majority_hole(fraction: np.ndarray, min_known: float) -> np.ndarray:
    """uint8 0/1 hole of the 512 pixels whose known fraction is below ``min_known``."""
    return (fraction < min_known).astype(np.uint8)


def known_small_image(image: np.ndarray, hole: np.ndarray, fraction: np.ndarray,
                      partial: np.ndarray) -> np.ndarray:
    """``small_image``, except at the ``partial`` 512 pixels (known to the
    network but holding hole pixels: mask-only, so the caller computes it
    once), which take the area mean of their known native pixels (hole
    pixels zeroed, the mean divided by ``fraction``; rounding error below one
    grey level when fraction >= 0.5)."""
    small = small_image(image)
    if partial.any():
        known = (hole == 0).view(np.uint8)
        masked = cv2.bitwise_and(image, image, mask=known)  # hole pixels zeroed (SIMD, no fancy indexing)
        sums = small_image(masked)[partial].astype(np.float32)
        small[partial] = np.clip(np.rint(sums / fraction[partial][:, None]), 0, 255).astype(np.uint8)
    return small


def image_input(small: np.ndarray) -> np.ndarray:
    """The network's ``img``: float32 [1, 512, 512, 3] BGR 0..255."""
    return np.ascontiguousarray(small.astype(np.float32)[None])


def mask_input(small_mask: np.ndarray) -> np.ndarray:
    """The network's ``mask``: float32 [1, 512, 512, 1], hole = 1."""
    return np.ascontiguousarray(small_mask.astype(np.float32)[None, :, :, None])
