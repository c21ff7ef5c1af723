"""A fill: what the hole shows, composed once, drawn into many frames.

``Fill.pixels`` holds, over the active cells' boxes of a CRA plan, the
rounded result of ``cra.compose`` before its blend (composed through
``CraPlan.unblended``), with the thin parts of the hole (edge_app.thin_holes)
filled in; ``Fill.small`` is the 512 view of the frame it was made from (the
reference of its light). ``draw`` puts it into a frame as compose and the
thin-hole fill would: each cell blended with the frame by its soft mask,
except the known pixels the thin-hole fill gives back unchanged (there the
soft mask is 0, ``Cells``); drawn into the frame it was made from, in that
frame's light, it gives those two steps' result bit for bit.
"""
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..cra import CraPlan, blend_cell
from ..interface import MODEL_SIZE
from ..thin_holes import ThinHoles
from .light import Light

Box = Tuple[int, int, int, int]  # y0, y1, x0, x1


class Cells:
    """Where a plan's fill is drawn: per active cell its box, its soft mask
    (0 where the thin-hole fill gives the frame's pixels back), whether that
    is 1 all over, and the part of the 512 view the box lies in."""

    def __init__(self, plan: CraPlan, hole: np.ndarray, thin: Optional[ThinHoles]):
        self.plan = plan
        height, width = plan.shape
        back = np.zeros(plan.shape, bool)
        if thin:
            for y0, y1, x0, x1 in (inner for inner, _ in thin.tiles):
                back[y0:y1, x0:x1] = thin.written[y0:y1, x0:x1] & (hole[y0:y1, x0:x1] == 0)
        self.cells = []  # type: List[Tuple[Box, np.ndarray, bool, Box]]
        for _, box, soft, interior in plan.cells:
            y0, y1, x0, x1 = box
            given_back = back[y0:y1, x0:x1]
            if given_back.any():
                soft = np.where(given_back, np.float32(0.0), soft)
                interior = False
            rect = (y0 * MODEL_SIZE // height, max(y0 * MODEL_SIZE // height + 1, -(-y1 * MODEL_SIZE // height)),
                    x0 * MODEL_SIZE // width, max(x0 * MODEL_SIZE // width + 1, -(-x1 * MODEL_SIZE // width)))
            self.cells.append((box, soft, interior, rect))


class Fill:
    """A composed fill (window-sized uint8 ``pixels``, meaningful over
    ``cells``), the 512 view ``small`` it was made from, and whether it is
    a quick fill (a scene change's, until the network's)."""

    def __init__(self, pixels: np.ndarray, small: np.ndarray, cells: Cells, quick: bool = False):
        self.pixels, self.small, self.cells, self.quick = pixels, small, cells, quick
        #: the 512 view the network saw, in this fill's light (None: a quick fill)
        self.key_view = None  # type: Optional[np.ndarray]


def draw(fill: Fill, light: Light, image: np.ndarray, out: np.ndarray,
         fade: Optional[Tuple[Fill, Light, float]] = None) -> None:
    """Draw ``fill`` in ``light`` into ``out`` (a copy of ``image``, or a
    window of one); with ``fade`` (an older fill of the same plan, its light
    and the new fill's weight in 0..1) the mix of the two."""
    for box, soft, interior, rect in fill.cells.cells:
        y0, y1, x0, x1 = box
        pixels = _lit(fill.pixels[y0:y1, x0:x1], light, rect)
        if fade is not None:
            old, old_light, weight = fade
            pixels = cv2.addWeighted(_lit(old.pixels[y0:y1, x0:x1], old_light, rect), 1.0 - weight, pixels, weight,
                                     0.0)
        if interior:
            out[y0:y1, x0:x1] = pixels
        else:
            blend_cell(pixels, image[y0:y1, x0:x1], soft, out[y0:y1, x0:x1])


def _lit(pixels: np.ndarray, light: Light, rect: Box) -> np.ndarray:
    return pixels if light.identity else light.apply_box(pixels, rect)
