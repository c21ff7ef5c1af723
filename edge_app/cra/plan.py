"""The CRA plan: what depends only on the frame size, the hole and the blend mask.

The frame is cut into a 32 x 32 grid of cells with edges ``k * H // 32``
(cells differ by at most one pixel when the size is not divisible by 32);
patches are taken at the largest cell size (ph x pw) from each cell's
top-left corner, clamped at the frame's edge, so all have one length.
The soft mask is the 512 blend mask upsampled, capped at 1 and by a feather
ramp around the native hole (``CraPlan._ramp``) and set to 1 on the hole;
"active" cells are those where it is above ``soft_floor`` (0 there and below).
Upsampling is bilinear with half-pixel centres, as ``cv2.resize`` does: along
x by ``cv2.resize`` to (W, 512) rows, along y by small matrix products.
"""
import copy
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..config import AppConfig
from ..interface import ATTENTION_GRID, MODEL_SIZE
from ..preprocess import small_hole

GRID = ATTENTION_GRID
#: The y upsampling goes by blocks of BAND_ROWS rows x BLOCK_VALUES values:
#: each block's product reads about 2 + rows * 512 / H source rows instead
#: of all the cell's. In a microbenchmark 48 rows beat 12 (4K and 8K cells);
#: inside compose 48, 72 and whole cells measured the same. Most of these
#: products are still large enough for OpenBLAS to use its own threads.
BAND_ROWS = 48
BLOCK_VALUES = 2048


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


class CraPlan:
    """What depends only on the frame size, the hole and the blend mask.

    Built once per image, or once for a whole stream with a fixed mask: grid
    edges, per-grid-row interpolation matrices, the active cells with the
    bounding box of their soft-mask pixels and the full-res soft mask there.
    """

    def __init__(self, hole: np.ndarray, blend: np.ndarray, soft_floor: float = AppConfig.soft_floor,
                 any_hole: Optional[np.ndarray] = None, feather: int = AppConfig.blend_feather):
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
        #: 512 mask over 16 x 16 blocks, so ``any_hole``, the hole's
        #: any-pooled 512 mask (preprocess.small_hole), saves a pass; not the
        #: network's majority mask, which misses cells holding a few hole pixels)
        if any_hole is None:
            self.has_hole = small_hole(hole, GRID).astype(bool)
        else:
            block = MODEL_SIZE // GRID
            self.has_hole = any_hole.reshape(GRID, block, GRID, block).any(axis=(1, 3))
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

    def unblended(self) -> "CraPlan":
        """This plan with every active cell marked interior: compose then
        writes each cell's rounded result over its whole box, unblended, for
        a caller that blends it into frames itself (``blend_cell``; the
        frames of a stream reusing one fill)."""
        plan = copy.copy(self)
        plan.cells = [(cell, box, soft, True) for cell, box, soft, _ in self.cells]
        return plan

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
        """Rows y0:y1, columns x0:x1 of the feather: twice the hole's share of
        the (2 feather + 1)^2 box around each pixel, capped at 1 (1 on and
        next to the hole, a linear ramp to 0 across a straight edge, 0 from
        ``feather + 1`` pixels away). A box mean of a byte image: cheap,
        where a Euclidean distance transform cost 25 times more at 8K."""
        height, width = self.shape
        f = self.feather
        ya, yb, xa, xb = max(y0 - f, 0), min(y1 + f, height), max(x0 - f, 0), min(x1 + f, width)
        window = (hole[ya:yb, xa:xb] != 0).view(np.uint8) * np.uint8(255)
        share = cv2.blur(window, (2 * f + 1, 2 * f + 1), borderType=cv2.BORDER_REPLICATE)
        ramp = share[y0 - ya:y1 - ya, x0 - xa:x1 - xa].astype(np.float32) * np.float32(2.0 / 255.0)
        return np.minimum(ramp, 1.0, out=ramp)

    def _find_active(self, hole: np.ndarray) -> None:
        """Exact soft mask over runs of candidate cells of each grid row;
        keep the cells with pixels above the floor, cropped to the bounding
        box of those pixels (soft = 0 at and below the floor)."""
        cand = self._candidates()
        xblend = cv2.resize(self.blend, (self.shape[1], MODEL_SIZE), interpolation=cv2.INTER_LINEAR)[:, :, None]
        capped = float(self.blend.max()) <= 1.0  # then up(blend) <= 1 already (a convex combination)
        for j in np.flatnonzero(cand.any(axis=1)):
            y0, y1 = int(self.ys[j]), int(self.ys[j + 1])
            for a, b in runs(cand[j]):
                xa, xb = int(self.xs[a]), int(self.xs[b + 1])
                soft = self.upsample(xblend, j, y0, y1, slice(xa, xb))
                if not capped:
                    np.minimum(soft, 1.0, out=soft)
                np.minimum(soft, self._ramp(hole, y0, y1, xa, xb), out=soft)
                cv2.threshold(soft, self.soft_floor, 0.0, cv2.THRESH_TOZERO, dst=soft)
                np.copyto(soft, 1.0, where=hole[y0:y1, xa:xb] != 0)
                marked = (soft > 0.0).view(np.uint8)  # not cv2.compare: a 1 x 1 array reads as a scalar there
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


def runs(active: np.ndarray) -> List[Tuple[int, int]]:
    """Maximal runs (first, last) of True in a 1-D boolean array."""
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([idx[:1], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], idx[-1:]])
    return list(zip(starts.tolist(), ends.tolist()))
