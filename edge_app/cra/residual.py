"""Pruning of the attention rows and the residual ``R = (I - up(small)) * (1 - M)``
of the context cells they weigh."""
import threading
from typing import List, Optional, Tuple

import numpy as np

from .plan import GRID, CraPlan, runs
from .threads import Pool


def sharpen_rows(weights: np.ndarray, power: float) -> np.ndarray:
    """Each row raised to ``power``, rescaled to the sum it had.

    Rows are softmaxes, so this is the softmax of the model's logits times
    ``power``: a sharper (power > 1) or flatter (< 1) choice among the same
    context cells; zero weights (keys touching the hole) stay zero and so
    does an all-zero row. Computed relative to each row's largest weight,
    so nothing underflows in float32. ``power`` 1 returns ``weights`` itself.
    """
    if not power > 0.0:
        raise ValueError("attention power must be > 0, got {}".format(power))
    if power == 1.0:
        return weights
    top = weights.max(axis=1, keepdims=True)
    scaled = np.divide(weights, top, out=np.zeros_like(weights), where=top > 0)
    np.power(scaled, np.float32(power), out=scaled)
    had = weights.sum(axis=1, keepdims=True, dtype=np.float64)
    has = scaled.sum(axis=1, keepdims=True, dtype=np.float64)
    gain = np.divide(had, has, out=np.zeros_like(had), where=has > 0).astype(np.float32)
    return scaled * gain


def prune_rows(weights: np.ndarray, prune_mass: float) -> np.ndarray:
    """Zero each row's smallest weights while their sum stays <= prune_mass.

    Each row then loses at most ``prune_mass`` of attention, so the
    aggregated residual (|R| <= 255) errs by at most 255 * prune_mass.
    A row keeps its weights >= the first sorted weight at which the
    running sum passes ``prune_mass`` (ties with it are kept: the bound
    holds). The kept weights are positive whenever prune_mass >= 0.
    """
    ranked = np.sort(weights, axis=1)
    passed = np.cumsum(ranked, axis=1, dtype=np.float64) > prune_mass
    first = np.where(passed.any(axis=1), passed.argmax(axis=1), ranked.shape[1] - 1)
    threshold = np.take_along_axis(ranked, first[:, None], axis=1)
    keep = (weights >= threshold) & passed.any(axis=1)[:, None]
    return np.where(keep, weights, 0.0).astype(np.float32)


def _index(start: int, count: int, limit: int):
    """start .. start + count - 1 as a slice, or as clamped indices past ``limit``."""
    if start + count <= limit:
        return slice(start, start + count)
    return np.minimum(np.arange(start, start + count), limit - 1)


def _take(arr: np.ndarray, rows, cols) -> np.ndarray:
    """arr[rows, cols] for slices and/or index arrays (outer indexing)."""
    if isinstance(rows, slice) or isinstance(cols, slice):
        return arr[rows, cols]
    return arr[np.ix_(rows, cols)]


class Residual:
    """R = (I - up(small)) * (1 - M) of the kept context cells.

    Computed over strips of adjacent kept cells of one grid row (few large
    operations instead of many small ones); the patch of a cell is the
    ph x pw window from its top-left corner (clamped at the frame's edge),
    a (ph, pw * 3) view into its strip.
    """

    def __init__(self, image: np.ndarray, hole: np.ndarray, xsmall: np.ndarray, plan: CraPlan,
                 keep: np.ndarray, pool: Pool):
        self.plan = plan
        self.count = len(keep)
        self._lock = threading.Lock()
        self._matrix = None  # type: Optional[np.ndarray]
        self.where = []  # type: List[Tuple[int, int]]  # (strip, first value of the patch)
        spans = []  # type: List[Tuple[int, int, int]]  # (grid row, first cell, last cell) of each strip
        for j in np.unique(keep // GRID):
            columns = np.zeros(GRID, bool)
            columns[keep[keep // GRID == j] % GRID] = True
            for a, b in runs(columns):
                for i in range(a, b + 1):
                    self.where.append((len(spans), 3 * int(plan.xs[i] - plan.xs[a])))
                spans.append((int(j), a, b))
        self.strips = pool.map(lambda span: self._strip(image, hole, xsmall, *span), spans)

    def _strip(self, image, hole, xsmall, j: int, a: int, b: int) -> np.ndarray:
        plan = self.plan
        height, width = plan.shape
        top, left = int(plan.ys[j]), int(plan.xs[a])
        rows = _index(top, plan.ph, height)
        cols = _index(left, int(plan.xs[b]) - left + plan.pw, width)
        pixels = _take(image, rows, cols)
        strip = np.empty((plan.ph, pixels.shape[1] * 3), np.float32)
        plan.upsample(xsmall, j, top, top + plan.ph, cols, out=strip)
        np.subtract(pixels, strip.reshape(pixels.shape), out=strip.reshape(pixels.shape))
        if plan.has_hole[j, a:b + 1].any() or not isinstance(rows, slice) or not isinstance(cols, slice):
            strip.reshape(pixels.shape)[_take(hole, rows, cols) != 0] = 0.0
        return strip

    def patch(self, k: int) -> np.ndarray:
        """The (ph, pw * 3) patch of the k-th kept cell: a view into its strip."""
        strip, first = self.where[k]
        return self.strips[strip][:, first:first + 3 * self.plan.pw]

    def matrix(self) -> np.ndarray:
        """All patches as one (count, ph * pw * 3) matrix, for matrix products
        (made on first use, once)."""
        with self._lock:
            if self._matrix is None:
                self._matrix = np.stack([self.patch(k) for k in range(self.count)]).reshape(self.count, -1)
        return self._matrix
