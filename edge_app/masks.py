"""Mask conventions and the one policy for an (image, mask) pair.

Inside the app a hole mask is uint8 (H, W), 1 = hole, 0 = known. Files are
converted explicitly by the configured convention (never guessed): white =
hole by default, ``keep-white`` for masks like the Ascend sample's; a
non-opaque alpha channel wins over both (transparent = hole). The same
rules, and the same messages, serve the CLI, the stream, the serve page
and the bench (``check_pair``).
"""
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import fileio
from .config import AppConfig
from .errors import InpaintError, InpaintWarning

#: What ``check_pair`` does with an empty mask: a note (the image comes back
#: unchanged: the CLI, the stream, the bench) or an error (the serve page).
EMPTY_POLICIES = ("warn", "error")

MASK_EMPTY = "mask is empty: nothing to inpaint"
MASK_FULL = "mask covers the whole image: nothing left to borrow from"


def hole_from_file_array(raw: np.ndarray, config: AppConfig = AppConfig()) -> np.ndarray:
    """uint8 (H, W) hole mask from a decoded mask file (grey or BGRA uint8),
    by ``config``'s mask convention and thresholds."""
    if raw.ndim == 3 and raw.shape[2] == 4:
        alpha = raw[..., 3]
        if alpha.min() < 255:
            return (alpha <= config.alpha_threshold).astype(np.uint8)
        raw = raw[..., :3].max(axis=2)
    white = raw > config.mask_threshold
    if config.mask_convention == "keep-white":
        white = ~white
    elif config.mask_convention != "white-hole":
        raise ValueError("unknown mask convention " + repr(config.mask_convention))
    return white.astype(np.uint8)


def hole_to_file_array(hole: np.ndarray, config: AppConfig = AppConfig()) -> np.ndarray:
    """uint8 (H, W) 0/255 mask image of a hole in ``config``'s convention:
    what ``hole_from_file_array`` reads back as the same hole."""
    white = hole != 0 if config.mask_convention != "keep-white" else hole == 0
    return white.astype(np.uint8) * np.uint8(255)


def read_hole(path: str, config: AppConfig = AppConfig()) -> np.ndarray:
    """uint8 (H, W) hole mask read from a mask file (see hole_from_file_array)."""
    return hole_from_file_array(fileio.read_mask_file(path), config)


def as_hole(mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W) 0/1 from an API mask (bool or integer, non-zero = hole)."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise InpaintError("mask must be (H, W), got shape {}".format(mask.shape))
    return (mask != 0).astype(np.uint8)


def check_size(hole: np.ndarray, image_shape: Tuple[int, ...], mask_path: Optional[str] = None,
               what: str = "the image") -> None:
    """InpaintError unless the mask has the size of ``what`` (image_shape: (H, W, ...))."""
    if hole.shape != tuple(image_shape[:2]):
        raise InpaintError("mask is {}x{} but {} is {}x{} (width x height)".format(
            hole.shape[1], hole.shape[0], what, image_shape[1], image_shape[0]), mask_path)


def check_pair(image: np.ndarray, hole: np.ndarray, config: AppConfig = AppConfig(),
               mask_path: Optional[str] = None, empty: str = "warn") -> List[str]:
    """Validate an image and its hole mask before the model runs; return the notes.

    Errors (InpaintError): not a uint8 BGR image, a mask of another size, a
    full mask, and with ``empty="error"`` an empty one. Notes, for the
    caller to show (``warn``, or the serve page's reply): an empty mask
    with ``empty="warn"`` (the image comes back unchanged), a hole so large
    that the mask convention is probably inverted.
    """
    if empty not in EMPTY_POLICIES:
        raise ValueError("empty must be one of " + ", ".join(EMPTY_POLICIES))
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InpaintError("image must be uint8 (H, W, 3) BGR, got {} {}".format(image.dtype, image.shape))
    check_size(hole, image.shape, mask_path)
    n_hole = int(np.count_nonzero(hole))
    if n_hole == hole.size:
        raise InpaintError(MASK_FULL, mask_path)
    if n_hole == 0:
        if empty == "error":
            raise InpaintError(MASK_EMPTY, mask_path)
        return [_named(MASK_EMPTY, mask_path)]
    fraction = n_hole / float(hole.size)
    if fraction > config.inverted_mask_fraction:
        other = "white-hole" if config.mask_convention == "keep-white" else "keep-white"
        return [_named("mask marks {:.0%} of the image as hole: is it inverted? If it uses the other "
                       "convention, pass --mask-convention {}".format(fraction, other), mask_path)]
    return []


def warn(notes: Sequence[str]) -> None:
    """Each note of ``check_pair`` as an InpaintWarning (the CLI prints ``warning: ...``)."""
    for note in notes:
        warnings.warn(InpaintWarning(note), stacklevel=2)


def _named(message: str, path: Optional[str]) -> str:
    return "{}: {}".format(path, message) if path else message
