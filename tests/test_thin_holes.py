"""edge_app.thin_holes: thin parts of a hole filled at native resolution."""
import cv2
import numpy as np

from edge_app.preprocess import small_hole
from edge_app.thin_holes import ThinHoles, thin_part


def test_thin_part_keeps_lines_and_drops_blobs():
    m = np.zeros((512, 512), np.uint8)
    m[100, 50:450] = 1  # a 1 px line
    m[300:302, 50:450] = 1  # a 2 px line
    m[200:240, 200:240] = 1  # a blob
    thin = thin_part(m, 3)
    assert thin[100, 50:450].all() and thin[300:302, 50:450].all()
    assert not thin[200:240, 200:240].any()
    assert not thin_part(m, 1).any()  # width below 2: nothing is thin


def _frame():
    """Two flat halves with a sharp vertical edge, a gentle ramp, a sagging
    wire across both, and a blob."""
    h, w = 1200, 2000
    x = np.arange(w, dtype=np.float32)
    image = np.zeros((h, w, 3), np.float32)
    image[:, : w // 2] = (40, 90, 160)
    image[:, w // 2:] = (200, 180, 60)
    image += (x / w * 30)[None, :, None]
    image = image.astype(np.uint8)
    hole = np.zeros((h, w), np.uint8)
    xs = np.linspace(0, w - 1, 50)
    ys = 400 + 300 * (xs / w) + 80 * np.sin(xs / w * np.pi)
    cv2.polylines(hole, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 1, 5)
    cv2.circle(hole, (1500, 950), 120, 1, -1)
    return image, hole


def test_a_wire_is_filled_like_navier_stokes_and_the_blob_is_left_alone():
    image, hole = _frame()
    thin = ThinHoles(hole, small_hole(hole), width=7)
    assert thin
    wire = thin.mask != 0
    assert wire.sum() > 0.9 * hole[:, :1300].sum()  # the wire, away from the blob
    assert not wire[900:1000, 1450:1550].any()  # not the blob's inside
    composed = image.copy()
    composed[hole != 0] = 128  # what a blurry fill of the hole might be
    out = composed.copy()
    thin.fill(image, out)
    ns = cv2.inpaint(image, hole * 255, 3, cv2.INPAINT_NS)
    err = np.abs(out.astype(int) - image)[wire].mean()
    err_ns = np.abs(ns.astype(int) - image)[wire].mean()
    assert err <= err_ns + 0.5 and err < 0.2 * np.abs(composed.astype(int) - image)[wire].mean()
    # the edge is continued: wire pixels left and right of it keep their side's colour
    row = int(np.flatnonzero(hole[:, 990])[2])
    assert np.abs(out[row, 980].astype(int) - image[row, 980]).max() <= 6
    assert np.abs(out[row, 1020].astype(int) - image[row, 1020]).max() <= 6
    # the blob keeps the composed fill; known pixels near the wire are the original ones
    assert (out[950, 1500] == 128).all()
    near = cv2.dilate(hole, np.ones((7, 7), np.uint8)).astype(bool) & (hole == 0)
    near[800:1100, 1350:1650] = False
    assert np.array_equal(out[near], image[near])


def test_tiles_only_change_the_result_at_their_seams():
    image, hole = _frame()
    composed = image.copy()
    composed[hole != 0] = 128
    one, tiled = composed.copy(), composed.copy()
    ThinHoles(hole, small_hole(hole), width=7, tile=4096).fill(image, one)
    ThinHoles(hole, small_hole(hole), width=7, tile=200).fill(image, tiled)
    diff = np.abs(one.astype(int) - tiled)[hole != 0]
    assert diff.mean() < 0.5 and (diff > 8).mean() < 0.01


def test_nothing_thin_nothing_done():
    image, hole = _frame()
    blob = np.zeros_like(hole)
    cv2.circle(blob, (1000, 600), 200, 1, -1)
    thin = ThinHoles(blob, small_hole(blob), width=7)
    assert not thin and thin.mask is None
    out = image.copy()
    thin.fill(image, out)
    assert np.array_equal(out, image)


def test_the_inpainter_fills_thin_parts_after_cra_and_leaves_the_rest():
    from edge_app.pipeline import Inpainter
    image, hole = _frame()
    with Inpainter(thin_width=0) as off, Inpainter() as on:
        plain = off(image, hole)
        thin_out = on(image, hole)
    thin = ThinHoles(hole, small_hole(hole), width=on.config.thin_width)
    wire = thin.mask != 0
    assert np.array_equal(thin_out[~thin.written], plain[~thin.written])
    err = np.abs(thin_out.astype(int) - image)[wire].mean()
    err_plain = np.abs(plain.astype(int) - image)[wire].mean()
    assert err < 0.8 * err_plain
