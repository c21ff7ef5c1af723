"""Region of interest: run the network on a crop around a small hole.

A small hole in a large frame gets a tiny share of the network's 512 x 512
view; cropping around it gives the network more pixels per hole pixel and
the CRA step less to do. The crop is a square around the hole's bounding box
(``roi_growth`` x its longer side, at least ``roi_min_side``), moved inside
the frame and clipped to it. Everything outside the crop is left untouched.
"""
from typing import Optional, Tuple

import numpy as np

Box = Tuple[int, int, int, int]  # y0, y1, x0, x1 (end exclusive)


def hole_box(hole: np.ndarray) -> Optional[Box]:
    """Bounding box of the non-zero pixels, or None for an empty mask."""
    rows = np.flatnonzero(hole.any(axis=1))
    if rows.size == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero(hole[y0:y1].any(axis=0))
    return y0, y1, int(cols[0]), int(cols[-1]) + 1


def _span(center: float, side: int, limit: int) -> Tuple[int, int]:
    side = min(side, limit)
    start = int(round(center - side / 2.0))
    start = max(0, min(start, limit - side))
    return start, start + side


def crop_box(shape: Tuple[int, int], box: Box, growth: float, min_side: int) -> Box:
    """Square crop of side max(growth * longer box side, min_side) centred on
    the box, shifted into the frame and clipped to it."""
    height, width = shape[:2]
    y0, y1, x0, x1 = box
    side = int(np.ceil(max(growth * max(y1 - y0, x1 - x0), min_side)))
    cy0, cy1 = _span((y0 + y1) / 2.0, side, height)
    cx0, cx1 = _span((x0 + x1) / 2.0, side, width)
    return cy0, cy1, cx0, cx1


def choose_crop(mode: str, hole: np.ndarray, growth: float, min_side: int, auto_max_area: float) -> Optional[Box]:
    """The crop to run on, or None for the whole frame.

    mode "off": None; "on": the crop; "auto": the crop when it covers at most
    ``auto_max_area`` of the frame (a small hole), else None.
    """
    if mode == "off":
        return None
    box = hole_box(hole)
    if box is None:
        return None
    crop = crop_box(hole.shape, box, growth, min_side)
    height, width = hole.shape
    if crop == (0, height, 0, width):
        return None
    area = (crop[1] - crop[0]) * (crop[3] - crop[2]) / float(height * width)
    if mode == "auto" and area > auto_max_area:
        return None
    return crop
