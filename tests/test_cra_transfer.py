"""CRA transfers what the attention names: the residual in a hole cell is
the weighted sum of the residuals of the context cells its attention row
picks (the method's contract, checked against residuals computed here from
the frame, not by the code under test)."""
import cv2
import numpy as np

from edge_app import cra
from edge_app.preprocess import small_image

SIDE, CELL, GRID = 1024, 32, 32  # 32 x 32 native pixels per attention cell
HOLE_CELLS = [(r, c) for r in range(12, 16) for c in range(12, 16)]


def _frame():
    """A smooth ramp with a distinct high-frequency pattern in every cell."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    base = np.stack([60 + 80 * x / SIDE, 90 + 60 * y / SIDE, 120 + 40 * (x + y) / (2 * SIDE)], -1)
    texture = rng.normal(0, 25, (SIDE, SIDE, 3)).astype(np.float32)
    image = np.clip(base + texture, 0, 255).round().astype(np.uint8)
    hole = np.zeros((SIDE, SIDE), np.uint8)
    hole[12 * CELL:16 * CELL, 12 * CELL:16 * CELL] = 1
    return image, hole


def _cell(a, r, c):
    return a[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL].astype(np.float64)


def _run(weights_for):
    """compose with the truth's 512 copy as the network's fill and the given
    rows ({hole cell: {context cell: weight}}); all other rows name cell 0."""
    image, hole = _frame()
    small = small_image(image)
    attention = np.zeros((GRID * GRID, GRID * GRID), np.float32)
    attention[:, 0] = 1.0
    for (r, c), row in weights_for.items():
        attention[r * GRID + c] = 0.0
        for (rj, cj), w in row.items():
            attention[r * GRID + c, rj * GRID + cj] = w
    blend = cv2.resize(hole.astype(np.float32), (512, 512), interpolation=cv2.INTER_AREA)
    out = cra.compose(image, hole, small.astype(np.float32), attention, blend, small=small, feather=0)
    up = cv2.resize(small.astype(np.float32), (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    residual = image.astype(np.float32) - up  # what each cell can lend
    return image, out, up, residual


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_each_hole_cell_gets_the_residual_of_the_cell_its_row_names():
    rng = np.random.default_rng(3)
    context = [(r, c) for r in range(GRID) for c in range(GRID) if not (8 <= r < 20 and 8 <= c < 20)]
    named = {cell: context[i] for cell, i in zip(HOLE_CELLS, rng.choice(len(context), len(HOLE_CELLS), False))}
    image, out, up, residual = _run({cell: {j: 1.0} for cell, j in named.items()})
    for (r, c), (rj, cj) in named.items():
        got = _cell(out, r, c) - _cell(up, r, c)
        want = _cell(residual, rj, cj)
        inside = np.abs(_cell(up, r, c) + want - 127.5) < 127  # not clipped at 0 or 255
        assert np.abs(got - want)[inside].max() <= 0.5 + 1e-4  # one rounding
        # and not any other cell's: the named one is the only match
        others = [_corr(got, _cell(residual, *o)) for o in context[:50] if o != (rj, cj)]
        assert _corr(got, want) > 0.99 and max(others) < 0.2


def test_a_row_with_two_cells_gets_their_weighted_residuals():
    a, b = (2, 3), (28, 25)
    image, out, up, residual = _run({cell: {a: 0.75, b: 0.25} for cell in HOLE_CELLS})
    want = 0.75 * _cell(residual, *a) + 0.25 * _cell(residual, *b)
    for r, c in HOLE_CELLS:
        got = _cell(out, r, c) - _cell(up, r, c)
        inside = np.abs(_cell(up, r, c) + want - 127.5) < 127
        assert np.abs(got - want)[inside].max() <= 0.5 + 1e-4


def test_a_flat_row_lends_almost_nothing():
    """Why flat attention gives smooth fills: the mean of many unrelated
    residuals has a small fraction of one residual's energy."""
    context = [(r, c) for r in range(GRID) for c in range(GRID) if not (8 <= r < 20 and 8 <= c < 20)]
    row = {j: 1.0 / len(context) for j in context}
    image, out, up, residual = _run({cell: row for cell in HOLE_CELLS})
    r, c = HOLE_CELLS[0]
    got = _cell(out, r, c) - _cell(up, r, c)
    assert got.std() < 0.1 * _cell(residual, *context[0]).std()
