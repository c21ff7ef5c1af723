"""One pyramid level of the completion: patch search (PatchMatch) and voting.

Every pixel whose ``PATCH`` x ``PATCH`` patch touches the hole is a target;
every pixel whose patch lies wholly in the known part of the frame is a
source. A nearest-neighbour field (NNF) gives each target a source. It is
improved by PatchMatch (Barnes et al. 2009), all targets at once:
propagation (a target tries its neighbours' shifts, at jumps of 4, 2 and 1
pixels) and random search (shifts within a radius that halves down to 1),
plus any candidates the caller passes (the network's attention names
context cells worth trying). ``vote`` rebuilds the hole as the weighted
mean of the source patches that cover each pixel (Wexler et al. 2007:
weights fall with the patch distance).
"""
from typing import Dict, Iterable, List, Optional, Tuple

import cv2
import numpy as np

#: Patch side (odd). 5 beat 7 on our tuning photos (edge F1 and L1).
PATCH = 5
RADIUS = PATCH // 2
#: Patches are compared by their lowest-frequency components (a 2-D DCT of
#: each colour plane after an orthonormal colour transform: distances are
#: the patch distances less the finest detail, where natural patches hold
#: little energy): spatial frequencies u + v <= these, for the luminance and
#: the two colour-difference planes.
KEPT_FREQUENCIES = (3, 1, 1)
#: Propagation jumps, in pixels.
JUMPS = (4, 2, 1)
_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))
#: Candidates per iteration along the edge a target lies on.
ALONG_TRIES = 4
#: A neighbour's shift is taken when its distance is at most this much above
#: the target's own (make_coherent).
COHERENCE_SLACK = 0.25
#: Overuse penalty, in median patch distances per fair share a source
#: pixel is taken beyond (Level.penalise).
OVERUSE = 0.5
#: Vote weights: exp(-distance / (2 sigma^2)), sigma^2 this quantile of the distances.
SIGMA_QUANTILE = 0.75

Candidates = Iterable[Tuple[np.ndarray, np.ndarray]]


def _dct_basis() -> List[np.ndarray]:
    """The orthonormal 1-D DCT-II basis on PATCH samples."""
    n = np.arange(PATCH)
    return [np.sqrt((1.0 if u == 0 else 2.0) / PATCH) * np.cos(np.pi * (2 * n + 1) * u / (2 * PATCH))
            for u in range(PATCH)]


#: Orthonormal colour transform (BGR -> luminance, two colour differences).
_COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32) / np.array(
    [[np.sqrt(3)], [np.sqrt(2)], [np.sqrt(6)]], np.float32)
_KERNELS = [(plane, np.outer(_dct_basis()[u], _dct_basis()[v]).astype(np.float32))
            for plane, top in enumerate(KEPT_FREQUENCIES)
            for total in range(top + 1) for u in range(total + 1) for v in (total - u,)]
FEATURES = len(_KERNELS)


def patch_features(image: np.ndarray) -> np.ndarray:
    """float32 (H, W, FEATURES): each pixel's patch as its kept DCT
    coefficients (OpenCV filters, edges reflected)."""
    planes = cv2.transform(image, _COLOUR)
    return np.stack([cv2.filter2D(planes[..., plane], cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT_101)
                     for plane, kernel in _KERNELS], axis=2)


class Level:
    """Targets, sources and the index between them for one hole at one size."""

    def __init__(self, hole: np.ndarray):
        self.hole = hole
        self.shape = hole.shape
        square = np.ones((PATCH, PATCH), np.uint8)
        known = (~hole).view(np.uint8)
        #: centres of patches wholly known and inside the frame
        self.valid = cv2.erode(known, square, borderType=cv2.BORDER_CONSTANT, borderValue=0) != 0
        self.vy, self.vx = np.nonzero(self.valid)
        self.ty, self.tx = np.nonzero(cv2.dilate(hole.view(np.uint8), square) != 0)
        #: target number of each pixel (-1: not a target)
        self.index = np.full(self.shape, -1, np.intp)
        self.index[self.ty, self.tx] = np.arange(self.ty.size)
        #: the hole's pixels as flat indices
        self.hole_pixels = np.flatnonzero(hole)
        self._table = None  # type: Optional[np.ndarray]
        self._penalty = None  # type: Optional[np.ndarray]
        self._covering = None  # type: Optional[np.ndarray]
        self._neighbours = {}  # type: Dict[Tuple[int, int], np.ndarray]

    def covering(self) -> np.ndarray:
        """(PATCH * PATCH, hole pixels): per patch shift (dy, dx), row by row,
        the target whose patch covers each hole pixel at that shift (the
        pixel less the shift), or ``ty.size`` where that lies outside the
        frame; mask-only, made once."""
        if self._covering is None:
            index = np.pad(self.index, RADIUS, constant_values=self.ty.size).ravel()
            stride = self.shape[1] + 2 * RADIUS
            hy, hx = np.divmod(self.hole_pixels, self.shape[1])
            centre = (hy + RADIUS) * stride + (hx + RADIUS)  # each hole pixel in the padded index
            self._covering = np.stack([index.take(centre - (dy * stride + dx)) for dy, dx in _shifts()])
        return self._covering

    def neighbour(self, dy: int, dx: int) -> np.ndarray:
        """The target number of the pixel (dy, dx) from each target (-1:
        outside the frame or not a target); mask-only, made once."""
        if (dy, dx) not in self._neighbours:
            h, w = self.shape
            ny, nx = self.ty + dy, self.tx + dx
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            self._neighbours[dy, dx] = np.where(
                inside, self.index[np.minimum(np.maximum(ny, 0), h - 1), np.minimum(np.maximum(nx, 0), w - 1)], -1)
        return self._neighbours[dy, dx]

    @property
    def has_sources(self) -> bool:
        return self.vy.size > 0

    def random_sources(self, count: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        pick = rng.integers(0, self.vy.size, count)
        return self.vy[pick], self.vx[pick]

    def snap(self, sy: np.ndarray, sx: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates clamped into the frame, and whether each is a source."""
        h, w = self.shape
        # np.minimum / np.maximum: np.clip's checks of its bounds cost more than the clamping here
        sy = np.minimum(np.maximum(sy, RADIUS), h - 1 - RADIUS)
        sx = np.minimum(np.maximum(sx, RADIUS), w - 1 - RADIUS)
        return sy, sx, self.valid.take(sy * w + sx)

    def index_sources(self, image: np.ndarray) -> None:
        """Keep every pixel's patch features of ``image`` for the search
        (source patches never change: they hold no hole pixel)."""
        self._table = patch_features(image).reshape(-1, FEATURES)

    def target_features(self, image: np.ndarray) -> np.ndarray:
        """(targets, FEATURES) patch features of ``image`` at the targets."""
        return patch_features(image).reshape(-1, FEATURES).take(self.ty * self.shape[1] + self.tx, axis=0)

    def distance(self, targets: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        """Squared distances between target features and the sources' (from the
        index), plus the sources' overuse penalty (``penalise``)."""
        flat = sy * self.shape[1] + sx
        diff = targets - self._table.take(flat, axis=0)
        distance = np.einsum("ij,ij->i", diff, diff)
        return distance if self._penalty is None else distance + self._penalty.take(flat)

    def penalise(self, nnf: Tuple[np.ndarray, np.ndarray], cost: np.ndarray) -> None:
        """Make the sources the field ``nnf`` copies most dearer: each source
        pixel costs OVERUSE times the median distance for every time the
        patches it lies in are taken beyond their fair share (Kaspar et al.
        2015's occurrence term). Without it a large hole is filled from a
        few bland patches again and again: a flat, repeated fill."""
        h, w = self.shape
        taken = np.bincount(nnf[0] * w + nnf[1], minlength=h * w).reshape(h, w).astype(np.float32)
        covered = cv2.boxFilter(taken, -1, (PATCH, PATCH), normalize=False, borderType=cv2.BORDER_CONSTANT)
        fair = float(covered[self.valid].mean()) if self.vy.size else 1.0
        scale = OVERUSE * float(np.median(cost))
        self._penalty = (scale * np.maximum(covered / max(fair, 1e-6) - 1.0, 0.0)).reshape(-1)


def _try(level: Level, targets: np.ndarray, nnf: Tuple[np.ndarray, np.ndarray], cost: np.ndarray,
         cy: np.ndarray, cx: np.ndarray, usable: Optional[np.ndarray] = None) -> None:
    """Keep each candidate source that is closer than the target's current one."""
    cy, cx, valid = level.snap(cy, cx)
    if usable is not None:
        valid &= usable
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return
    cy, cx = cy.take(idx), cx.take(idx)
    new = level.distance(targets.take(idx, axis=0), cy, cx)
    better = new < cost.take(idx)
    chosen = idx[better]
    nnf[0][chosen], nnf[1][chosen], cost[chosen] = cy[better], cx[better], new[better]


def search(level: Level, targets: np.ndarray, nnf: Tuple[np.ndarray, np.ndarray], iterations: int,
           rng: np.random.Generator, candidates: Optional[Candidates] = None,
           along: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """Improve ``nnf`` (source rows, source columns; changed in place) for the
    target patches ``targets``; returns each target's patch distance.
    ``along``: per target a (dy, dx) direction (zero where none) in which
    patches further along from the target are tried (the edge it lies on)."""
    sy, sx = nnf
    cost = level.distance(targets, sy, sx)
    for cy, cx in candidates or ():
        _try(level, targets, nnf, cost, cy, cx)
    h, w = level.shape
    on_edge = None if along is None else (along[0] != 0) | (along[1] != 0)
    for _ in range(iterations):
        level.penalise(nnf, cost)
        cost = level.distance(targets, sy, sx)
        if along is not None:
            for _ in range(ALONG_TRIES):
                r = rng.uniform(PATCH, max(h, w) / 2.0, sy.size) * rng.choice((-1.0, 1.0), sy.size)
                _try(level, targets, nnf, cost, np.rint(level.ty + r * along[0]).astype(np.intp),
                     np.rint(level.tx + r * along[1]).astype(np.intp), on_edge)
        for jump in JUMPS:
            for dy, dx in _NEIGHBOURS:
                neighbour = level.neighbour(dy * jump, dx * jump)
                n = np.maximum(neighbour, 0)
                _try(level, targets, nnf, cost, sy.take(n) - dy * jump, sx.take(n) - dx * jump, neighbour >= 0)
        radius = max(h, w) // 2
        while radius >= 1:
            _try(level, targets, nnf, cost, sy + rng.integers(-radius, radius + 1, sy.size),
                 sx + rng.integers(-radius, radius + 1, sx.size))
            radius //= 2
    return cost


def make_coherent(level: Level, targets: np.ndarray, nnf: Tuple[np.ndarray, np.ndarray], cost: np.ndarray,
                  passes: int = 2) -> None:
    """Let each target take the shift most of its four neighbours share,
    when that fits almost as well (within COHERENCE_SLACK of its own
    distance), so that neighbours copy one piece of the source rather than
    copies a pixel or two apart: the vote averages overlapping patches, and
    averaging a texture with itself shifted by a few pixels leaves a hatched
    ghost of it (more so once the field is doubled for the finer levels).
    Half the targets move at a time (a checkerboard), so two neighbours
    never swap shifts."""
    sy, sx = nnf
    parity = (level.ty + level.tx) % 2
    neighbours = [level.neighbour(dy, dx) for dy, dx in _NEIGHBOURS]
    has = [n >= 0 for n in neighbours]
    # a shift (rows, columns) as one number: shifts are equal when their keys are
    span = 2 * level.shape[1]
    for _ in range(passes):
        for colour in (0, 1):
            own_y, own_x = sy - level.ty, sx - level.tx
            own_key = own_y * span + own_x
            shift_y = [own_y.take(np.maximum(n, 0)) for n in neighbours]
            shift_x = [own_x.take(np.maximum(n, 0)) for n in neighbours]
            keys = [own_key.take(np.maximum(n, 0)) for n in neighbours]
            # each neighbour's shift counts a vote for every shift equal to it
            best_votes = sum(has[j] & (own_key == keys[j]) for j in range(len(keys)))
            best_y, best_x = own_y.copy(), own_x.copy()
            for i in range(len(keys)):
                votes = has[i] * sum(has[j] & (keys[i] == keys[j]) if j != i else has[i] for j in range(len(keys)))
                better = votes > best_votes
                best_votes[better], best_y[better], best_x[better] = votes[better], shift_y[i][better], shift_x[i][better]
            cy, cx, valid = level.snap(level.ty + best_y, level.tx + best_x)
            idx = np.flatnonzero(valid & (parity == colour) & ((cy != sy) | (cx != sx)))
            if idx.size == 0:
                continue
            cy, cx = cy.take(idx), cx.take(idx)
            new = level.distance(targets.take(idx, axis=0), cy, cx)
            take = new <= cost.take(idx) * (1.0 + COHERENCE_SLACK)
            chosen = idx[take]
            sy[chosen], sx[chosen], cost[chosen] = cy[take], cx[take], new[take]


def _shifts() -> List[Tuple[int, int]]:
    """The (dy, dx) of a patch's pixels from its centre, row by row."""
    return [(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)]


def vote(image: np.ndarray, level: Level, nnf: Tuple[np.ndarray, np.ndarray],
         cost: Optional[np.ndarray] = None) -> np.ndarray:
    """A copy of ``image`` (float32 (H, W, C)) whose hole pixels are the
    weighted mean of the source pixels that the patches covering them name
    (equal weights without ``cost``)."""
    sy, sx = nnf
    if cost is None:
        weight = np.ones(sy.size, np.float32)
    else:
        sigma2 = float(np.quantile(cost, SIGMA_QUANTILE)) + 1e-6
        weight = np.maximum(np.exp(-cost / (2.0 * sigma2)), 1e-30).astype(np.float32)
    h, w = level.shape
    channels = image.shape[2]
    padded = cv2.copyMakeBorder(image, RADIUS, RADIUS, RADIUS, RADIUS, cv2.BORDER_REFLECT_101)
    stride = w + 2 * RADIUS
    # each source's centre in the padded image; past the last target, one of weight 0 (shifts outside the frame)
    base = np.append((sy + RADIUS) * stride + (sx + RADIUS), RADIUS * stride + RADIUS)
    weight = np.append(weight, np.float32(0.0))
    covering = level.covering()
    weights = weight.take(covering)
    at = base.take(covering)
    at += np.array([dy * stride + dx for dy, dx in _shifts()])[:, None]
    # (shifts, hole pixels, channels), each value times its patch's weight
    values = padded.reshape(-1, channels).take(at, axis=0)
    values *= weights[..., None]
    # summed shift by shift, in order (as the patches are laid)
    total, norm = values[0], weights[0]
    for k in range(1, covering.shape[0]):
        total += values[k]
        norm += weights[k]
    out = image.copy()
    out.reshape(-1, channels)[level.hole_pixels] = total / norm[:, None]
    return out
