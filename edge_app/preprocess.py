"""Frame + hole -> the network's 512 x 512 inputs (spec hifill.md 6, step 2).

The image is area-averaged (never nearest: nearest aliases); a 512 pixel is a
hole if any native pixel it overlaps is one, so no hole pixel leaks into the
"known" part the network copies from.
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


def image_input(small: np.ndarray) -> np.ndarray:
    """The network's ``img``: float32 [1, 512, 512, 3] BGR 0..255."""
    return np.ascontiguousarray(small.astype(np.float32)[None])


def mask_input(small_mask: np.ndarray) -> np.ndarray:
    """The network's ``mask``: float32 [1, 512, 512, 1], hole = 1."""
    return np.ascontiguousarray(small_mask.astype(np.float32)[None, :, :, None])
