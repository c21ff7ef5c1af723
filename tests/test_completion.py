"""The exemplar completion at the network's 512 view (edge_app.completion):
its pieces (patch features, coherence, membrane, seam removal) and what it
is for: a band that crosses the hole is continued, in the band's colour."""
import cv2
import numpy as np
import pytest

from edge_app.completion import complete, complete_view, pull_push, remove_seam
from edge_app.completion.patchmatch import FEATURES, PATCH, Level, make_coherent, patch_features
from edge_app.completion import patchmatch
from edge_app.completion.seams import blend_seams


def _banded(side: int = 512, seed: int = 0):
    """Sky over a dark textured band over sand, with a blob-shaped hole on the band."""
    rng = np.random.default_rng(seed)
    image = np.empty((side, side, 3), np.float32)
    image[:200] = (230, 190, 140)
    image[200:260] = (40, 80, 50)
    image[260:] = (110, 170, 190)
    image += rng.normal(0, 6, image.shape)
    image[200:260] += rng.normal(0, 14, (60, side, 1))
    hole = np.zeros((side, side), np.uint8)
    cv2.ellipse(hole, (256, 230), (70, 60), 0, 0, 360, 1, -1)
    return np.clip(image, 0, 255).astype(np.uint8), hole


def test_a_band_across_the_hole_is_continued_in_its_colour():
    image, hole = _banded()
    done = complete_view(image, hole)
    filled = done.image
    band = np.zeros_like(hole, bool)
    band[210:250] = True
    inside = (hole != 0) & band
    truth = image[inside].astype(np.float64).mean(axis=0)
    got = filled[inside].astype(np.float64).mean(axis=0)
    blend_of_all = image.reshape(-1, 3).astype(np.float64).mean(axis=0)
    assert np.abs(got - truth).max() < 12, (got, truth)
    assert np.abs(blend_of_all - truth).max() > 60  # what a fill averaging the boundary would give
    # sky stays sky above the band, sand below it
    sky = (hole != 0) & (np.arange(512)[:, None] < 195)
    assert np.abs(filled[sky].mean(axis=0) - (230, 190, 140)).max() < 12
    # known pixels are the frame's own
    np.testing.assert_array_equal(filled[hole == 0], image[hole == 0].astype(np.float32))


def test_the_fill_has_the_grain_of_its_surroundings():
    image, hole = _banded()
    filled = complete_view(image, hole).image
    inner = cv2.erode(hole, np.ones((9, 9), np.uint8)) != 0
    band = inner & (np.arange(512)[:, None] >= 205) & (np.arange(512)[:, None] < 255)

    def grain(img):
        grey = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float(cv2.Laplacian(grey, cv2.CV_32F)[band].std())

    assert grain(filled) > 0.6 * grain(image.astype(np.float32))
    smooth = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA)
    assert grain(filled) > 2 * grain(smooth.astype(np.float32))


def test_completion_is_deterministic_and_reports_what_it_borrowed():
    image, hole = _banded()
    a, b = complete_view(image, hole), complete_view(image, hole)
    np.testing.assert_array_equal(a.image, b.image)
    ty, tx = a.targets
    sy, sx = a.sources
    assert ty.size == sy.size and (hole[ty, tx] != 0).any()
    # every source is the centre of a wholly known patch
    known = cv2.erode((hole == 0).astype(np.uint8), np.ones((PATCH, PATCH), np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0)
    assert known[sy, sx].all()


def test_nothing_to_borrow_gives_none():
    image = np.full((64, 64, 3), 100, np.uint8)
    hole = np.ones((64, 64), np.uint8)
    hole[:, :3] = 0  # a strip narrower than a patch
    assert complete_view(image, hole) is None


def test_patch_features_are_an_orthonormal_part_of_the_patch():
    # the kept DCT kernels are orthonormal: feature distances never exceed patch distances
    kernels = np.stack([k.reshape(-1) for _, k in patchmatch._KERNELS])
    assert kernels.shape == (FEATURES, PATCH * PATCH)
    gram = kernels @ kernels.T
    for plane in range(3):
        rows = [i for i, (p, _) in enumerate(patchmatch._KERNELS) if p == plane]
        np.testing.assert_allclose(gram[np.ix_(rows, rows)], np.eye(len(rows)), atol=1e-5)
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (40, 40, 3)).astype(np.float32)
    f = patch_features(image)
    r = PATCH // 2
    a = image[10 - r:10 + r + 1, 12 - r:12 + r + 1]
    b = image[25 - r:25 + r + 1, 20 - r:20 + r + 1]
    feature_distance = float(((f[10, 12] - f[25, 20]) ** 2).sum())
    assert 0 < feature_distance <= float(((a - b) ** 2).sum()) + 1e-3


def test_scattered_shifts_give_way_to_their_neighbours_when_they_fit_as_well():
    rng = np.random.default_rng(2)
    tile = rng.uniform(0, 255, (16, 16, 3)).astype(np.float32)
    image = np.tile(tile, (8, 8, 1))  # 128 x 128, period 16: shifts by 16 fit exactly
    hole = np.zeros((128, 128), bool)
    hole[56:72, 56:72] = True
    level = Level(hole)
    level.index_sources(image)
    features = level.target_features(image)
    # each target copies from 32 px to the left, and scattered single ones from 48: equally good,
    # but each of those is a patch's worth of ghost in the vote
    sy = level.ty.copy()
    scattered = (level.ty % 3 == 0) & (level.tx % 3 == 0)
    sx = level.tx - np.where(scattered, 48, 32)
    sy, sx, valid = level.snap(sy, sx)
    assert valid.all()
    cost = level.distance(features, sy, sx)
    make_coherent(level, features, (sy, sx), cost)
    inner = (level.ty >= 56) & (level.ty < 72) & (level.tx >= 56) & (level.tx < 72)
    shifts = set(zip((sy - level.ty)[inner].tolist(), (sx - level.tx)[inner].tolist()))
    assert len(shifts) == 1, shifts


def test_pull_push_keeps_the_known_and_fills_a_constant_with_itself():
    values = np.full((50, 70, 3), 42.0, np.float32)
    weight = np.zeros((50, 70), np.float32)
    weight[:, :5] = weight[:, -5:] = 1.0
    values[:, -5:] = 80.0
    filled = pull_push(values, weight)
    np.testing.assert_allclose(filled[:, :5], 42.0, atol=1e-3)
    np.testing.assert_allclose(filled[:, -5:], 80.0, atol=1e-3)
    middle = filled[:, 35, 0]
    assert (middle > 45).all() and (middle < 77).all()  # between the two sides, not zero
    row = filled[25, 5:-5, 0]
    assert (np.diff(row) >= -0.5).all()  # rises from one side to the other


def test_remove_seam_matches_the_outline_and_keeps_the_detail():
    rng = np.random.default_rng(3)
    image = np.full((120, 120, 3), 100.0, np.float32)
    hole = np.zeros((120, 120), bool)
    hole[40:80, 30:90] = True
    detail = rng.normal(0, 5, (120, 120, 3)).astype(np.float32)
    seamed = image.copy()
    seamed[hole] += 30.0 + detail[hole]  # a fill 30 grey levels too bright, with grain
    fixed = remove_seam(seamed, hole)
    assert abs(float((fixed[hole] - 100.0).mean())) < 4.0
    high = lambda a: a - cv2.GaussianBlur(a, (0, 0), 2.0)  # noqa: E731
    inner = np.zeros_like(hole)
    inner[46:74, 36:84] = True
    np.testing.assert_allclose(high(fixed)[inner], high(seamed)[inner], atol=1.5)
    np.testing.assert_array_equal(fixed[~hole], seamed[~hole])


@pytest.mark.parametrize("side", [512, 200])
def test_complete_takes_any_size_and_fills_only_the_hole(side):
    image, hole = _banded()
    image = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    hole = cv2.resize(hole, (side, side), interpolation=cv2.INTER_NEAREST) != 0
    done = complete(image.astype(np.float32), hole)
    assert done.image.shape == (side, side, 3)
    np.testing.assert_array_equal(done.image[~hole], image[~hole].astype(np.float32))
    assert np.isfinite(done.image).all()


def _two_pieces(shade: float):
    """A flat frame (100) whose hole is filled from two places, the right
    half from one ``shade`` grey levels brighter: a straight seam."""
    image = np.full((80, 80, 3), 100.0, np.float32)
    image[:22, 45:] += shade  # the brighter place the right half copies
    hole = np.zeros((80, 80), bool)
    hole[30:50, 20:60] = True
    ty, tx = np.nonzero(hole)
    sy = ty - 28
    sx = np.where(tx < 40, tx - 20, tx + 10)
    filled = image.copy()
    filled[ty, tx] = image[sy, sx]
    return filled, hole, (ty, tx), (sy, sx)


def test_blend_seams_evens_out_a_shade_between_pieces():
    """As the completion runs it: the outline matched first (remove_seam),
    then the step between the pieces, which that leaves, evened out."""
    filled, hole, targets, sources = _two_pieces(12.0)
    matched = remove_seam(filled, hole)
    assert matched[40, 40, 0] - matched[40, 39, 0] > 5.0
    out = blend_seams(matched, hole, targets, sources)
    assert np.array_equal(out[~hole], filled[~hole])  # the known part as it was
    before = np.abs(matched[30:50, 40] - matched[30:50, 39]).max(axis=1)
    seam = np.abs(out[30:50, 40] - out[30:50, 39]).max(axis=1)
    # the pieces' own gradient (flat) across the seam, but next to the outline, whose pixels keep
    # their difference to the known ones (remove_seam's)
    assert seam[2:-2].max() < 0.5 and (seam < 0.3 * before).all(), seam
    steps = np.abs(np.diff(out[29:51, 19:61, 0], axis=1)), np.abs(np.diff(out[29:51, 19:61, 0], axis=0))
    assert max(s.max() for s in steps) < 3.0


def test_blend_seams_keeps_a_step_that_is_structure():
    filled, hole, targets, sources = _two_pieces(90.0)  # above SEAM_STEP: an edge, not a shade
    out = blend_seams(filled, hole, targets, sources)
    assert np.allclose(out, filled)
