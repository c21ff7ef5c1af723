"""CRA through a dense field of sources: the full-resolution detail of the
hole borrowed where the 512 completion took its patches from.

The completion (edge_app.completion) gives every 512 pixel around the hole
the pixel its patch came from: a one-hot attention at the finest grain the
network's view has. At full resolution each pixel of the hole takes

    result = up(filled) + g * sum_k w_k R(P + scale * offset_k)

where ``up(filled)`` is the completed view upsampled (bilinear, as
cv2.resize), ``R = I - up(filled)`` the residual of the known frame (the
detail the view lost; sources lie in the known part, where the completed
view is the frame's own), and ``offset_k`` the source offsets of the four
view pixels around P, weighted bilinearly, and ``g`` (DETAIL_GAIN) 0.8.
Inside a region copied from one place the four offsets agree and the
result is that place's own pixels (their detail at 0.8 of its contrast);
where the source changes, the residuals of both cross-fade over one 512
pixel: no cell grid, no hard seam. The blend into the frame and the active
boxes are those of the CRA plan (edge_app.cra.plan), so the soft edge and
the pixels returned bit-identical are the same as with cell CRA.
"""
import time
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ..completion import Completion
from .plan import CraPlan
from .threads import OpenCVSingleThreaded, Pool, default_threads


#: The borrowed detail is added at this share of its contrast. Detail out of
#: phase with the truth costs pixel error in proportion to its contrast, and
#: the patch distribution distance (SWD) rises as it fades; validation split
#: at full resolution (24 cases), L1 in the hole / SWD: 1.0: 19.10 / 0.111,
#: 0.7: 18.73 / 0.141 (Navier-Stokes 19.08 / 0.256). 0.8 keeps the fill's
#: L1 below Navier-Stokes' with most of the grain.
DETAIL_GAIN = 0.8


class SourceField:
    """The completion's sources as 512 offset maps (what the frames of one
    completion share)."""

    def __init__(self, completion: Completion, shape: Tuple[int, int]):
        ty, tx = completion.targets
        sy, sx = completion.sources
        self.filled = completion.image
        view = self.filled.shape[:2]
        self.offset_y = np.zeros(view, np.float32)
        self.offset_x = np.zeros(view, np.float32)
        self.known = np.zeros(view, np.float32)
        height, width = shape
        # offsets in native pixels
        self.offset_y[ty, tx] = (sy - ty) * (height / float(view[0]))
        self.offset_x[ty, tx] = (sx - tx) * (width / float(view[1]))
        self.known[ty, tx] = 1.0


def _taps(first: int, count: int, native: int, view: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """View coordinates of native pixels first .. first + count - 1 (half-pixel
    centres, as cv2.resize): float position, lower and upper view index, and
    the upper one's weight."""
    pos = np.clip((np.arange(first, first + count) + 0.5) * (view / float(native)) - 0.5, 0.0, view - 1)
    low = np.floor(pos).astype(np.intp)
    high = np.minimum(low + 1, view - 1)
    return pos.astype(np.float32), low, high, (pos - low).astype(np.float32)


def _upsampled(field: SourceField, y0: int, y1: int, x0: int, x1: int, shape: Tuple[int, int]) -> np.ndarray:
    """up(filled) over rows y0:y1, columns x0:x1 of a frame of ``shape``."""
    view_h, view_w = field.filled.shape[:2]
    py = _taps(y0, y1 - y0, shape[0], view_h)[0]
    px = _taps(x0, x1 - x0, shape[1], view_w)[0]
    return cv2.remap(field.filled, np.repeat(px[None, :], py.size, 0), np.repeat(py[:, None], px.size, 1),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _box(image: np.ndarray, field: SourceField, box: Tuple[int, int, int, int]) -> np.ndarray:
    """float32 result over ``box`` (y0, y1, x0, x1) of the frame."""
    y0, y1, x0, x1 = box
    height, width = image.shape[:2]
    view_h, view_w = field.filled.shape[:2]
    _, ylo, yhi, fy = _taps(y0, y1 - y0, height, view_h)
    _, xlo, xhi, fx = _taps(x0, x1 - x0, width, view_w)
    result = _upsampled(field, y0, y1, x0, x1, (height, width))
    native_y = np.arange(y0, y1, dtype=np.float32)[:, None]
    native_x = np.arange(x0, x1, dtype=np.float32)[None, :]
    to_view_y, to_view_x = view_h / float(height), view_w / float(width)
    taps = []  # (weight, offset rows, offset columns) of the four view pixels around each pixel
    for rows, wy in ((ylo, 1.0 - fy), (yhi, fy)):
        for cols, wx in ((xlo, 1.0 - fx), (xhi, fx)):
            tap = np.ix_(rows, cols)
            taps.append((field.known[tap] * wy[:, None] * wx[None, :], field.offset_y[tap], field.offset_x[tap]))
    # taps naming the same source are one source: their weights go to the first of them
    for k in range(1, len(taps)):
        for m in range(k):
            same = (taps[k][1] == taps[m][1]) & (taps[k][2] == taps[m][2])
            taps[m][0][same] += taps[k][0][same]
            taps[k][0][same] = 0.0
    detail = np.zeros_like(result)
    norm = np.zeros(result.shape[:2], np.float32)
    for weight, offset_y, offset_x in taps:
        if not weight.any():
            continue
        qy = np.rint(native_y + offset_y)
        qx = np.rint(native_x + offset_x)
        sharp = cv2.remap(image, qx, qy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
        smooth = cv2.remap(field.filled, (qx + 0.5) * to_view_x - 0.5, (qy + 0.5) * to_view_y - 0.5,
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        detail += (sharp.astype(np.float32) - smooth) * weight[..., None]
        norm += weight * weight
    # distinct sources' detail is uncorrelated: dividing by the root of the summed squared
    # weights keeps its contrast where they cross-fade (a plain mean halves its variance there)
    np.sqrt(norm, out=norm)
    np.divide(detail, norm[..., None], out=detail, where=norm[..., None] > 0)
    result += DETAIL_GAIN * detail
    return result


def compose_dense(image: np.ndarray, field: SourceField, plan: CraPlan, out: np.ndarray, detail: bool = True,
                  threads: int = 0, timings: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Write the completion into ``out`` (a copy of ``image``, or a window of
    a larger frame) under the plan's soft mask. ``image`` uint8 (H, W, 3);
    ``detail`` False: the upsampled fill alone (the --no-cra ablation)."""
    t_start = time.perf_counter()
    threads = threads or default_threads(*image.shape[:2])
    spent = []

    def one(cell) -> None:
        _, box, soft, interior = cell
        y0, y1, x0, x1 = box
        result = _box(image, field, box) if detail else _upsampled(field, y0, y1, x0, x1, image.shape[:2])
        t0 = time.perf_counter()
        rounded = cv2.convertScaleAbs(np.maximum(result, 0.0, out=result))
        target = out[y0:y1, x0:x1]
        if interior:
            target[...] = rounded
        else:
            cv2.blendLinear(rounded, image[y0:y1, x0:x1], soft, 1.0 - soft, dst=target)
        spent.append(time.perf_counter() - t0)

    with OpenCVSingleThreaded(), Pool(threads) as pool:
        pool.map(one, plan.cells)
    if timings is not None:
        blend = sum(spent) / max(threads, 1)
        timings["cra"] = timings.get("cra", 0.0) + time.perf_counter() - t_start - blend
        timings["blend"] = timings.get("blend", 0.0) + blend
    return out
