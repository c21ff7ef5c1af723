"""The light correction: a fill made from one frame follows a later frame's
colour and light.

A fixed camera's frames differ by their light (sun, clouds, auto exposure,
white balance) far more often than by their content. The light of a later
frame is modelled as ``current = gain * reference + offset`` per channel,
where gain and offset vary smoothly over the view: polynomials of the
position of degree ``degree`` (0: one gain and offset for the whole view;
1: a gradient across it, the sun moving; 2, the default: also a brighter
or darker middle, vignetting, a wide cloud shadow). They are fitted by
least squares on known pixels of the two frames' 512 views: every known
pixel within a few pixels of the hole (the ring, which decides the fill's
colour) and a sparse grid of the rest of the view (so that every part of
the view is fitted: the change counts, edge_app.reuse.change, compare whole
views). Pixels that a first fit misses by more than the change threshold
(something moved there) are left out of the final one. A small pull of the
gain towards 1 decides between gain and offset where the pixels are flat.
Frames that are equal on those pixels give the identity itself
(``Light.identity``: drawing then changes no pixel).
"""
from typing import Optional, Tuple

import cv2
import numpy as np

from ..interface import MODEL_SIZE

#: The sparse grid: every GRID_STEP-th row and column of the view; of the
#: ring, every RING_STEP-th pixel (a few thousand pixels in all: plenty for
#: a dozen terms a channel, and the fit costs a few milliseconds).
GRID_STEP = 8
RING_STEP = 2
#: Fewer inliers than this: the fit keeps every pixel.
MIN_PIXELS = 64
#: The pull of the gain terms towards gain 1 (and of the offset terms
#: towards 0), per pixel, relative to one grey level squared of misfit.
GAIN_PRIOR, OFFSET_PRIOR = 1.0, 1e-6
#: The maps are evaluated on a grid of this side, then resized to the view.
MAP_SIDE = 64


def _basis(u: np.ndarray, v: np.ndarray, degree: int) -> np.ndarray:
    """The monomials u^i v^j, i + j <= degree, of positions u, v in [-1, 1]: (n, terms)."""
    return np.stack([u ** (d - j) * v ** j for d in range(degree + 1) for j in range(d + 1)], axis=1)


def _positions(index: np.ndarray, side: int = MODEL_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    ys, xs = np.divmod(index, side)
    return (xs + 0.5) * (2.0 / side) - 1.0, (ys + 0.5) * (2.0 / side) - 1.0


class Light:
    """Gain and offset fields per channel as polynomial coefficients
    ((terms, 3) each, the basis of ``_basis``), or the identity."""

    def __init__(self, gain: np.ndarray, offset: np.ndarray, degree: int, identity: bool = False):
        self.gain, self.offset, self.degree, self.identity = gain, offset, degree, identity
        self._maps = None  # type: Optional[Tuple[np.ndarray, np.ndarray]]

    def maps(self) -> Tuple[np.ndarray, np.ndarray]:
        """Gain and offset over the 512 view: float32 (512, 512, 3) each."""
        if self._maps is None:
            u, v = _positions(np.arange(MAP_SIDE * MAP_SIDE), MAP_SIDE)
            basis = _basis(u, v, self.degree)
            self._maps = tuple(cv2.resize((basis @ coef).astype(np.float32).reshape(MAP_SIDE, MAP_SIDE, 3),
                                          (MODEL_SIZE, MODEL_SIZE), interpolation=cv2.INTER_LINEAR)
                               for coef in (self.gain, self.offset))
        return self._maps

    def beyond(self, factor: float) -> bool:
        """True when a channel's mean gain over the view is above ``factor`` or below 1 / factor."""
        if self.identity:
            return False
        mean = self.maps()[0].reshape(-1, 3).mean(axis=0)
        return bool((mean > factor).any() or (mean * factor < 1.0).any())

    def apply_small(self, plane: np.ndarray, dtype: int = cv2.CV_32F) -> np.ndarray:
        """A 512 plane (uint8 or float, (512, 512, 3)) in this light: float32,
        or uint8 (rounded, saturated) with ``dtype`` cv2.CV_8U."""
        gain, offset = self.maps()
        return cv2.add(cv2.multiply(plane, gain, dtype=cv2.CV_32F), offset, dtype=dtype)

    def apply_box(self, pixels: np.ndarray, rect: Tuple[int, int, int, int]) -> np.ndarray:
        """uint8 pixels of a box of the frame in this light (rounded, saturated);
        ``rect`` (y0, y1, x0, x1): the part of the 512 view the box lies in."""
        y0, y1, x0, x1 = rect
        size = (pixels.shape[1], pixels.shape[0])
        gain, offset = (cv2.resize(m[y0:y1, x0:x1], size, interpolation=cv2.INTER_LINEAR) for m in self.maps())
        return cv2.add(cv2.multiply(pixels, gain, dtype=cv2.CV_32F), offset, dtype=cv2.CV_8U)


#: The light of two equal frames.
IDENTITY = Light(np.eye(1, 1).repeat(3, axis=1), np.zeros((1, 3)), 0, identity=True)


class LightModel:
    """Where and how the light is fitted: the known pixels of the 512 view
    within ``ring`` pixels of the hole (``any_hole``: 512 pixels holding
    hole pixels; ``known``: those the network sees) and those of a sparse
    grid; gain and offset polynomials of ``degree``; pixels missed by more
    than ``outlier`` grey levels by the first fit are left out."""

    def __init__(self, any_hole: np.ndarray, known: np.ndarray, degree: int, ring: int, outlier: float):
        near = cv2.dilate(any_hole.astype(np.uint8), np.ones((2 * ring + 1,) * 2, np.uint8)) != 0
        ring_pixels = np.flatnonzero(near & known & (any_hole == 0))[::RING_STEP]
        grid = np.zeros_like(known)
        grid[::GRID_STEP, ::GRID_STEP] = known[::GRID_STEP, ::GRID_STEP]
        self.index = np.union1d(ring_pixels, np.flatnonzero(grid))
        self.degree = degree
        self.basis = _basis(*_positions(self.index), degree)
        self.outlier = float(outlier)

    def fit(self, reference: np.ndarray, current: np.ndarray) -> Light:
        """The light that maps ``reference``'s colours to ``current``'s (uint8 512 views)."""
        x = reference.reshape(-1, 3)[self.index]
        y = current.reshape(-1, 3)[self.index]
        if len(x) < MIN_PIXELS or np.array_equal(x, y):
            return IDENTITY
        x, y = x.astype(np.float64), y.astype(np.float64)
        weights = np.ones(len(x))
        gain, offset = self._solve(x, y, weights)
        predicted = x * (self.basis @ gain) + self.basis @ offset
        inliers = np.abs(y - predicted).max(axis=1) <= self.outlier
        if np.count_nonzero(inliers) >= MIN_PIXELS and not inliers.all():
            gain, offset = self._solve(x, y, inliers.astype(np.float64))
        return Light(gain, offset, self.degree)

    def _solve(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Weighted least squares per channel of y = (basis @ g) x + basis @ o,
        g pulled towards 1 (its constant term) and the rest towards 0: the
        three channels' normal equations at once."""
        terms = self.basis.shape[1]
        n = weights.sum()
        basis = np.broadcast_to(self.basis, (3,) + self.basis.shape)
        design = np.concatenate([basis * x.T[:, :, None], basis], axis=2)  # (3, pixels, 2 terms)
        weighted = design * weights[None, :, None]
        normal = weighted.transpose(0, 2, 1) @ design
        normal += np.diag([GAIN_PRIOR * n] * terms + [OFFSET_PRIOR * n] * terms)
        right = weighted.transpose(0, 2, 1) @ y.T[:, :, None]
        right[:, 0, 0] += GAIN_PRIOR * n
        theta = np.linalg.solve(normal, right)[:, :, 0]  # (3, 2 terms)
        return theta[:, :terms].T.copy(), theta[:, terms:].T.copy()
