"""Seams between the pieces a completion copied, blended in the gradient domain.

Neighbouring pieces of a fill come from different places of the photo, and
their shades seldom agree: copied as they are, two patches of water meet
in a straight step of a few grey levels, which a person sees at once as
a rectangle. Here the fill is solved again (Perez et al. 2003's Poisson
editing, as in Agarwala et al. 2004's photomontage) so that its gradient
is the sources' own: inside a piece the fill's own difference between
neighbours, across a seam the mean of what each side's source has there.
A step larger than SEAM_STEP (membrane.SEAM_LIMIT: structure, such as a
band's edge, not a shade) stays as it is, and the known pixels and those
next to them keep their values (the outline is membrane.remove_seam's).
Conjugate gradients on the hole's pixels, from the fill itself.
"""
from typing import Tuple

import numpy as np

from .membrane import SEAM_LIMIT

#: Steps across a seam up to this many grey levels are evened out.
SEAM_STEP = SEAM_LIMIT
#: Conjugate gradient iterations at most, and the residual (grey levels per
#: pixel, root mean square) at which it stops.
ITERATIONS = 150
TOLERANCE = 0.05


def _neighbours(hole: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 4-neighbour pairs (p, q = p + right or down) with p or q in the
    hole, as flat indices, and the step (dy, dx) of each pair."""
    h, w = hole.shape
    index = np.arange(h * w).reshape(h, w)
    ps, qs, dys, dxs = [], [], [], []
    for dy, dx in ((0, 1), (1, 0)):
        p = index[:h - dy, :w - dx]
        q = index[dy:, dx:]
        either = hole[:h - dy, :w - dx] | hole[dy:, dx:]
        ps.append(p[either])
        qs.append(q[either])
        dys.append(np.full(int(either.sum()), dy, np.intp))
        dxs.append(np.full(int(either.sum()), dx, np.intp))
    return np.concatenate(ps), np.concatenate(qs), np.concatenate(dys), np.concatenate(dxs)


def blend_seams(image: np.ndarray, hole: np.ndarray, targets: Tuple[np.ndarray, np.ndarray],
                sources: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``image`` (float32 (H, W, C), the hole filled) with the seams between
    its copied pieces evened out; ``targets`` (rows, columns) and ``sources``
    the pixel each target's patch was copied from (Completion)."""
    h, w = hole.shape
    flat = image.reshape(h * w, -1)
    # per pixel: where it was copied from (itself where it is no target)
    source = np.arange(h * w)
    source[targets[0] * w + targets[1]] = sources[0] * w + sources[1]
    p, q, dy, dx = _neighbours(hole)
    own = flat[q] - flat[p]
    sp, sq = source[p], source[q]
    # each side's source continued one pixel across (clipped at the frame)
    py, px = np.divmod(sp, w)
    qy, qx = np.divmod(sq, w)
    ahead = np.minimum(py + dy, h - 1) * w + np.minimum(px + dx, w - 1)
    behind = np.maximum(qy - dy, 0) * w + np.maximum(qx - dx, 0)
    wanted = 0.5 * ((flat[ahead] - flat[sp]) + (flat[sq] - flat[behind]))
    # the outline (a known pixel in the pair) and large steps keep the fill's own difference
    inside = hole.ravel()
    keep = ~inside[p] | ~inside[q] | (np.abs(own - wanted).max(axis=1) > SEAM_STEP)
    guide = np.where(keep[:, None], own, wanted).astype(np.float32)
    if keep.all():
        return image
    unknown = np.flatnonzero(inside)
    number = np.full(h * w, -1, np.intp)
    number[unknown] = np.arange(unknown.size)
    a, b = number[p], number[q]
    degree = (np.bincount(a[a >= 0], minlength=unknown.size) + np.bincount(b[b >= 0], minlength=unknown.size))
    degree = degree.astype(np.float32)[:, None]
    # right-hand side: sum over p's pairs of (x_p - x_q) wanted = -guide (p first) or +guide (p second),
    # with the known neighbours moved over
    rhs = np.zeros((unknown.size, flat.shape[1]), np.float32)
    np.add.at(rhs, a[a >= 0], -guide[a >= 0])
    np.add.at(rhs, b[b >= 0], guide[b >= 0])
    np.add.at(rhs, a[(a >= 0) & (b < 0)], flat[q[(a >= 0) & (b < 0)]])
    np.add.at(rhs, b[(b >= 0) & (a < 0)], flat[p[(b >= 0) & (a < 0)]])
    # each unknown's unknown neighbours (the sentinel ``unknown.size``, a zero row, where none)
    both = (a >= 0) & (b >= 0)
    order = np.concatenate([a[both], b[both]])
    other = np.concatenate([b[both], a[both]])
    by = np.argsort(order, kind="stable")
    order, other = order[by], other[by]
    starts = np.searchsorted(order, order)  # first of each unknown's run: the rank within it, at most 3
    table = np.full((4, unknown.size), unknown.size, np.intp)
    table[np.arange(order.size) - starts, order] = other

    def laplacian(x: np.ndarray) -> np.ndarray:
        padded = np.vstack([x, np.zeros((1, x.shape[1]), np.float32)])
        return degree * x - padded[table[0]] - padded[table[1]] - padded[table[2]] - padded[table[3]]

    x = flat[unknown].astype(np.float32)
    r = rhs - laplacian(x)
    z = r / degree
    d = z.copy()
    rz = float((r * z).sum())
    limit = (TOLERANCE ** 2) * r.size
    for _ in range(ITERATIONS):
        if float((r * r).sum()) <= limit:
            break
        ad = laplacian(d)
        alpha = rz / max(float((d * ad).sum()), 1e-12)
        x += alpha * d
        r -= alpha * ad
        z = r / degree
        rz, previous = float((r * z).sum()), rz
        d = z + (rz / max(previous, 1e-12)) * d
    out = image.copy().reshape(h * w, -1)
    out[unknown] = x
    return out.reshape(image.shape)
