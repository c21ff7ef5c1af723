"""Mask conventions and the checks of an (image, mask) pair.

Inside the app a hole mask is uint8 (H, W), 1 = hole, 0 = known. Files are
converted explicitly by convention (never guessed): white = hole by default,
``keep-white`` for masks like the Ascend sample's; a non-opaque alpha channel
wins over both (transparent = hole).
"""
import warnings

import numpy as np

from . import fileio
from .errors import InpaintError, InpaintWarning


def hole_from_file_array(raw: np.ndarray, convention: str, threshold: int = 127,
                         alpha_threshold: int = 127) -> np.ndarray:
    """uint8 (H, W) hole mask from a decoded mask file (grey or BGRA uint8)."""
    if raw.ndim == 3 and raw.shape[2] == 4:
        alpha = raw[..., 3]
        if alpha.min() < 255:
            return (alpha <= alpha_threshold).astype(np.uint8)
        raw = raw[..., :3].max(axis=2)
    white = raw > threshold
    if convention == "keep-white":
        white = ~white
    elif convention != "white-hole":
        raise ValueError("unknown mask convention " + repr(convention))
    return white.astype(np.uint8)


def read_hole(path: str, convention: str = "white-hole", threshold: int = 127,
              alpha_threshold: int = 127) -> np.ndarray:
    """uint8 (H, W) hole mask read from a mask file (see hole_from_file_array)."""
    return hole_from_file_array(fileio.read_mask_file(path), convention, threshold, alpha_threshold)


def as_hole(mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W) 0/1 from an API mask (bool or integer, non-zero = hole)."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise InpaintError("mask must be (H, W), got shape {}".format(mask.shape))
    return (mask != 0).astype(np.uint8)


def check_pair(image: np.ndarray, hole: np.ndarray, convention: str = "white-hole",
               inverted_fraction: float = 0.5, mask_path=None) -> float:
    """Validate an image and its hole mask; return the hole fraction.

    Errors: size mismatch, nothing known (full mask). Warnings: empty mask
    (the caller returns the image unchanged), a hole so large that the mask
    convention is probably inverted.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InpaintError("image must be uint8 (H, W, 3) BGR, got {} {}".format(image.dtype, image.shape))
    if hole.shape != image.shape[:2]:
        raise InpaintError("mask is {}x{} but the image is {}x{} (width x height)".format(
            hole.shape[1], hole.shape[0], image.shape[1], image.shape[0]), mask_path)
    n_hole = int(np.count_nonzero(hole))
    fraction = n_hole / float(hole.size)
    if n_hole == hole.size:
        raise InpaintError("mask covers the whole image: nothing left to borrow from", mask_path)
    if n_hole == 0:
        warnings.warn(InpaintWarning("{}mask is empty: image returned unchanged".format(
            _prefix(mask_path))), stacklevel=2)
    elif fraction > inverted_fraction:
        other = "white-hole" if convention == "keep-white" else "keep-white"
        warnings.warn(InpaintWarning(
            "{}mask marks {:.0%} of the image as hole: if this mask uses the other convention, "
            "pass --mask-convention {}".format(_prefix(mask_path), fraction, other)), stacklevel=2)
    return fraction


def _prefix(path) -> str:
    return "{}: ".format(path) if path else ""
