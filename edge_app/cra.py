"""Contextual Residual Aggregation at the frame's native size (spec hifill.md 6).

The network works on a 512 x 512 copy; this module brings its result back to
the full frame and borrows the high frequencies the copy lost from the known
parts of the frame, weighted by the network's 1024 x 1024 attention.

Unlike the reference (resize every photo to a fixed square, full-frame float
residual, dense 1024 x 1024 product, resize back, blend everything) it keeps
the native size and aspect ratio and touches only what the hole needs:

- the frame is cut into a 32 x 32 grid of cells with edges ``k * H // 32``
  (cells differ by at most one pixel when the size is not divisible by 32);
  patches are taken at the largest cell size (ph x pw) from each cell's
  top-left corner, clamped at the frame's edge, so all have one length;
- attention rows = "active" cells, those where the soft blend mask is above
  ``soft_floor``; in each row the smallest weights are dropped while their
  sum stays <= ``prune_mass`` (error <= 255 * prune_mass grey levels);
- ``result = clip(up(inpainted) + A @ R, 0, 255)`` with the residual
  ``R = (I - up(small)) * (1 - M)`` is rounded and blended with the
  original, ``out = result * soft + I * (1 - soft)``, where ``soft`` follows
  the full-res hole: 1 in it, falling linearly to 0 over ``feather`` pixels
  outside it, and never above the 512 blend mask upsampled (the early
  rounding costs at most half a grey level where 0 < soft < 1); every pixel
  where soft <= soft_floor is returned bit-identical. Deliberate difference
  from the reference, which blended with the upsampled 512 mask alone: that
  mask covers known pixels up to a 512 pixel (and its blur) beyond the hole,
  which came back as the blurry fill with a staircase edge.

The product goes by chunks of active cells (``chunk_cells``). Flat rows (an
untrained network's) use one matrix product per chunk over the residual of
the used cells. Peaked rows (a trained network's) go term by term, and most
terms need no full-resolution residual at all: for a "clean" patch (no hole
pixel, inside the frame) ``w * R = w * I - w * up(small)``; its pixels are
accumulated straight from the uint8 frame, and since up() is linear its
``up(small)`` part is summed at 512 rows with the cell's own up(inpainted)
and upsampled once with it (exact when the patch's rows sample ``small`` at
the same fractional offsets as the cell's: one "form" when H % 32 == 0,
otherwise one upsampling per extra form). Only the other patches get a
residual. Memory stays bounded at 8K: no full-frame float array is made.
Upsampling is bilinear with half-pixel centres, as ``cv2.resize`` does: along
x by ``cv2.resize`` to (W, 512) rows, along y by small matrix products.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .config import AppConfig
from .interface import ATTENTION_CELLS, ATTENTION_GRID, MODEL_SIZE
from .preprocess import small_hole, small_image

GRID = ATTENTION_GRID
#: The y upsampling goes by blocks of BAND_ROWS rows x BLOCK_VALUES values:
#: each block's product reads about 2 + rows * 512 / H source rows instead
#: of all the cell's. In a microbenchmark 48 rows beat 12 (4K and 8K cells);
#: inside compose 48, 72 and whole cells measured the same. Most of these
#: products are still large enough for OpenBLAS to use its own threads.
BAND_ROWS = 48
BLOCK_VALUES = 2048
#: The product goes by matrix products (one per chunk) when at least this
#: fraction of the (active row, used column) pairs has a weight (flat
#: attention: a matrix product costs about a tenth of a per-term
#: accumulation per pair); otherwise term by term, inside the soft boxes.
DENSE_FRACTION = 0.15
#: Cells (frame / 32 x 32) smaller than this run in one thread (see default_threads).
PARALLEL_CELL_PIXELS = 16384


def _row_weights(n_native: int, first: int, count: int, n_src: int = MODEL_SIZE) -> Tuple[int, np.ndarray]:
    """Bilinear weights along y of native rows first .. first + count - 1
    (clamped to the frame): (lo, (count, taps) float32) over source rows
    lo .. lo + taps - 1. Half-pixel centres and edge clamping, as cv2.resize."""
    rows = np.minimum(np.arange(first, first + count), n_native - 1)
    pos = np.clip((rows + 0.5) * (n_src / float(n_native)) - 0.5, 0.0, n_src - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_src - 1)
    frac = (pos - i0).astype(np.float32)
    lo = int(i0[0])
    weights = np.zeros((count, int(i1[-1]) - lo + 1), np.float32)
    np.add.at(weights, (np.arange(count), i0 - lo), 1.0 - frac)
    np.add.at(weights, (np.arange(count), i1 - lo), frac)
    return lo, weights


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


class CraPlan:
    """What depends only on the frame size, the hole and the blend mask.

    Built once per image, or once for a whole stream with a fixed mask: grid
    edges, per-grid-row interpolation matrices, the active cells with the
    bounding box of their soft-mask pixels and the full-res soft mask there.
    """

    def __init__(self, hole: np.ndarray, blend: np.ndarray, soft_floor: float = AppConfig.soft_floor,
                 small_mask: Optional[np.ndarray] = None, feather: int = AppConfig.blend_feather):
        height, width = hole.shape
        self.shape = (height, width)
        self.hole = hole
        self.soft_floor = float(soft_floor)
        if feather < 0:
            raise ValueError("feather must be >= 0 pixels, got {}".format(feather))
        self.feather = int(feather)
        self.blend = np.array(blend, dtype=np.float32, copy=True)
        self.ys = np.arange(GRID + 1) * height // GRID
        self.xs = np.arange(GRID + 1) * width // GRID
        self.ph = int(np.diff(self.ys).max())
        self.pw = int(np.diff(self.xs).max())
        #: per grid row: (first source row, y weights) of the ph native rows
        #: from its top edge
        self.rows = [_row_weights(height, int(y), self.ph) for y in self.ys[:-1]]
        #: first / last non-zero tap of each of those rows (for the bands)
        self.taps = [(np.argmax(w > 0, axis=1), w.shape[1] - 1 - np.argmax(w[:, ::-1] > 0, axis=1))
                     for _, w in self.rows]
        #: cell holds a hole pixel (any-pooling to 32 equals any-pooling the
        #: 512 mask over 16 x 16 blocks, so a given 512 mask saves a pass)
        if small_mask is None:
            self.has_hole = small_hole(hole, GRID).astype(bool)
        else:
            block = MODEL_SIZE // GRID
            self.has_hole = small_mask.reshape(GRID, block, GRID, block).any(axis=(1, 3))
        #: per grid row: the first grid row with the same y weights. Patches
        #: of rows of one form sample ``small`` at the same fractional
        #: offsets, so their up(small) can be summed at 512 rows and
        #: upsampled once (all rows share one form when H % 32 == 0).
        self.form = [next(f for f in range(j + 1) if self.rows[f][1].shape == self.rows[j][1].shape
                          and np.array_equal(self.rows[f][1], self.rows[j][1])) for j in range(GRID)]
        #: (1024,) patch has no hole pixel and lies inside the frame: its
        #: residual is exactly I - up(small) over the unclamped window
        self.clean = self._clean_patches().reshape(-1)
        #: active cells: (flat index, box (y0, y1, x0, x1) of the pixels with
        #: soft > floor, soft mask over the box, True when soft = 1 on all of it)
        self.cells = []  # type: List[Tuple[int, Tuple[int, int, int, int], np.ndarray, bool]]
        self._find_active(hole)
        self.cell_ids = np.array([c[0] for c in self.cells], dtype=np.intp)

    def matches(self, hole: np.ndarray, blend: np.ndarray, feather: Optional[int] = None) -> bool:
        """True when this plan is valid for ``hole``, ``blend`` (and ``feather`` when given)."""
        same_hole = hole is self.hole or (hole.shape == self.shape and np.array_equal(hole, self.hole))
        same_feather = feather is None or int(feather) == self.feather
        return same_hole and same_feather and np.array_equal(self.blend, blend)

    def upsample(self, xrows: np.ndarray, j: int, y0: int, y1: int, cols,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
        """Bilinear up(src) over native rows [y0, y1) of grid row j and
        columns ``cols`` (slice or clamped indices): float32 (y1 - y0, n_cols * C),
        into ``out`` when given.

        ``xrows``: src already upsampled along x, (512, W, C) float32.
        """
        lo, weights = self.rows[j]
        src = xrows[lo:lo + weights.shape[1], cols]
        return self.upsample_rows(src.reshape(src.shape[0], -1), j, y0 - int(self.ys[j]), y1 - y0, out)

    def upsample_rows(self, src: np.ndarray, j: int, first: int, count: int,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
        """Rows first .. first + count - 1 (from the top edge of grid row j)
        of the y upsampling of ``src``, the (taps, n) source rows grid row j
        reads: one small matrix product per band of rows, over only the
        source rows the band reads (2 + rows * 512 / H instead of all the cell's)."""
        weights = self.rows[j][1]
        first_tap, last_tap = self.taps[j]
        if out is None:
            out = np.empty((count, src.shape[1]), np.float32)
        width = src.shape[1]
        for a in range(0, count, BAND_ROWS):
            b = min(a + BAND_ROWS, count)
            t0, t1 = int(first_tap[first + a]), int(last_tap[first + b - 1]) + 1
            w = weights[first + a:first + b, t0:t1]
            for c in range(0, width, BLOCK_VALUES):
                d = min(c + BLOCK_VALUES, width)
                np.matmul(w, src[t0:t1, c:d], out=out[a:b, c:d])
        return out

    def cell_crop(self, j: int, i: int, box: Tuple[int, int, int, int]) -> Tuple[slice, slice]:
        """Where ``box`` (y0, y1, x0, x1) of cell (j, i) lies in a (ph, pw * 3)
        patch laid from the cell's corner."""
        y0, y1, x0, x1 = box
        cy, cx = int(self.ys[j]), int(self.xs[i])
        return slice(y0 - cy, y1 - cy), slice(3 * (x0 - cx), 3 * (x1 - cx))

    def _clean_patches(self) -> np.ndarray:
        """(32, 32) bool: the patch (ph x pw from the cell's corner) stays in
        the frame and no cell it overlaps holds a hole pixel (conservative)."""
        height, width = self.shape
        dirty = self.has_hole.copy()
        # a patch reaches one row / column into the next cell where cells differ in size
        down = self.ys[:-1] + self.ph > self.ys[1:]
        right = self.xs[:-1] + self.pw > self.xs[1:]
        dirty[:-1] |= down[:-1, None] & self.has_hole[1:]
        dirty[:, :-1] |= right[None, :-1] & self.has_hole[:, 1:]
        dirty[:-1, :-1] |= down[:-1, None] & right[None, :-1] & self.has_hole[1:, 1:]
        inside = (self.ys[:-1] + self.ph <= height)[:, None] & (self.xs[:-1] + self.pw <= width)[None, :]
        return inside & ~dirty

    def _candidates(self) -> np.ndarray:
        """(32, 32) bool: cells with a hole pixel or whose bilinear taps read
        a blend value above the floor (conservative, from 512 data only)."""
        heights, widths = np.diff(self.ys), np.diff(self.xs)
        reach = cv2.integral((self.blend > self.soft_floor).astype(np.uint8))
        y0 = np.array([lo for lo, _ in self.rows])
        y1 = np.array([lo + w.shape[1] for lo, w in self.rows])
        scale = MODEL_SIZE / float(self.shape[1])
        x0 = np.clip(np.floor((self.xs[:-1] + 0.5) * scale - 0.5), 0, MODEL_SIZE - 1).astype(np.intp)
        x1 = np.clip(np.floor((self.xs[1:] - 0.5) * scale - 0.5) + 2, 1, MODEL_SIZE).astype(np.intp)
        count = (reach[np.ix_(y1, x1)] - reach[np.ix_(y0, x1)] - reach[np.ix_(y1, x0)] + reach[np.ix_(y0, x0)])
        cells = max(1, min(int(heights.min()), int(widths.min())))
        near = cv2.dilate(self.has_hole.astype(np.uint8), np.ones((3, 3), np.uint8),
                          iterations=-(-self.feather // cells)) if self.feather else self.has_hole
        cand = self.has_hole | ((count > 0) & (near > 0))
        return cand & (heights > 0)[:, None] & (widths > 0)[None, :]

    def _ramp(self, hole: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """1 on the hole, falling linearly to 0 at ``feather + 1`` pixels from
        it (Euclidean distance), over rows y0:y1 and columns x0:x1."""
        height, width = self.shape
        f = self.feather
        ya, yb, xa, xb = max(y0 - f, 0), min(y1 + f, height), max(x0 - f, 0), min(x1 + f, width)
        known = (hole[ya:yb, xa:xb] == 0).astype(np.uint8)
        dist = cv2.distanceTransform(known, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        ramp = 1.0 - dist[y0 - ya:y1 - ya, x0 - xa:x1 - xa] * np.float32(1.0 / (f + 1))
        return np.maximum(ramp, 0.0, out=ramp)

    def _find_active(self, hole: np.ndarray) -> None:
        """Exact soft mask over runs of candidate cells of each grid row;
        keep the cells with pixels above the floor, cropped to the bounding
        box of those pixels (soft = 0 at and below the floor)."""
        cand = self._candidates()
        xblend = cv2.resize(self.blend, (self.shape[1], MODEL_SIZE), interpolation=cv2.INTER_LINEAR)[:, :, None]
        capped = float(self.blend.max()) <= 1.0  # then up(blend) <= 1 already (a convex combination)
        for j in np.flatnonzero(cand.any(axis=1)):
            y0, y1 = int(self.ys[j]), int(self.ys[j + 1])
            for a, b in _runs(cand[j]):
                xa, xb = int(self.xs[a]), int(self.xs[b + 1])
                soft = self.upsample(xblend, j, y0, y1, slice(xa, xb))
                if not capped:
                    np.minimum(soft, 1.0, out=soft)
                np.minimum(soft, self._ramp(hole, y0, y1, xa, xb), out=soft)
                cv2.threshold(soft, self.soft_floor, 0.0, cv2.THRESH_TOZERO, dst=soft)
                np.copyto(soft, 1.0, where=hole[y0:y1, xa:xb] != 0)
                marked = cv2.compare(soft, 0.0, cv2.CMP_GT)
                for i in range(a, b + 1):
                    x0 = int(self.xs[i]) - xa
                    bx, by, bw, bh = cv2.boundingRect(marked[:, x0:int(self.xs[i + 1]) - xa])
                    if bw == 0:
                        continue
                    crop = soft[by:by + bh, x0 + bx:x0 + bx + bw].copy()
                    box = (y0 + by, y0 + by + bh, xa + x0 + bx, xa + x0 + bx + bw)
                    self.cells.append((int(j * GRID + i), box, crop, bool(crop.min() == 1.0)))

    def chunks(self, max_cells: int) -> List[Tuple[int, int]]:
        """(first, stop) ranges of at most max_cells of ``self.cells``."""
        n = len(self.cells)
        return [(a, min(a + max_cells, n)) for a in range(0, n, max_cells)]


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


class Residual:
    """R = (I - up(small)) * (1 - M) of the kept context cells.

    Computed over strips of adjacent kept cells of one grid row (few large
    operations instead of many small ones); the patch of a cell is the
    ph x pw window from its top-left corner (clamped at the frame's edge),
    a (ph, pw * 3) view into its strip.
    """

    def __init__(self, image: np.ndarray, hole: np.ndarray, xsmall: np.ndarray, plan: CraPlan,
                 keep: np.ndarray, pool: "_Pool"):
        self.plan = plan
        self.count = len(keep)
        self._lock = threading.Lock()
        self._matrix = None  # type: Optional[np.ndarray]
        self.where = []  # type: List[Tuple[int, int]]  # (strip, first value of the patch)
        runs = []  # type: List[Tuple[int, int, int]]
        for j in np.unique(keep // GRID):
            columns = np.zeros(GRID, bool)
            columns[keep[keep // GRID == j] % GRID] = True
            for a, b in _runs(columns):
                for i in range(a, b + 1):
                    self.where.append((len(runs), 3 * int(plan.xs[i] - plan.xs[a])))
                runs.append((int(j), a, b))
        self.strips = pool.map(lambda run: self._strip(image, hole, xsmall, *run), runs)

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
        strip, first = self.where[k]
        return self.strips[strip][:, first:first + 3 * self.plan.pw]

    def matrix(self) -> np.ndarray:
        """All patches as one (count, ph * pw * 3) matrix, for matrix products
        (made on first use, once)."""
        with self._lock:
            if self._matrix is None:
                self._matrix = np.stack([self.patch(k) for k in range(self.count)]).reshape(self.count, -1)
        return self._matrix


def _runs(active: np.ndarray) -> List[Tuple[int, int]]:
    """Maximal runs (first, last) of True in a 1-D boolean array."""
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([idx[:1], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], idx[-1:]])
    return list(zip(starts.tolist(), ends.tolist()))


def _as_matrix(attention: np.ndarray) -> np.ndarray:
    att = np.asarray(attention, dtype=np.float32)
    if att.size != ATTENTION_CELLS * ATTENTION_CELLS:
        raise ValueError("attention must have 1024 x 1024 values, got shape {}".format(att.shape))
    return att.reshape(ATTENTION_CELLS, ATTENTION_CELLS)


def _as_plane(arr: np.ndarray, channels: int, name: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float32)
    a = a.reshape(a.shape[-3:]) if a.ndim == 4 else a
    if channels == 1 and a.ndim == 3:
        a = a[:, :, 0]
    expected = (MODEL_SIZE, MODEL_SIZE) + ((channels,) if channels > 1 else ())
    if a.shape != expected:
        raise ValueError("{} must be {} (or with a batch axis), got {}".format(name, expected, np.shape(arr)))
    return a


def _is_dense(weights: np.ndarray) -> bool:
    """True when the rows share their columns enough for one matrix product
    per chunk to beat per-term accumulation (flat attention: each used
    column read once instead of once per row)."""
    used = np.count_nonzero(weights.any(axis=0))
    return np.count_nonzero(weights) >= DENSE_FRACTION * weights.shape[0] * used


def _dense_product(weights: np.ndarray, residual: Residual) -> np.ndarray:
    """weights (n, k) @ residual patches: (n, ph, pw * 3), over the used columns."""
    used = np.flatnonzero(weights.any(axis=0))
    matrix = residual.matrix()
    if 2 * used.size >= weights.shape[1]:
        agg = np.dot(weights, matrix)
    else:
        agg = np.dot(weights[:, used], np.take(matrix, used, axis=0))
    return agg.reshape(weights.shape[0], residual.plan.ph, residual.plan.pw * 3)


class _Terms:
    """The attention terms A @ R of the active cells, in one of three forms.

    - ``whole``: the product of all cells at once (the matmul hook);
    - dense rows: the residual of every used cell, one product per chunk;
    - peaked rows (a trained network's): per term. A clean patch (no hole,
      inside the frame) adds ``w * (I - up(small))``: its pixels are
      accumulated as uint8 (a weighted mean, rescaled once) and its
      up(small) part is summed at 512 rows with the cell's own
      up(inpainted) and upsampled once with it, so no full-resolution
      residual is made for it. Only the other patches get one (``residual``).
    """

    def __init__(self, image: np.ndarray, hole: np.ndarray, plan: CraPlan, weights: np.ndarray,
                 keep: np.ndarray, xsmall: np.ndarray, pool: "_Pool",
                 matmul: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]]):
        self.weights = weights
        self.keep = keep
        self.xsmall = xsmall
        self.whole = None  # type: Optional[np.ndarray]
        self.dense = matmul is not None or _is_dense(weights)
        if self.dense:
            self.residual = Residual(image, hole, xsmall, plan, keep, pool)
            if matmul is not None:
                self.whole = matmul(weights, self.residual.matrix())
            return
        slow = ~plan.clean[keep]
        patch = np.full(keep.size, -1, np.intp)  # column -> its patch in ``residual``; -1: clean, none made
        patch[slow] = np.arange(np.count_nonzero(slow))
        self.residual = Residual(image, hole, xsmall, plan, keep[slow], pool) if slow.any() else None
        #: per column: (patch in ``residual`` or -1, form, first 512 row, 512 rows, top, left)
        self.columns = [(int(patch[k]), plan.form[j], plan.rows[j][0], plan.rows[j][1].shape[1],
                         int(plan.ys[j]), int(plan.xs[i]))
                        for k, (j, i) in enumerate(zip(*np.divmod(keep, GRID)))]

    def chunk_product(self, first: int, stop: int, plan: CraPlan) -> Optional[np.ndarray]:
        """(stop - first, ph, pw * 3) terms of cells first .. stop - 1 when
        they come as a product, else None (per-term)."""
        if self.whole is not None:
            return self.whole[first:stop].reshape(stop - first, plan.ph, plan.pw * 3)
        if self.dense:
            return _dense_product(self.weights[first:stop], self.residual)
        return None

    def cell_result(self, image: np.ndarray, plan: CraPlan, xinp: np.ndarray, c: int, j: int, i: int,
                    box: Tuple[int, int, int, int]) -> Tuple[np.ndarray, Optional[np.ndarray], float]:
        """up(inpainted) + the per-term residuals of active cell c (grid row
        j, column i) over its box, as (result, mean, total): float32 (rows,
        columns * 3) arrays, the sum being result + total * mean (mean None:
        result alone), added by the final rounding (see _rounded)."""
        y0, y1, x0, x1 = box
        first, count, ncols = y0 - int(plan.ys[j]), y1 - y0, x1 - x0
        cx = int(plan.xs[i])
        lo, taps = plan.rows[j][0], plan.rows[j][1].shape[1]
        low = xinp[lo:lo + taps, x0:x1].reshape(taps, -1).copy()
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


class _OpenCVSingleThreaded:
    """OpenCV's own threads off while compose works cell by cell: its calls
    there are small (one cell), and parallel regions that small cost more
    than they save, badly so on a busy machine. compose parallelises over
    chunks of cells itself instead; the whole-frame steps before (plan, x
    upsampling) keep OpenCV's threads. Counted, so overlapping calls restore
    the setting once."""

    _lock = threading.Lock()
    _users = 0
    _saved = 1

    def __enter__(self) -> None:
        with self._lock:
            if _OpenCVSingleThreaded._users == 0:
                _OpenCVSingleThreaded._saved = cv2.getNumThreads()
                cv2.setNumThreads(1)
            _OpenCVSingleThreaded._users += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            _OpenCVSingleThreaded._users -= 1
            if _OpenCVSingleThreaded._users == 0:
                cv2.setNumThreads(_OpenCVSingleThreaded._saved)


class _Pool:
    """``map`` over worker threads, or in the calling thread for one."""

    def __init__(self, threads: int):
        self._executor = ThreadPoolExecutor(threads) if threads > 1 else None

    def map(self, fn, items):
        return list(self._executor.map(fn, items)) if self._executor else [fn(item) for item in items]

    def __enter__(self) -> "_Pool":
        return self

    def __exit__(self, *exc) -> None:
        if self._executor:
            self._executor.shutdown()


def default_threads(height: int, width: int) -> int:
    """Worker threads of compose for a frame: the CPU count, at most 4, when
    a cell has at least PARALLEL_CELL_PIXELS pixels, else 1. The per-cell
    work is many short OpenCV / BLAS calls; with small cells the threads
    spend more on handing the GIL to each other than they gain (2-CPU
    machine, 2026-11-30: 4K 124 ms with one thread, 168 ms with two; 8K 323
    vs 284 ms; medians of 15 and 8 runs)."""
    if (height // GRID) * (width // GRID) < PARALLEL_CELL_PIXELS:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _rounded(result: np.ndarray, mean: Optional[np.ndarray] = None, total: float = 0.0,
             dst: Optional[np.ndarray] = None) -> np.ndarray:
    """rint(clip(result + total * mean, 0, 255)) as uint8, into ``dst`` when
    given (OpenCV's saturating conversion; one pass when there is a mean)."""
    if mean is not None:
        return cv2.addWeighted(result, 1.0, mean, total, 0.0, dst=dst, dtype=cv2.CV_8U)
    np.maximum(result, 0.0, out=result)  # convertScaleAbs takes |x|; the top saturates
    return cv2.convertScaleAbs(result, dst=dst)


def _compose_chunk(image: np.ndarray, out: np.ndarray, plan: CraPlan, xinp: np.ndarray,
                   terms: Optional[_Terms], first: int, stop: int) -> Tuple[float, float]:
    """Result, blend and write of cells first .. stop - 1; (seconds, blend seconds)."""
    t_start = time.perf_counter()
    t_blend = 0.0
    agg = None if terms is None else terms.chunk_product(first, stop, plan)
    for c in range(first, stop):
        cell, (y0, y1, x0, x1), soft, interior = plan.cells[c]
        j, i = divmod(cell, GRID)
        mean, total = None, 0.0
        if terms is not None and agg is None:
            result, mean, total = terms.cell_result(image, plan, xinp, c, j, i, (y0, y1, x0, x1))
        else:
            result = plan.upsample(xinp, j, y0, y1, slice(x0, x1))
            if agg is not None:
                result += agg[c - first][plan.cell_crop(j, i, (y0, y1, x0, x1))]
        t0 = time.perf_counter()
        target = out[y0:y1, x0:x1]  # a view: OpenCV writes into it
        if interior:
            _rounded(result, mean, total, dst=target.reshape(result.shape))
        else:  # rint(soft * rounded + (1 - soft) * I): exactly I where soft = 0
            original = image[y0:y1, x0:x1]
            rounded = _rounded(result, mean, total).reshape(original.shape)
            cv2.blendLinear(rounded, original, soft, 1.0 - soft, dst=target)
        t_blend += time.perf_counter() - t0
    return time.perf_counter() - t_start, t_blend


def compose(image: np.ndarray, hole: np.ndarray, inpainted: np.ndarray, attention: Optional[np.ndarray],
            blend: np.ndarray, *, small: Optional[np.ndarray] = None, plan: Optional[CraPlan] = None,
            out: Optional[np.ndarray] = None, soft_floor: float = AppConfig.soft_floor,
            feather: int = AppConfig.blend_feather, prune_mass: float = AppConfig.attention_prune_mass, chunk_cells: int = AppConfig.cra_chunk_cells,
            matmul: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
            threads: int = 0, timings: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Full-resolution result from the network's 512 outputs.

    image: uint8 (H, W, 3) BGR; hole: (H, W) non-zero = hole; inpainted:
    float32 (512, 512, 3) 0..255; attention: (1024, 1024) or (1, 32, 32, 1024),
    or None for plain bilinear upsampling (the --no-cra ablation); blend:
    (512, 512) or (1, 512, 512, 1) in 0..1. Returns uint8 (H, W, 3).

    Optional: ``small`` the uint8 512 image the network saw (recomputed with
    INTER_AREA otherwise), ``plan`` a CraPlan to reuse (rebuilt if it does not
    match), ``out`` an array holding a copy of ``image`` to write into (only
    pixels under the soft mask are written; a window of a larger frame is
    fine), ``matmul(a, b)`` to run the whole aggregation product at once
    elsewhere (e.g. on the AI core),
    ``threads`` worker threads over chunks of cells (0: ``default_threads``),
    ``feather`` the width in pixels of the soft edge outside the hole,
    ``timings`` a dict that gets seconds added under "cra" and "blend".
    """
    t_start = time.perf_counter()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be uint8 (H, W, 3), got {} {}".format(image.dtype, image.shape))
    if hole.shape != image.shape[:2]:
        raise ValueError("hole {} does not match the image {}".format(hole.shape, image.shape[:2]))
    if out is not None and (out.shape != image.shape or out.dtype != np.uint8 or out.strides[1:] != (3, 1)):
        raise ValueError("out must be a uint8 array (or a window of one) of the image's shape {} with "
                         "contiguous pixels, got {} {}".format(image.shape, out.dtype, out.shape))
    blend = _as_plane(blend, 1, "blend")
    x2 = np.clip(_as_plane(inpainted, 3, "inpainted"), 0.0, 255.0)
    threads = threads or default_threads(*image.shape[:2])
    # whole-frame and whole-row work (plan, x upsampling) with OpenCV's own threads
    if plan is None or not plan.matches(hole, blend, feather):
        plan = CraPlan(hole, blend, soft_floor, feather=feather)
    if out is None:
        out = image.copy()
    width = image.shape[1]
    xinp = xsmall = weights = keep = None
    if plan.cells:
        xinp = cv2.resize(x2, (width, MODEL_SIZE), interpolation=cv2.INTER_LINEAR)
        if attention is not None:
            weights = prune_rows(_as_matrix(attention)[plan.cell_ids], prune_mass)
            keep = np.flatnonzero(weights.any(axis=0))
            if keep.size:
                small_u8 = small_image(image) if small is None else small
                xsmall = cv2.resize(small_u8.astype(np.float32), (width, MODEL_SIZE),
                                    interpolation=cv2.INTER_LINEAR)
    # per-cell work: compose's threads (see _OpenCVSingleThreaded)
    with _OpenCVSingleThreaded(), _Pool(threads) as pool:
        terms = None
        if xsmall is not None:
            terms = _Terms(image, hole, plan, weights[:, keep], keep, xsmall, pool, matmul)
        t_cells = time.perf_counter()
        chunks = plan.chunks(min(chunk_cells, max(1, -(-len(plan.cells) // (2 * threads)))))
        spent = pool.map(lambda r: _compose_chunk(image, out, plan, xinp, terms, *r), chunks)
    if timings is not None:
        # per-chunk blend share of the (possibly parallel) chunk phase
        total, t_cells = time.perf_counter() - t_start, time.perf_counter() - t_cells
        share = sum(b for _, b in spent) / max(sum(a for a, _ in spent), 1e-9)
        timings["cra"] = timings.get("cra", 0.0) + total - share * t_cells
        timings["blend"] = timings.get("blend", 0.0) + share * t_cells
    return out
