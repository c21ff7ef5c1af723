"""Thin holes at native resolution: the parts of a hole the network cannot see.

A cable 6 px wide in a 4K frame is under one pixel wide in the network's
512 x 512 view: the network barely sees it, and its upsampled fill is a
blur of the 512 pixels around it. OpenCV's Navier-Stokes inpainting
(``cv2.inpaint``, which propagates edges into the hole from its border) is
made for such holes and beats the blur on them. So the parts of the hole
narrower than ``width`` pixels of the 512 view (what a morphological opening
of the 512 hole by a ``width`` x ``width`` square removes) are filled at
native resolution with it, after CRA, from the original pixels around them;
thicker parts keep the app's fill. Navier-Stokes is smooth across the
part, so each thin pixel then gets, at half its contrast, the fine detail
of the pixel mirrored across the nearest edge of the part: the grain of
what lies beside the wire. Measured (MODEL_CARD.md): on thin wires the
edges are Navier-Stokes' own, and strokes and blobs are untouched.

cv2.inpaint's cost grows with the area it is given, not only with the
hole, so it runs on tiles holding thin pixels, each with a margin of
context. Everything but the fill itself depends only on the mask and is
computed once (:class:`ThinHoles`), so a stream with a fixed mask pays for
it once.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Box = Tuple[int, int, int, int]  # y0, y1, x0, x1

#: The grain added to the Navier-Stokes fill: the detail below a Gaussian
#: blur of this sigma (pixels), at this share of its contrast. Half: on the
#: validation split's wires the patch distribution distance (SWD) falls to
#: 0.6x Navier-Stokes' alone for an L1 8 % above it (full contrast: 0.4x
#: for 23 % above; MODEL_CARD.md).
GRAIN_SIGMA = 2.0
GRAIN_AMPLITUDE = 0.5


def _with_grain(filled: np.ndarray, context: np.ndarray, thin: np.ndarray) -> np.ndarray:
    """``filled`` with, at each thin pixel, the fine detail (the image less its
    Gaussian blur) of the pixel mirrored across the nearest edge of the
    thin part: Navier-Stokes carries the edges across, the mirror the grain."""
    _, labels = cv2.distanceTransformWithLabels(thin, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(thin)
    ky, kx = np.nonzero(thin == 0)  # label k is the k-th zero pixel in raster order
    nearest = labels[ys, xs] - 1
    my = np.clip(2 * ky[nearest] - ys, 0, thin.shape[0] - 1)
    mx = np.clip(2 * kx[nearest] - xs, 0, thin.shape[1] - 1)
    usable = thin[my, mx] == 0
    source = context.astype(np.float32)
    detail = source - cv2.GaussianBlur(source, (0, 0), GRAIN_SIGMA)
    out = filled.astype(np.float32)
    out[ys[usable], xs[usable]] += GRAIN_AMPLITUDE * detail[my[usable], mx[usable]]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def thin_part(small_hole: np.ndarray, width: int) -> np.ndarray:
    """uint8 0/1: the pixels of a 512 hole in parts narrower than ``width``
    pixels: removed by an opening with a ``width`` x ``width`` square and
    not within ``width // 2`` pixels of what the opening keeps (the rim of
    a round blob, which a square cannot reach, belongs to the blob)."""
    if width < 2:
        return np.zeros_like(small_hole)
    square = np.ones((width, width), np.uint8)
    thick = cv2.morphologyEx(small_hole, cv2.MORPH_OPEN, square)
    near = cv2.dilate(thick, np.ones((2 * (width // 2) + 1,) * 2, np.uint8))
    return small_hole & (1 - near)


class ThinHoles:
    """The mask-only work of the thin-hole fill for one native hole.

    ``hole`` (H, W) non-zero = hole; ``small_hole`` its any-pooled 512 mask
    (uint8 0/1); ``width`` in 512 pixels (below 2: nothing is thin);
    ``tile`` the side of the tiles cv2.inpaint runs on and ``margin`` the
    context around each, in native pixels; ``radius`` cv2.inpaint's.
    """

    def __init__(self, hole: np.ndarray, small_hole: np.ndarray, width: int, tile: int = 256,
                 margin: int = 16, radius: int = 3):
        if tile < 1 or margin < 0 or radius < 1:
            raise ValueError("thin-hole tile must be >= 1, margin >= 0 and radius >= 1 pixels")
        height, width_px = hole.shape
        self.radius = radius
        thin512 = thin_part(small_hole, width)
        self.tiles = []  # type: List[Tuple[Box, Box]]
        if not thin512.any():
            self.mask = None
            return
        native = cv2.resize(thin512, (width_px, height), interpolation=cv2.INTER_NEAREST)
        #: native hole pixels filled here
        self.mask = ((hole != 0) & (native != 0)).view(np.uint8)
        # known pixels near a thin part and away from a thick one come back
        # as they were (the CRA blend's feather is for the network's fill)
        thick = cv2.dilate(small_hole & (1 - thin512), np.ones((3, 3), np.uint8))
        near_thick = cv2.resize(thick, (width_px, height), interpolation=cv2.INTER_NEAREST)
        #: pixels written by the fill: the thin hole pixels and those known pixels
        self.written = (self.mask != 0) | ((hole == 0) & (near_thick == 0))
        #: the thick parts of the hole: their fill (the network's) is context for the thin ones
        self.thick = (hole != 0) & (self.mask == 0)
        for y in range(0, height, tile):
            for x in range(0, width_px, tile):
                inner = (y, min(y + tile, height), x, min(x + tile, width_px))
                if self.mask[inner[0]:inner[1], inner[2]:inner[3]].any():
                    outer = (max(y - margin, 0), min(y + tile + margin, height),
                             max(x - margin, 0), min(x + tile + margin, width_px))
                    self.tiles.append((inner, outer))

    def __bool__(self) -> bool:
        return bool(self.tiles)

    def fill(self, image: np.ndarray, out: np.ndarray, tiles: Optional[Sequence[int]] = None) -> None:
        """Fill the thin parts of ``out`` (the composed frame, written in
        place) by Navier-Stokes from ``image``'s known pixels and ``out``'s
        fill of the thick parts; in every tile, or in those numbered ``tiles``."""
        for (y0, y1, x0, x1), (a0, a1, b0, b1) in (self.tiles if tiles is None else [self.tiles[i] for i in tiles]):
            context = image[a0:a1, b0:b1].copy()
            np.copyto(context, out[a0:a1, b0:b1], where=self.thick[a0:a1, b0:b1, None])
            thin = self.mask[a0:a1, b0:b1]
            filled = cv2.inpaint(context, thin, self.radius, cv2.INPAINT_NS)
            filled = _with_grain(filled, context, thin)
            inner = (slice(y0 - a0, y1 - a0), slice(x0 - b0, x1 - b0))
            np.copyto(out[y0:y1, x0:x1], filled[inner], where=self.written[y0:y1, x0:x1, None])
