"""Reading and writing image files (the only module that touches the disk).

The model works on uint8 BGR (H, W, 3): JPEG EXIF orientation applied,
16-bit scaled to 8-bit, grey expanded, alpha left out. ``read_source`` keeps
what that copy leaves out (bit depth, grey, alpha) so that
``SourceImage.restore`` gives back the file's layout, and ``write_image``
refuses a format that would lose depth or alpha instead of downgrading.
Mask files come back as raw arrays (grey, BGR, or BGRA when they have
alpha) for ``masks.mask_file_from_array`` to interpret.
"""
import os
from typing import Optional, Sequence

import cv2
import numpy as np

from .errors import InpaintError

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Output extensions that keep 16-bit pixels, and those that keep an alpha channel.
KEEPS_16_BIT = (".png", ".tif", ".tiff")
KEEPS_ALPHA = (".png", ".tif", ".tiff", ".webp")


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


def _read_bytes(path: str) -> np.ndarray:
    _check_readable(path)
    try:
        return np.fromfile(path, np.uint8)
    except OSError as exc:
        raise InpaintError("cannot read: {}".format(exc.strerror or exc), path)


def cut_short(data: np.ndarray) -> bool:
    """True for a PNG without its IEND chunk or a JPEG without an end-of-image
    marker: a file cut short (bytes after the end are allowed)."""
    head = data[:8].tobytes()
    end = b"IEND" if head == _PNG_MAGIC else b"\xff\xd9" if head[:3] == _JPEG_MAGIC else None
    return end is not None and data.tobytes().rfind(end) < 0


def decode(data: np.ndarray, flags: int, path: str) -> np.ndarray:
    """Decode an image file's bytes (uint8 1-D) with cv2 ``flags``; ``path``
    names it in errors. From memory, for files and the serve page's uploads
    alike: OpenCV then refuses a JPEG or PNG cut short, where ``cv2.imread``
    returns a JPEG's missing rows as grey with only a libjpeg warning."""
    if cut_short(data):
        raise InpaintError("cut short: the file ends before its end-of-image marker (an interrupted download or copy?)", path)
    try:
        arr = cv2.imdecode(data, flags) if data.size else None
    except cv2.error:
        arr = None
    if arr is None or arr.size == 0:
        raise InpaintError("cannot read as an image (damaged, cut short or unsupported format)", path)
    return arr


def _decode_file(path: str, jpeg_flags: int) -> np.ndarray:
    """A file decoded with ``jpeg_flags`` when it is a JPEG, else unchanged."""
    data = _read_bytes(path)
    return decode(data, jpeg_flags if data[:3].tobytes() == _JPEG_MAGIC else cv2.IMREAD_UNCHANGED, path)


class SourceImage:
    """An image file as decoded: ``bgr`` is the uint8 BGR (H, W, 3) copy the
    model takes; ``colour`` the file's colour at full precision, uint8 or
    uint16, (H, W) when grey, else (H, W, 3) BGR; ``alpha`` its (H, W) alpha
    plane (same dtype) or None. ``path`` names the file in errors."""

    def __init__(self, colour: np.ndarray, alpha: Optional[np.ndarray], path: str):
        self.colour = colour
        self.alpha = alpha
        self.grey = colour.ndim == 2
        bgr = to_uint8(colour, path)
        self.bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR) if self.grey else bgr

    def restore(self, result: np.ndarray) -> np.ndarray:
        """The file's layout (depth, grey, alpha) for ``result``, an inpainted ``bgr``.

        Grey input: the result converted to grey. Pixels equal to ``bgr`` keep
        the file's values bit for bit; changed ones get the file's value plus
        the 8-bit change scaled to the file's depth (x 257 for 16-bit),
        clipped. The alpha plane is kept unchanged.
        """
        out = result if self.colour is self.bgr else self._apply_change(result)  # 8-bit colour: nothing to restore
        return out if self.alpha is None else np.dstack([out, self.alpha])

    def _apply_change(self, result: np.ndarray) -> np.ndarray:
        new, old = result, self.bgr
        if self.grey:
            new, old = cv2.cvtColor(result, cv2.COLOR_BGR2GRAY), cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)
        out = self.colour.copy()
        changed = new != old
        scale = 257 if out.dtype == np.uint16 else 1
        moved = out[changed].astype(np.int32) + scale * (new[changed].astype(np.int32) - old[changed])
        out[changed] = np.clip(moved, 0, np.iinfo(out.dtype).max)
        return out


def read_source(path: str) -> SourceImage:
    """Decode an image file for the model, keeping its depth, grey and alpha.

    JPEGs are decoded with IMREAD_ANYCOLOR, which applies the EXIF
    orientation (the pixels come back as a viewer shows them) and keeps grey.
    Other formats are decoded unchanged (no orientation applied), so 16-bit
    and alpha are seen. 8- and 16-bit only.
    """
    return source_from_array(_decode_file(path, cv2.IMREAD_ANYCOLOR), path)


def source_from_array(arr: np.ndarray, path: str) -> SourceImage:
    """The SourceImage of a decoded image (grey, BGR or BGRA; 8- or 16-bit);
    ``path`` names it in errors (a file, or an upload)."""
    if arr.ndim == 2 or arr.shape[2] == 3:
        return SourceImage(arr, None, path)
    if arr.shape[2] == 4:
        return SourceImage(np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3]), path)
    raise InpaintError("unsupported channel count {}".format(arr.shape[2]), path)


def read_image(path: str) -> np.ndarray:
    """uint8 BGR (H, W, 3): the model's copy of the file (see read_source)."""
    return read_source(path).bgr


def read_mask_file(path: str) -> np.ndarray:
    """uint8 (H, W) grey, (H, W, 3) BGR, or (H, W, 4) BGRA when the file has
    an alpha channel: the colours are kept, so that a photo passed as the
    mask can be told from a mask.

    JPEG masks are decoded with EXIF orientation applied, like the images,
    so a mask drawn over the displayed photo lines up with it.
    """
    return mask_from_array(_decode_file(path, cv2.IMREAD_ANYCOLOR), path)


def mask_from_array(arr: np.ndarray, path: str) -> np.ndarray:
    """A decoded mask image as ``read_mask_file`` returns it: uint8 grey, BGR,
    or BGRA when it has alpha; ``path`` names it in errors."""
    arr = to_uint8(arr, path)
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise InpaintError("unsupported channel count {}".format(arr.shape[2]), path)
    return arr.reshape(arr.shape[:2]) if arr.ndim == 3 and arr.shape[2] == 1 else arr


def same_file(a: str, b: str) -> bool:
    """True when two paths name the same file (also through links)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_folder(folder: str, out: Optional[str] = None) -> None:
    """Refuse an output folder that cannot be made (a file on its path) or
    written into (its nearest existing folder is not writable), before any
    work; ``out`` (default ``folder``) names the output in the error."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InpaintError("cannot create the output folder: {} is a file".format(existing), out or folder)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InpaintError("cannot write into the folder {} (permission denied)".format(existing), out or folder)


def check_output_file(out: str, inputs: Sequence[str], overwrite: bool, name_hint: str) -> None:
    """Refuse an output file that is one of the inputs, an existing folder
    (``name_hint`` says what to give instead), an existing file without
    ``overwrite``, or in a folder that cannot be made or written."""
    for src in inputs:
        if same_file(out, src):
            raise InpaintError("output path is the input file {} (choose another -o)".format(src), out)
    if os.path.isdir(out):
        raise InpaintError("OUT is a folder: " + name_hint, out)
    if os.path.exists(out) and not overwrite:
        raise InpaintError("output exists (pass --overwrite to replace it)", out)
    check_output_folder(os.path.dirname(os.path.abspath(out)), out)


def check_output_path(out: str, inputs: Sequence[str], overwrite: bool) -> None:
    """The checks of an image output (check_output_file), and that OpenCV can write its format."""
    check_output_file(out, inputs, overwrite,
                      "give a file name (or folders as IMAGE and MASK to inpaint a folder of images)")
    ext = os.path.splitext(out)[1].lower()
    can_write = getattr(cv2, "haveImageWriter", None)  # OpenCV >= 3.4
    if not ext or (can_write is not None and not can_write("x" + ext)):
        raise InpaintError("cannot write this image format (use .png, .jpg, ...)", out)


def check_format(path: str, dtype: np.dtype, alpha: bool) -> None:
    """Refuse an output format that would turn 16-bit pixels into 8-bit or drop alpha."""
    ext = os.path.splitext(path)[1].lower()
    if np.dtype(dtype) == np.uint16 and ext not in KEEPS_16_BIT:
        raise InpaintError("{} cannot hold the 16-bit pixels of the input: write .png or .tif".format(
            ext or "this format"), path)
    if alpha and ext not in KEEPS_ALPHA:
        raise InpaintError("{} cannot hold the alpha channel of the input: write .png, .tif or .webp".format(
            ext or "this format"), path)


def write_image(path: str, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write uint8 or uint16, grey, BGR or BGRA, creating the parent folder;
    raise InpaintError if the format cannot hold the pixels (check_format)
    or writing fails."""
    check_format(path, image.dtype, image.ndim == 3 and image.shape[2] == 4)
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
