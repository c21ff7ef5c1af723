"""What changed in the view between a reference frame and the current one.

Both are the network's 512 views (uint8); the reference is brought into the
current frame's light first (``light.Light``), so a change of light alone
changes nothing here. A known pixel counts as changed when one of its
channels differs by more than the threshold. Three fractions of changed
pixels decide what a frame costs (edge_app.reuse): around the hole (the
network's view of it: run the network again), over the whole view (a scene
change), and over the context cells CRA borrows from, weighted by the
attention (take the residuals again). Around the hole the fraction is the
largest of its blocks' (VIEW_BLOCK pixels square): something that moved
next to one part of a long hole (a cable across the view) counts as much as
next to a small one. Those two count only the changes that stand still
(``Stillness``): something passing by, which the next frames would not show
where the network saw it, runs nothing; something that came and stayed does.
"""
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..interface import ATTENTION_CELLS, ATTENTION_GRID, MODEL_SIZE
from .light import IDENTITY, Light

_BLOCK = MODEL_SIZE // ATTENTION_GRID
#: Side of the blocks of the band around the hole, in pixels of the 512 view ...
VIEW_BLOCK = 32
#: ... which count when at least this fraction of them is in the band.
VIEW_BLOCK_SHARE = 0.25


class ChangeMeter:
    """The pixel sets of one mask: ``known`` (the pixels the network sees)
    and the band of known pixels within ``band`` pixels of the hole
    (``any_hole``); ``threshold`` in grey levels."""

    def __init__(self, any_hole: np.ndarray, known: np.ndarray, band: int, threshold: float):
        self.known = known
        self.known_count = max(1, int(np.count_nonzero(known)))
        near = cv2.dilate(any_hole.astype(np.uint8), np.ones((2 * band + 1,) * 2, np.uint8)) != 0
        self.band = near & known
        counts = self._per_block(self.band)
        #: the blocks that count, and their band pixels
        self.blocks = counts >= VIEW_BLOCK_SHARE * VIEW_BLOCK * VIEW_BLOCK
        self.block_band = np.maximum(counts, 1).astype(np.float64)
        #: known pixels per attention cell (16 x 16 pixels of the view)
        self.cell_known = self._per_cell(known)
        self.threshold = float(threshold)

    @staticmethod
    def _per_block(pixels: np.ndarray) -> np.ndarray:
        side = MODEL_SIZE // VIEW_BLOCK
        return pixels.reshape(side, VIEW_BLOCK, side, VIEW_BLOCK).sum(axis=(1, 3), dtype=np.int64)

    @staticmethod
    def _per_cell(pixels: np.ndarray) -> np.ndarray:
        grid = ATTENTION_GRID
        return pixels.reshape(grid, _BLOCK, grid, _BLOCK).sum(axis=(1, 3), dtype=np.int64).reshape(ATTENTION_CELLS)

    def changed(self, reference: np.ndarray, current: np.ndarray, light: Light) -> np.ndarray:
        """(512, 512) bool: the known pixels that changed from ``reference``
        (in ``light``, the light fitted from it to ``current``) to ``current``."""
        ref = reference if light.identity else light.apply_small(reference, cv2.CV_8U)
        diff = cv2.absdiff(current, ref)
        most = cv2.max(cv2.max(diff[:, :, 0], diff[:, :, 1]), diff[:, :, 2])
        return (most > self.threshold) & self.known

    def around_hole(self, changed: np.ndarray) -> float:
        """The changed fraction of the band around the hole: the largest of its blocks'."""
        if not self.blocks.any():
            return 0.0
        return float((self._per_block(changed & self.band) / self.block_band)[self.blocks].max())

    def whole(self, changed: np.ndarray) -> float:
        """The changed fraction of the known view."""
        return np.count_nonzero(changed) / float(self.known_count)

    def borrowed(self, changed: np.ndarray, weights: np.ndarray) -> float:
        """The changed fraction of the context cells, weighted by ``weights``
        ((1024,), summing to 1: how much the hole borrows from each cell)."""
        fraction = self._per_cell(changed) / np.maximum(self.cell_known, 1).astype(np.float64)
        return float(fraction @ weights)


class Stillness:
    """Which pixels of the view stood still for the last ``settle`` seconds
    (a 512 view of at least that age kept, one every ``settle`` / 2)."""

    def __init__(self, meter: ChangeMeter, settle: float):
        self.meter, self.settle = meter, float(settle)
        self._views = []  # type: List[Tuple[float, np.ndarray]]  # (time, 512 view), oldest first

    def still(self, small: np.ndarray, now: float) -> Optional[np.ndarray]:
        """(512, 512) bool: the pixels of ``small`` (the frame at ``now``)
        unchanged since ``settle`` seconds ago; none before there is a view
        that old; None (all of them) when ``settle`` is 0."""
        if self.settle <= 0.0:
            return None
        if self._views and now < self._views[-1][0]:  # the clock went back (another source)
            self._views = []
        old = [view for view in self._views if now - view[0] >= self.settle]
        if not self._views or now - self._views[-1][0] >= self.settle / 2.0:
            self._views.append((now, small))
        self._views = old[-1:] + [view for view in self._views if now - view[0] < self.settle]
        if not old:
            return np.zeros(small.shape[:2], bool)
        return ~self.meter.changed(old[-1][1], small, IDENTITY)
