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
view pixels around P (its "taps"), weighted bilinearly, and ``g``
(DETAIL_GAIN) 0.8. Inside a region copied from one place the four offsets
agree and the result is that place's own pixels (their detail at 0.8 of its
contrast); where the source changes, the residuals of both cross-fade over
one 512 pixel: no cell grid, no hard seam. The blend into the frame and the
active boxes are those of the CRA plan (edge_app.cra.plan), so the soft edge
and the pixels returned bit-identical are the same as with cell CRA.

Most pixels lie where all four taps name one source (a region copied from
one place): there the detail is that source's alone, so it is computed for
every pixel with the first tap's source, and the other taps' sources only
for the pixels whose taps name several. Neighbouring active cells of a grid
row are computed as one box.
"""
import copy
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..completion import Completion
from .plan import GRID, CraPlan
from .threads import OpenCVSingleThreaded, Pool, default_threads

#: The four taps of a native pixel: (row, column) steps from the view pixel
#: at or above-left of it, in the order their weights are summed.
TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))

#: Longest map row given to cv2.remap (it takes fewer than 32767 columns);
#: one row: remap works through it in long blocks.
REMAP_ROW = 16384

Box = Tuple[int, int, int, int]
Cell = Tuple[int, Box, np.ndarray, bool]


#: The borrowed detail is added at this share of its contrast. Detail out of
#: phase with the truth costs pixel error in proportion to its contrast, and
#: the patch distribution distance (SWD) rises as it fades; validation split
#: at full resolution (24 cases), L1 in the hole / SWD: 1.0: 19.10 / 0.111,
#: 0.7: 18.73 / 0.141 (Navier-Stokes 19.08 / 0.256). 0.8 keeps the fill's
#: L1 below Navier-Stokes' with most of the grain.
DETAIL_GAIN = 0.8


class SourceField:
    """The completion's sources as maps over the 512 view (what the frames of
    one completion share), laid out with the last row and column repeated
    once more: per view pixel its source offset in native pixels; per quad
    (rows i, i + 1 and columns j, j + 1: the four taps of the native pixels
    at or below-right of view pixel (i, j)) which tap first names each tap's
    source, and whether all four name one. Flat indices into these maps step
    ``stride`` a row; tap k of quad q is view pixel q + ``steps[k]``."""

    def __init__(self, completion: Completion, shape: Tuple[int, int]):
        ty, tx = completion.targets
        sy, sx = completion.sources
        self.filled = completion.image
        self._sources = completion.sources
        view_h, view_w = self.filled.shape[:2]
        height, width = shape
        self.stride = view_w + 1
        self.steps = [dy * self.stride + dx for dy, dx in TAPS]
        # (offset rows, offset columns) in native pixels, each pair also read as one 64-bit key
        # (equal keys, equal offsets: an offset is never -0.0 or NaN)
        offsets = np.zeros((view_h + 1, view_w + 1, 2), np.float32)
        offsets[ty, tx, 0] = (sy - ty) * (height / float(view_h))
        offsets[ty, tx, 1] = (sx - tx) * (width / float(view_w))
        known = np.zeros((view_h + 1, view_w + 1), bool)
        known[ty, tx] = True
        for m in (offsets, known):
            m[view_h] = m[view_h - 1]
            m[:, view_w] = m[:, view_w - 1]
        self.offset_y, self.offset_x = np.ascontiguousarray(offsets[..., 0]), np.ascontiguousarray(offsets[..., 1])
        key = offsets.view(np.int64)[..., 0]
        keys = [key[dy:dy + view_h, dx:dx + view_w] for dy, dx in TAPS]
        #: per tap: the first tap of each quad that names its source (the tap
        #: itself if none before it; int8), -1 where the tap has no source
        self.first = []  # type: List[np.ndarray]
        for k, (dy, dx) in enumerate(TAPS):
            first = np.full((view_h + 1, view_w + 1), k, np.int8)
            inner = first[:view_h, :view_w]
            for m in reversed(range(k)):
                inner[keys[k] == keys[m]] = m
            inner[~known[dy:dy + view_h, dx:dx + view_w]] = -1
            self.first.append(first)
        #: quads whose four taps name one source (or none has one)
        self.single = np.logical_and.reduce([first == self.first[0] for first in self.first[1:]])

    def with_filled(self, filled: np.ndarray) -> "SourceField":
        """The same sources over another completed view ``filled`` (float32,
        the view's shape): the completion in a later frame's light."""
        field = copy.copy(self)
        field.filled = filled
        return field

    def sources_per_cell(self, grid: int) -> np.ndarray:
        """How many targets take their patch from each cell of a ``grid`` x
        ``grid`` division of the view ((grid * grid,) counts, row by row)."""
        view_h, view_w = self.filled.shape[:2]
        sy, sx = self._sources
        cells = (sy * grid // view_h) * grid + sx * grid // view_w
        return np.bincount(cells, minlength=grid * grid)


def _taps(first: int, count: int, native: int, view: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """View coordinates of native pixels first .. first + count - 1 (half-pixel
    centres, as cv2.resize): float position, the view index at or before it,
    and the next one's weight."""
    pos = np.clip((np.arange(first, first + count) + 0.5) * (view / float(native)) - 0.5, 0.0, view - 1)
    low = np.floor(pos).astype(np.intp)
    return pos.astype(np.float32), low, (pos - low).astype(np.float32)


class _Grid:
    """The view coordinates (_taps) of every row and column of a frame, made once per frame."""

    def __init__(self, shape: Tuple[int, int], view: Tuple[int, int]):
        self.shape, self.view = shape, view
        self.rows = _taps(0, shape[0], shape[0], view[0])
        self.cols = _taps(0, shape[1], shape[1], view[1])

    def box(self, box: Box) -> Tuple[Sequence[np.ndarray], Sequence[np.ndarray]]:
        """The rows' and columns' (position, lower index, weight) over ``box``."""
        y0, y1, x0, x1 = box
        return [a[y0:y1] for a in self.rows], [a[x0:x1] for a in self.cols]


def _upsampled(filled: np.ndarray, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """up(filled) at view rows ``py`` and columns ``px`` (float32 positions)."""
    return cv2.remap(filled, np.repeat(px[None, :], py.size, 0), np.repeat(py[:, None], px.size, 1),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _source_detail(image: np.ndarray, filled: np.ndarray, qy: np.ndarray, qx: np.ndarray, weight: np.ndarray,
                   to_view: Tuple[float, float]) -> np.ndarray:
    """``weight`` times the residual R = I - up(filled) at the native pixels
    nearest (qy, qx) (float32 maps of one shape, rounded in place; reflected
    at the frame's edge)."""
    qy, qx = np.rint(qy, out=qy), np.rint(qx, out=qx)
    sharp = cv2.remap(image, qx, qy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    # view coordinates of their centres, as (q + 0.5) * to_view - 0.5 (in place)
    view_y, view_x = qy + 0.5, qx + 0.5
    view_y *= to_view[0]
    view_x *= to_view[1]
    view_y -= 0.5
    view_x -= 0.5
    smooth = cv2.remap(filled, view_x, view_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    detail = np.subtract(sharp, smooth, dtype=np.float32)
    detail *= weight[..., None]
    return detail


def _merged_weights(field: SourceField, quads: np.ndarray, products: List[np.ndarray]) -> List[np.ndarray]:
    """Per tap, the weights of pixels in ``quads`` (flat quad numbers) whose
    bilinear weights are ``products`` (changed in place): a tap without a
    source weighs 0, and taps naming the source of an earlier tap add their
    weights to it, in tap order (they are one source)."""
    weights = products
    for k in range(len(TAPS)):
        first = field.first[k].take(quads)
        for m in range(k):
            np.add(weights[m], weights[k], out=weights[m], where=first == m)
        weights[k] *= first == k
    return weights


def _add_rows(rows: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``rows[index] += values`` for distinct ``index`` into a C-contiguous
    (N, C) array; np.take and np.put of whole rows (as one opaque item)
    instead of fancy indexing, which is several times slower for short rows."""
    summed = rows.take(index, axis=0)
    summed += values
    row = np.dtype((np.void, rows.shape[1] * rows.itemsize))
    np.put(rows.view(row), index, summed.view(row))


def _add_source(image: np.ndarray, field: SourceField, k: int, native: Tuple[np.ndarray, np.ndarray],
                quads: np.ndarray, weight: np.ndarray, to_view: Tuple[float, float]) -> Tuple[np.ndarray, np.ndarray]:
    """Tap k's source at native pixels (rows, columns) of quads ``quads``:
    its detail times ``weight``, and the squared weight. The maps go to
    cv2.remap as rows of up to REMAP_ROW."""
    taps = quads + field.steps[k]
    qy = native[0].astype(np.float32) + field.offset_y.take(taps)
    qx = native[1].astype(np.float32) + field.offset_x.take(taps)
    detail = np.empty((qy.size, image.shape[2]), np.float32)
    for start in range(0, qy.size, REMAP_ROW):
        part = slice(start, start + REMAP_ROW)
        detail[part] = _source_detail(image, field.filled, qy[None, part], qx[None, part], weight[None, part],
                                      to_view)[0]
    return detail, weight * weight


def _box(image: np.ndarray, field: SourceField, grid: _Grid, box: Box) -> np.ndarray:
    """float32 result over ``box`` (y0, y1, x0, x1) of the frame."""
    y0, y1, x0, x1 = box
    (py, ylo, fy), (px, xlo, fx) = grid.box(box)
    view_w = grid.view[1]
    to_view = (grid.view[0] / float(grid.shape[0]), view_w / float(grid.shape[1]))
    result = _upsampled(field.filled, py, px)
    quads = ylo[:, None] * field.stride + xlo[None, :]
    # bilinear weights of the taps, in TAPS order
    products = [wy[:, None] * wx[None, :] for wy in (1.0 - fy, fy) for wx in (1.0 - fx, fx)]
    # where the four taps name one source it has their summed weight (none without a source) ...
    weight = (((products[0] + products[1]) + products[2]) + products[3]) * (field.first[0].take(quads) == 0)
    # ... elsewhere each source its own
    rows, cols = np.nonzero(~field.single.take(quads))
    mixed = rows * (x1 - x0) + cols
    mixed_quads = quads.ravel().take(mixed)
    weights = _merged_weights(field, mixed_quads, [p.ravel().take(mixed) for p in products])
    weight.ravel()[mixed] = weights[0]
    native_y = np.arange(y0, y1, dtype=np.float32)[:, None]
    native_x = np.arange(x0, x1, dtype=np.float32)[None, :]
    # the first tap's source for every pixel (no source: weight 0) ...
    detail = _source_detail(image, field.filled, native_y + field.offset_y.take(quads),
                            native_x + field.offset_x.take(quads), weight, to_view)
    norm = weight * weight
    # ... then the other taps' sources where they have a weight of their own
    for k in range(1, len(TAPS)):
        has = np.flatnonzero(weights[k])
        if has.size:
            added, squared = _add_source(image, field, k, (rows.take(has) + y0, cols.take(has) + x0),
                                         mixed_quads.take(has), weights[k].take(has), to_view)
            pixels = mixed.take(has)
            _add_rows(detail.reshape(-1, detail.shape[2]), pixels, added)
            _add_rows(norm.reshape(-1, 1), pixels, squared[:, None])
    # distinct sources' detail is uncorrelated: dividing by the root of the summed squared
    # weights keeps its contrast where they cross-fade (a plain mean halves its variance there)
    np.sqrt(norm, out=norm)
    norm[norm == 0.0] = 1.0  # no source: the detail is 0 and stays so
    detail /= norm[..., None]
    result += DETAIL_GAIN * detail
    return result


def _row_runs(cells: Sequence[Cell]) -> List[Tuple[Box, List[Cell]]]:
    """The plan's active cells (in grid order) as runs of cells that touch
    along a grid row, each with the box around them (computed as one: fewer,
    larger array operations)."""
    groups = []  # type: List[List[Cell]]
    for cell in cells:
        last = groups[-1][-1] if groups else None
        if last is not None and cell[0] == last[0] + 1 and cell[0] % GRID != 0 and cell[1][2] == last[1][3]:
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return [((min(c[1][0] for c in group), max(c[1][1] for c in group), group[0][1][2], group[-1][1][3]), group)
            for group in groups]


def compose_dense(image: np.ndarray, field: SourceField, plan: CraPlan, out: np.ndarray, detail: bool = True,
                  threads: int = 0, timings: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Write the completion into ``out`` (a copy of ``image``, or a window of
    a larger frame) under the plan's soft mask. ``image`` uint8 (H, W, 3);
    ``detail`` False: the upsampled fill alone (the --no-cra ablation)."""
    t_start = time.perf_counter()
    threads = threads or default_threads(*image.shape[:2])
    grid = _Grid(image.shape[:2], field.filled.shape[:2])
    spent = []

    def one(run: Tuple[Box, List[Cell]]) -> None:
        box, cells = run
        y0, _, x0, _ = box
        result = _box(image, field, grid, box) if detail else _upsampled(field.filled, *(a[0] for a in grid.box(box)))
        t0 = time.perf_counter()
        rounded = cv2.convertScaleAbs(np.maximum(result, 0.0, out=result))
        for _, (cy0, cy1, cx0, cx1), soft, interior in cells:
            part = rounded[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
            target = out[cy0:cy1, cx0:cx1]
            if interior:
                target[...] = part
            else:
                cv2.blendLinear(part, image[cy0:cy1, cx0:cx1], soft, 1.0 - soft, dst=target)
        spent.append(time.perf_counter() - t0)

    with OpenCVSingleThreaded(), Pool(threads) as pool:
        pool.map(one, _row_runs(plan.cells))
    if timings is not None:
        blend = sum(spent) / max(threads, 1)
        timings["cra"] = timings.get("cra", 0.0) + time.perf_counter() - t_start - blend
        timings["blend"] = timings.get("blend", 0.0) + blend
    return out
