"""Mask conventions and the one policy for an (image, mask) pair.

Inside the app a hole mask is uint8 (H, W), 1 = hole, 0 = known. Files are
converted explicitly by the configured conventions (never guessed): grey
levels by the mask convention (white = hole by default, ``keep-white`` for
masks like the Ascend sample's); a mask with transparency (an alpha channel
not fully opaque) is read from its alpha by the alpha convention instead
(transparent = hole by default, ``opaque-hole`` for strokes painted on an
empty layer). A file that looks like a photo (many grey levels, many pixels
neither black nor white) is refused rather than thresholded. The same
rules, and the same messages, serve the CLI, the stream, the serve page
and the bench (``check_pair``).
"""
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from . import fileio
from .config import AppConfig
from .errors import InpaintError, InpaintWarning, NotAMaskError

#: What ``check_pair`` does with an empty mask: a note (the image comes back
#: unchanged: the CLI, the stream, the bench) or an error (the serve page).
EMPTY_POLICIES = ("warn", "error")

MASK_EMPTY = "mask is empty: nothing to inpaint"
MASK_FULL = "mask covers the whole image: nothing left to borrow from"

#: Grey levels that are neither black nor white, and the spread between a
#: pixel's channels above which it is coloured (a mask's pixels are neither).
MID_GREY = (64, 191)
COLOURED = 32
#: A file with fewer grey levels is read as a mask whatever its share of
#: grey (a mask painted in a few greys): a photo has hundreds.
PHOTO_LEVELS = 64
#: Below this share of mid-grey or coloured pixels a picture is black and
#: white: a mask (the CLI's test for swapped arguments).
MASK_LIKE = 0.1
#: The statistics are taken on a regular subsample of at most about this many pixels.
SAMPLE_PIXELS = 1 << 20


class MaskFile(NamedTuple):
    """A mask file read: its hole, and whether it came from the file's
    transparency (the alpha convention decided) or its grey levels (the
    mask convention did)."""

    hole: np.ndarray
    by_alpha: bool


class GreyShare(NamedTuple):
    """How much a picture looks like a photo rather than a mask."""

    #: share of the pixels neither black nor white (mid-grey, or coloured)
    mixed: float
    #: number of grey levels used
    levels: int
    #: share of the coloured pixels
    coloured: float


def grey_share(plane: np.ndarray, colour: Optional[np.ndarray] = None) -> GreyShare:
    """The GreyShare of a uint8 (H, W) plane, with its BGR ``colour`` where
    the file has one, on a subsample of at most about SAMPLE_PIXELS pixels."""
    step = max(1, int(np.ceil((plane.size / float(SAMPLE_PIXELS)) ** 0.5)))
    plane = plane[::step, ::step]
    levels = int(np.count_nonzero(np.bincount(plane.ravel(), minlength=256)))
    mixed = (plane >= MID_GREY[0]) & (plane <= MID_GREY[1])
    coloured = np.zeros_like(mixed)
    if colour is not None:
        colour = colour[::step, ::step]
        coloured = colour.max(axis=2) - colour.min(axis=2) > COLOURED
    pixels = float(max(mixed.size, 1))
    return GreyShare(np.count_nonzero(mixed | coloured) / pixels, levels, np.count_nonzero(coloured) / pixels)


def looks_like_a_mask(image: np.ndarray) -> bool:
    """True for a black-and-white uint8 BGR picture: a mask file read as the image."""
    return grey_share(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), image).mixed < MASK_LIKE


def _refuse_a_photo(plane: np.ndarray, colour: Optional[np.ndarray], config: AppConfig, path: Optional[str],
                    alpha: bool) -> None:
    """NotAMaskError when ``plane`` (the grey levels, or the alpha) looks like a photo."""
    share = grey_share(plane, colour)
    if share.levels < PHOTO_LEVELS or share.mixed <= config.not_a_mask_fraction:
        return
    if alpha:
        found = "its transparency has {} levels, {:.0%} of its pixels neither transparent nor opaque".format(
            share.levels, share.mixed)
    else:
        found = "a {} picture with {} grey levels, {:.0%} of its pixels neither black nor white".format(
            "colour" if share.coloured > 0.01 else "grey", share.levels, share.mixed)
    raise NotAMaskError("not a mask but a photo? {} (a mask is black and white; pass --not-a-mask-fraction 1 "
                        "to read it as a mask anyway)".format(found), path)


def mask_file_from_array(raw: np.ndarray, config: AppConfig = AppConfig(), path: Optional[str] = None) -> MaskFile:
    """The hole of a decoded mask file (grey, BGR or BGRA uint8) by ``config``'s
    conventions and thresholds; NotAMaskError (naming ``path``) for a photo."""
    if raw.ndim == 3 and raw.shape[2] == 4 and raw[..., 3].min() < 255:
        alpha = raw[..., 3]
        _refuse_a_photo(alpha, None, config, path, alpha=True)
        transparent = alpha <= config.alpha_threshold
        if config.alpha_convention == "opaque-hole":
            transparent = ~transparent
        elif config.alpha_convention != "transparent-hole":
            raise ValueError("unknown alpha convention " + repr(config.alpha_convention))
        return MaskFile(transparent.astype(np.uint8), True)
    colour = None
    if raw.ndim == 3:  # BGR, or BGRA with an opaque alpha: the colours tell
        colour = raw[..., :3]
        raw = colour.max(axis=2) if raw.shape[2] == 4 else cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    _refuse_a_photo(raw, colour, config, path, alpha=False)
    white = raw > config.mask_threshold
    if config.mask_convention == "keep-white":
        white = ~white
    elif config.mask_convention != "white-hole":
        raise ValueError("unknown mask convention " + repr(config.mask_convention))
    return MaskFile(white.astype(np.uint8), False)


def hole_from_file_array(raw: np.ndarray, config: AppConfig = AppConfig(), path: Optional[str] = None) -> np.ndarray:
    """uint8 (H, W) hole mask from a decoded mask file (see mask_file_from_array)."""
    return mask_file_from_array(raw, config, path).hole


def hole_to_file_array(hole: np.ndarray, config: AppConfig = AppConfig()) -> np.ndarray:
    """uint8 (H, W) 0/255 mask image of a hole in ``config``'s convention:
    what ``hole_from_file_array`` reads back as the same hole."""
    white = hole != 0 if config.mask_convention != "keep-white" else hole == 0
    return white.astype(np.uint8) * np.uint8(255)


def read_mask(path: str, config: AppConfig = AppConfig()) -> MaskFile:
    """A mask file read and interpreted (see mask_file_from_array)."""
    return mask_file_from_array(fileio.read_mask_file(path), config, path)


def read_hole(path: str, config: AppConfig = AppConfig()) -> np.ndarray:
    """uint8 (H, W) hole mask read from a mask file (see mask_file_from_array)."""
    return read_mask(path, config).hole


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
               mask_path: Optional[str] = None, empty: str = "warn", by_alpha: bool = False) -> List[str]:
    """Validate an image and its hole mask before the model runs; return the notes.

    Errors (InpaintError): not a uint8 BGR image, a mask of another size, a
    full mask, and with ``empty="error"`` an empty one. Notes, for the
    caller to show (``warn``, or the serve page's reply): an empty mask
    with ``empty="warn"`` (the image comes back unchanged), a hole so large
    that the mask is probably inverted (the note names the setting that
    reads it the other way: the alpha convention for a hole read from
    transparency, ``by_alpha``, else the mask convention).
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
        return [_named(_inverted(fraction, config, by_alpha), mask_path)]
    return []


def _inverted(fraction: float, config: AppConfig, by_alpha: bool) -> str:
    """The note for a hole of ``fraction``: the flag that reads this kind of file the other way."""
    if not by_alpha:
        other = "white-hole" if config.mask_convention == "keep-white" else "keep-white"
        return ("mask marks {:.0%} of the image as hole: is it inverted? If it uses the other convention, pass "
                "--mask-convention {}".format(fraction, other))
    if config.alpha_convention == "transparent-hole":
        read, other, case = "transparent", "opaque-hole", "strokes painted on a transparent layer"
    else:
        read, other, case = "opaque", "transparent-hole", "a mask whose transparent pixels are the hole"
    return ("mask marks {:.0%} of the image as hole (its {} pixels): is it inverted? For {}, pass "
            "--alpha-convention {}".format(fraction, read, case, other))


def warn(notes: Sequence[str]) -> None:
    """Each note of ``check_pair`` as an InpaintWarning (the CLI prints ``warning: ...``)."""
    for note in notes:
        warnings.warn(InpaintWarning(note), stacklevel=2)


def _named(message: str, path: Optional[str]) -> str:
    return "{}: {}".format(path, message) if path else message
