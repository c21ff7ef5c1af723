"""Reading and writing image files (the only module that touches the disk).

Images come back as uint8 BGR (H, W, 3) whatever the file holds: JPEG EXIF
orientation applied, 16-bit scaled to 8-bit, grey expanded, alpha dropped.
Mask files come back as raw arrays (grey, or BGRA when they carry alpha) for
``masks.hole_from_file_array`` to interpret.
"""
import os

import cv2
import numpy as np

from .errors import InpaintError

_JPEG_MAGIC = b"\xff\xd8\xff"


def _is_jpeg(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == _JPEG_MAGIC


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise InpaintError("file not found", path)
    if not os.path.isfile(path):
        raise InpaintError("not a file", path)


def to_uint8(arr: np.ndarray, path: str) -> np.ndarray:
    """8-bit as is; 16-bit scaled (x / 257, rounded) so 65535 -> 255."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise InpaintError("unsupported pixel type {} (8- or 16-bit images only)".format(arr.dtype), path)


def _decode(path: str, flags: int) -> np.ndarray:
    arr = cv2.imread(path, flags)
    if arr is None or arr.size == 0:
        raise InpaintError("cannot read as an image (unreadable or unsupported format)", path)
    return arr


def read_image(path: str) -> np.ndarray:
    """uint8 BGR (H, W, 3).

    JPEGs are decoded with IMREAD_COLOR, which applies the EXIF orientation
    (the pixels come back as a viewer shows them). Other formats are decoded
    unchanged so 16-bit and alpha are seen, then normalised.
    """
    _check_readable(path)
    if _is_jpeg(path):
        return _decode(path, cv2.IMREAD_COLOR)
    arr = to_uint8(_decode(path, cv2.IMREAD_UNCHANGED), path)
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    if arr.shape[2] == 3:
        return arr
    raise InpaintError("unsupported channel count {}".format(arr.shape[2]), path)


def read_mask_file(path: str) -> np.ndarray:
    """uint8 (H, W) grey, or (H, W, 4) BGRA when the file has an alpha channel.

    JPEG masks are decoded as grey with EXIF orientation applied, like the
    images, so a mask drawn over the displayed photo lines up with it.
    """
    _check_readable(path)
    if _is_jpeg(path):
        return _decode(path, cv2.IMREAD_GRAYSCALE)
    arr = to_uint8(_decode(path, cv2.IMREAD_UNCHANGED), path)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)
    if arr.ndim == 3 and arr.shape[2] not in (1, 4):
        raise InpaintError("unsupported channel count {}".format(arr.shape[2]), path)
    return arr.reshape(arr.shape[:2]) if arr.ndim == 3 and arr.shape[2] == 1 else arr


def same_file(a: str, b: str) -> bool:
    """True when two paths name the same file (also through links)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(out: str, inputs, overwrite: bool) -> None:
    """Refuse an output that is one of the inputs, or exists without overwrite."""
    for src in inputs:
        if same_file(out, src):
            raise InpaintError("output path is the input file {} (choose another -o)".format(src), out)
    if os.path.exists(out) and not overwrite:
        raise InpaintError("output exists (pass --overwrite to replace it)", out)
    ext = os.path.splitext(out)[1].lower()
    can_write = getattr(cv2, "haveImageWriter", None)  # OpenCV >= 3.4
    if not ext or (can_write is not None and not can_write("x" + ext)):
        raise InpaintError("cannot write this image format (use .png, .jpg, ...)", out)


def write_image(path: str, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write uint8 BGR, creating the parent folder; raise InpaintError if that fails."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise InpaintError("cannot create the output folder: {}".format(exc.strerror), path)
    params = []
    if os.path.splitext(path)[1].lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    try:
        ok = cv2.imwrite(path, image, params)
    except cv2.error as exc:
        raise InpaintError("cannot write: {}".format(str(exc).strip().splitlines()[-1]), path)
    if not ok:
        raise InpaintError("cannot write", path)
