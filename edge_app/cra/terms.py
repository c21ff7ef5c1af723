"""The attention terms ``A @ R`` of the active cells: one class per way of
computing them, all with one small interface, chosen in ``choose`` alone.

A strategy's ``sums(first, stop)`` gives, for each active cell of the chunk
first .. stop - 1 (indices into ``plan.cells``), ``(result, mean, total)``:
float32 (rows, columns * 3) arrays over the cell's box whose sum
``result + total * mean`` (``mean`` None: ``result`` alone) is up(inpainted)
plus the cell's terms; compose rounds and blends it. Chunks may run in
parallel threads, so a strategy keeps no per-chunk state on itself.

- ``Upsampled``: no terms (no attention, or no weight left after pruning);
- ``WholeProduct``: the product of all cells at once, by a ``matmul`` hook
  (e.g. on the AI core);
- ``DenseProduct``: flat rows (an untrained network's), one matrix product
  per chunk over the residual of the used cells;
- ``PerTerm``: peaked rows (a trained network's), term by term, and most
  terms need no full-resolution residual at all: for a "clean" patch (no
  hole pixel, inside the frame) ``w * R = w * I - w * up(small)``; its pixels
  are accumulated straight from the uint8 frame, and since up() is linear
  its ``up(small)`` part is summed at 512 rows with the cell's own
  up(inpainted) and upsampled once with it (exact when the patch's rows
  sample ``small`` at the same fractional offsets as the cell's: one "form"
  when H % 32 == 0, otherwise one upsampling per extra form). Only the
  other patches get a residual.
"""
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from .plan import GRID, CraPlan
from .residual import Residual
from .threads import Pool

#: The product goes by matrix products (one per chunk) when at least this
#: fraction of the (active row, used column) pairs has a weight (flat
#: attention: a matrix product costs about a tenth of a per-term
#: accumulation per pair); otherwise term by term, inside the soft boxes.
DENSE_FRACTION = 0.15

#: (result, mean, total) of one active cell: see the module docstring.
CellSum = Tuple[np.ndarray, Optional[np.ndarray], float]
MatMul = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Terms:
    """The common interface: ``sums`` over a chunk of active cells."""

    def __init__(self, plan: CraPlan, xinp: Optional[np.ndarray]):
        self.plan = plan
        #: inpainted upsampled along x: (512, W, 3) float32 (None when the plan has no active cell)
        self.xinp = xinp

    def sums(self, first: int, stop: int) -> Iterator[CellSum]:
        """(result, mean, total) of active cells first .. stop - 1, in order."""
        raise NotImplementedError

    def upsampled(self, c: int) -> np.ndarray:
        """up(inpainted) over the box of active cell c: float32 (rows, columns * 3)."""
        cell, (y0, y1, x0, x1), _, _ = self.plan.cells[c]
        return self.plan.upsample(self.xinp, cell // GRID, y0, y1, slice(x0, x1))


class Upsampled(Terms):
    """No terms: up(inpainted) alone (the --no-cra ablation, or all weights pruned)."""

    def sums(self, first: int, stop: int) -> Iterator[CellSum]:
        for c in range(first, stop):
            yield self.upsampled(c), None, 0.0


class _ChunkProduct(Terms):
    """Terms that come as one (cells, ph, pw * 3) product per chunk, each
    cell's cropped to its box and added to its up(inpainted)."""

    def product(self, first: int, stop: int) -> np.ndarray:
        """The terms of cells first .. stop - 1 as (stop - first, ph, pw * 3)."""
        raise NotImplementedError

    def sums(self, first: int, stop: int) -> Iterator[CellSum]:
        agg = self.product(first, stop)
        for c in range(first, stop):
            cell, box, _, _ = self.plan.cells[c]
            result = self.upsampled(c)
            result += agg[c - first][self.plan.cell_crop(*divmod(cell, GRID), box)]
            yield result, None, 0.0


class WholeProduct(_ChunkProduct):
    """The product of all active cells at once, by ``matmul(weights, residual)``."""

    def __init__(self, plan: CraPlan, xinp: np.ndarray, weights: np.ndarray, residual: Residual,
                 matmul: MatMul):
        super().__init__(plan, xinp)
        self.whole = matmul(weights, residual.matrix())

    def product(self, first: int, stop: int) -> np.ndarray:
        return self.whole[first:stop].reshape(stop - first, self.plan.ph, self.plan.pw * 3)


class DenseProduct(_ChunkProduct):
    """One matrix product per chunk over the residual of the used cells."""

    def __init__(self, plan: CraPlan, xinp: np.ndarray, weights: np.ndarray, residual: Residual):
        super().__init__(plan, xinp)
        self.weights = weights
        self.residual = residual

    def product(self, first: int, stop: int) -> np.ndarray:
        """weights[first:stop] @ residual patches, over the chunk's used columns
        only when they are fewer than half."""
        weights = self.weights[first:stop]
        used = np.flatnonzero(weights.any(axis=0))
        matrix = self.residual.matrix()
        if 2 * used.size >= weights.shape[1]:
            agg = np.dot(weights, matrix)
        else:
            agg = np.dot(weights[:, used], np.take(matrix, used, axis=0))
        return agg.reshape(weights.shape[0], self.plan.ph, self.plan.pw * 3)


class PerTerm(Terms):
    """Term by term: a clean patch (no hole, inside the frame) adds
    ``w * (I - up(small))``: its pixels are accumulated as uint8 (a weighted
    mean, rescaled once) and its up(small) part is summed at 512 rows with
    the cell's own up(inpainted) and upsampled once with it, so no
    full-resolution residual is made for it. Only the other patches get one
    (``residual``)."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, plan: CraPlan, xinp: np.ndarray,
                 xsmall: np.ndarray, weights: np.ndarray, keep: np.ndarray, pool: Pool):
        super().__init__(plan, xinp)
        self.image = image
        self.xsmall = xsmall
        self.weights = weights
        slow = ~plan.clean[keep]
        patch = np.full(keep.size, -1, np.intp)  # column -> its patch in ``residual``; -1: clean, none made
        patch[slow] = np.arange(np.count_nonzero(slow))
        self.residual = Residual(image, hole, xsmall, plan, keep[slow], pool) if slow.any() else None
        #: per column: (patch in ``residual`` or -1, form, first 512 row, 512 rows, top, left)
        self.columns = [(int(patch[k]), plan.form[j], plan.rows[j][0], plan.rows[j][1].shape[1],
                         int(plan.ys[j]), int(plan.xs[i]))
                        for k, (j, i) in enumerate(zip(*np.divmod(keep, GRID)))]

    def sums(self, first: int, stop: int) -> Iterator[CellSum]:
        for c in range(first, stop):
            yield self._cell_sum(c)

    def _cell_sum(self, c: int) -> CellSum:
        """up(inpainted) + the terms of active cell c over its box; the clean
        patches' pixels as (mean, total)."""
        plan, image = self.plan, self.image
        cell, box, _, _ = plan.cells[c]
        j, i = divmod(cell, GRID)
        y0, y1, x0, x1 = box
        first, count, ncols = y0 - int(plan.ys[j]), y1 - y0, x1 - x0
        cx = int(plan.xs[i])
        lo, taps = plan.rows[j][0], plan.rows[j][1].shape[1]
        low = self.xinp[lo:lo + taps, x0:x1].reshape(taps, -1).copy()
        own = plan.form[j]
        other = {}  # type: Dict[int, np.ndarray]  # form -> -sum w * small rows of that form
        slow = []  # type: List[Tuple[int, float]]
        mean, total = None, 0.0
        row = self.weights[c]
        used = np.flatnonzero(row)
        for k, w in zip(used.tolist(), row[used].tolist()):  # w > 0: see prune_rows
            patch, form, lo_k, taps_k, top, left = self.columns[k]
            if patch >= 0:
                slow.append((patch, w))
                continue
            xk = left + x0 - cx
            src = self.xsmall[lo_k:lo_k + taps_k, xk:xk + ncols].reshape(taps_k, -1)
            if form == own:
                cv2.scaleAdd(src, -w, low, dst=low)
            elif form in other:
                cv2.scaleAdd(src, -w, other[form], dst=other[form])
            else:
                other[form] = src * np.float32(-w)
            pixels = image[top + first:top + first + count, xk:xk + ncols]
            total += w
            if mean is None:
                mean = pixels.astype(np.float32)
            else:  # mean = (1 - w / total) * mean + (w / total) * pixels
                cv2.accumulateWeighted(pixels, mean, w / total)
        result = plan.upsample_rows(low, j, first, count)
        for form, block in other.items():
            result += plan.upsample_rows(block, form, first, count)
        crop = plan.cell_crop(j, i, box)
        for k, w in slow:
            cv2.scaleAdd(self.residual.patch(k)[crop], w, result, dst=result)
        return result, None if mean is None else mean.reshape(count, -1), total


def _is_dense(weights: np.ndarray) -> bool:
    """True when the rows share their columns enough for one matrix product
    per chunk to beat per-term accumulation (flat attention: each used
    column read once instead of once per row)."""
    used = np.count_nonzero(weights.any(axis=0))
    return np.count_nonzero(weights) >= DENSE_FRACTION * weights.shape[0] * used


def choose(image: np.ndarray, hole: np.ndarray, plan: CraPlan, xinp: Optional[np.ndarray], pool: Pool,
           weights: Optional[np.ndarray] = None, keep: Optional[np.ndarray] = None,
           xsmall: Optional[np.ndarray] = None, matmul: Optional[MatMul] = None) -> Terms:
    """The strategy for the active cells' pruned ``weights`` (rows: active
    cells, columns: all 1024) whose used columns are ``keep``, with
    ``xsmall`` the 512 image upsampled along x; ``xsmall`` None: no terms.
    The matmul hook takes precedence, then flat rows go by products."""
    if xsmall is None:
        return Upsampled(plan, xinp)
    weights = weights[:, keep]
    if matmul is not None:
        return WholeProduct(plan, xinp, weights, Residual(image, hole, xsmall, plan, keep, pool), matmul)
    if _is_dense(weights):
        return DenseProduct(plan, xinp, weights, Residual(image, hole, xsmall, plan, keep, pool))
    return PerTerm(image, hole, plan, xinp, xsmall, weights, keep, pool)
