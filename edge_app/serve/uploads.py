"""Uploaded photos and masks in, PNGs out: the page's images, read as the CLI reads files.

A photo keeps its bit depth, grey and alpha (``fileio.SourceImage``): the
model sees its 8-bit BGR copy and the result comes back in the photo's own
layout, as ``python -m edge_app inpaint`` writes it. Masks are read and
sent in the configured mask convention (``masks``). The pixel count is
checked from the header before anything is decoded.
"""
import cv2
import numpy as np

from .. import fileio, masks
from ..config import AppConfig
from ..errors import InpaintError
from .errors import HttpError
from .header import header_size


def _decode(data: bytes, config: AppConfig, what: str, jpeg_flags: int) -> np.ndarray:
    kind, width, height = header_size(data)
    if width * height > config.serve_max_pixels:
        raise HttpError(413, "the {} is {}x{} ({:.1f} megapixels); the limit is {:.1f} megapixels".format(
            what, width, height, width * height / 1e6, config.serve_max_pixels / 1e6))
    flags = jpeg_flags if kind == "jpeg" else cv2.IMREAD_UNCHANGED  # JPEG: EXIF orientation applied
    try:
        return fileio.decode(np.frombuffer(data, np.uint8), flags, what)  # as the CLI decodes files
    except InpaintError as exc:
        raise HttpError(415, "the {} cannot be decoded ({} file): {}".format(what, kind.upper(), exc.problem))


def decode_photo(data: bytes, config: AppConfig) -> fileio.SourceImage:
    """An uploaded PNG or JPEG photo, 8- or 16-bit, grey, BGR or BGRA."""
    return fileio.source_from_array(_decode(data, config, "photo", cv2.IMREAD_ANYCOLOR), "photo")


def decode_mask(data: bytes, config: AppConfig) -> masks.MaskFile:
    """An uploaded mask PNG or JPEG read by the configured conventions (its
    hole, and whether its transparency gave it)."""
    raw = fileio.mask_from_array(_decode(data, config, "mask", cv2.IMREAD_ANYCOLOR), "mask")
    return masks.mask_file_from_array(raw, config, "mask")


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes, fast compression (the page shows and downloads them)."""
    return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()


def mask_png(hole: np.ndarray, config: AppConfig) -> bytes:
    """The hole as a mask PNG in the configured convention (what ``stream --mask`` reads)."""
    return encode_png(masks.hole_to_file_array(hole, config))
