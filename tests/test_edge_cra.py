"""edge_app.cra.compose against a dense implementation of spec hifill.md 6."""
import os

import cv2
import numpy as np
import pytest

from edge_app import cra
from edge_app.cra import CraPlan, compose, prune_rows, sharpen_rows, terms
from edge_app.preprocess import small_hole, small_image

FLOOR = 1.0 / 512


def dense_reference(image, hole, inpainted, attention, blend, floor=FLOOR, feather=3, small=None):
    """Spec section 6 at native size, written the obvious way: full-frame
    float residual, all 1024 x 1024 weights, cells with edges k * H // 32 and
    patches of the largest cell size from each cell's corner (edge-padded);
    the blend is the upsampled 512 mask capped by twice the hole's share of
    the (2 feather + 1)^2 box around each pixel. ``small``: the 512 image the
    network saw (default: the frame area-resampled)."""
    height, width = hole.shape
    ys, xs = np.arange(33) * height // 32, np.arange(33) * width // 32
    ph, pw = np.diff(ys).max(), np.diff(xs).max()
    if small is None:
        small = cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    up_small = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    frame = image.astype(np.float64)
    residual = (frame - up_small) * (hole == 0)[..., None]
    padded = np.pad(residual, ((0, ph), (0, pw), (0, 0)), mode="edge")
    patches = np.stack([padded[ys[j]:ys[j] + ph, xs[i]:xs[i] + pw] for j in range(32) for i in range(32)])
    agg = (attention.reshape(1024, 1024).astype(np.float64) @ patches.reshape(1024, -1)).reshape(patches.shape)
    result = cv2.resize(inpainted, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    for j in range(32):
        for i in range(32):
            h, w = ys[j + 1] - ys[j], xs[i + 1] - xs[i]
            result[ys[j]:ys[j + 1], xs[i]:xs[i + 1]] += agg[j * 32 + i, :h, :w]
    result = np.clip(result, 0, 255)
    soft = np.clip(cv2.resize(blend, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1).astype(np.float64)
    box = cv2.blur((hole != 0).astype(np.float64), (2 * feather + 1, 2 * feather + 1),
                   borderType=cv2.BORDER_REPLICATE)
    soft = np.minimum(soft, np.minimum(2.0 * box, 1.0))
    soft[hole != 0] = 1.0
    out = np.rint(result * soft[..., None] + frame * (1 - soft[..., None]))
    return np.where((soft > floor)[..., None], out, image).astype(np.uint8), soft


def make_case(height, width, seed=0, peaked=True):
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC).astype(np.int16)
    image = np.clip(base + rng.integers(-30, 30, (height, width, 3)), 0, 255).astype(np.uint8)
    hole = np.zeros((height, width), np.uint8)
    cv2.ellipse(hole, (width // 3, height // 2), (max(1, width // 6), max(1, height // 5)), 20, 0, 360, 1, -1)
    cv2.line(hole, (0, height - 1), (width - 1, height // 3), 1, max(1, min(height, width) // 40))
    inpainted = cv2.GaussianBlur(rng.uniform(0, 255, (512, 512, 3)).astype(np.float32), (0, 0), 4)
    logits = rng.normal(0, 6 if peaked else 0.3, (1024, 1024))
    valid = small_hole(hole, 32).reshape(-1) == 0
    logits[:, ~valid] = -np.inf
    attention = np.exp(logits - logits.max(1, keepdims=True))
    attention = (attention / attention.sum(1, keepdims=True)).astype(np.float32)
    m512 = small_hole(hole).astype(np.float32)
    blend = np.maximum(cv2.GaussianBlur(m512, (7, 7), 1), m512)
    return image, hole, inpainted, attention, blend


@pytest.mark.parametrize("height,width,peaked", [
    (200, 300, True), (300, 200, False), (300, 2000, True), (31, 47, True), (545, 97, False), (512, 512, True),
])
def test_compose_matches_dense_reference(height, width, peaked):
    image, hole, inpainted, attention, blend = make_case(height, width, peaked=peaked)
    expected, soft = dense_reference(image, hole, inpainted, attention, blend)
    exact = compose(image, hole, inpainted, attention, blend, prune_mass=0.0)
    assert exact.shape == image.shape and exact.dtype == np.uint8
    assert np.abs(exact.astype(int) - expected).max() <= 1
    # the default pruning drops attention worth at most 1/1024: still within a grey level
    pruned = compose(image, hole, inpainted, attention, blend)
    assert np.abs(pruned.astype(int) - expected).max() <= 1
    # something really happened inside the hole, and nothing where soft = 0
    assert (exact != image).any(axis=2)[hole != 0].mean() > 0.5
    untouched = (soft <= FLOOR / 2) & (hole == 0)
    assert untouched.any()
    assert np.array_equal(exact[untouched], image[untouched])


@pytest.mark.parametrize("feather", [0, 1, 3, 60])
def test_blend_follows_the_native_hole(feather):
    """The soft edge is the native hole's own: known pixels more than
    ``feather`` pixels from it come back bit-identical, though the
    upsampled 512 mask reaches beyond them (60 px: wider than that mask,
    whose own edge then holds)."""
    image, hole, inpainted, attention, blend = make_case(1200, 2000, seed=9)
    expected, soft = dense_reference(image, hole, inpainted, attention, blend, feather=feather)
    out = compose(image, hole, inpainted, attention, blend, prune_mass=0.0, feather=feather)
    assert np.abs(out.astype(int) - expected).max() <= 1
    dist = cv2.distanceTransform((hole == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    far = dist > feather * 2 ** 0.5 + 1  # outside every (2 feather + 1)^2 box that holds a hole pixel
    up_blend = cv2.resize(blend, (2000, 1200), interpolation=cv2.INTER_LINEAR)
    if feather <= 3:
        assert (far & (up_blend > 0.05)).any()  # where the 512 mask alone would have blended
    assert np.array_equal(out[far], image[far])
    if feather:
        ring = (dist > 0) & (dist <= max(1.0, feather / 2)) & (up_blend > 0.99)
        assert ring.any() and (soft[ring] > 0.4).all()


@pytest.mark.parametrize("dense_fraction", [0.0, 2.0])
def test_product_paths_agree(monkeypatch, dense_fraction):
    """0.0: every chunk one matrix product; 2.0: every term accumulated alone."""
    monkeypatch.setattr(terms, "DENSE_FRACTION", dense_fraction)
    image, hole, inpainted, attention, blend = make_case(150, 260, seed=7)
    expected, _ = dense_reference(image, hole, inpainted, attention, blend)
    out = compose(image, hole, inpainted, attention, blend, prune_mass=0.0)
    assert np.abs(out.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("height,width", [(200, 300), (545, 97), (270, 480), (64, 1000)])
def test_per_term_path_with_attention_on_hole_and_edge_patches(monkeypatch, height, width):
    """Peaked rows that also weigh patches holding hole pixels or clamped at
    the frame's edge (their own residual) next to clean ones (summed at 512
    rows, by y-weight form: several forms when the height is not a multiple
    of 32)."""
    monkeypatch.setattr(terms, "DENSE_FRACTION", 2.0)
    image, hole, inpainted, _, blend = make_case(height, width, seed=11)
    logits = np.random.default_rng(2).normal(0, 4, (1024, 1024))
    attention = np.exp(logits - logits.max(1, keepdims=True))
    attention = (attention / attention.sum(1, keepdims=True)).astype(np.float32)
    plan = CraPlan(hole, blend)
    weights = prune_rows(attention[plan.cell_ids], 1e-3)
    used = np.flatnonzero(weights.any(axis=0))
    assert (~plan.clean[used]).any() and plan.clean[used].any()
    expected, _ = dense_reference(image, hole, inpainted, attention, blend)
    out = compose(image, hole, inpainted, attention, blend, prune_mass=1e-3)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_clean_patches_hold_no_hole_pixel_and_stay_in_the_frame():
    image, hole, _, _, blend = make_case(545, 97, seed=3)
    plan = CraPlan(hole, blend)
    height, width = hole.shape
    for cell in np.flatnonzero(plan.clean):
        j, i = divmod(cell, 32)
        y, x = plan.ys[j], plan.xs[i]
        assert y + plan.ph <= height and x + plan.pw <= width
        assert not hole[y:y + plan.ph, x:x + plan.pw].any()
    assert plan.clean.mean() > 0.5
    assert len(set(plan.form)) > 1  # 545 rows: cells of 17 and 18 rows


def test_blend_above_one_is_capped_after_upsampling():
    """A blend output over 1 (not a sigmoid's) is capped at native size, as
    the reference does, not before upsampling (the plan skips the cap only
    when the 512 blend never exceeds 1)."""
    image, hole, inpainted, attention, blend = make_case(300, 410, seed=5)
    blend = blend * 1.6
    expected, _ = dense_reference(image, hole, inpainted, attention, blend)
    out = compose(image, hole, inpainted, attention, blend, prune_mass=0.0)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_outside_the_soft_mask_is_bit_identical():
    image, hole, inpainted, attention, blend = make_case(480, 640, seed=3)
    saved = image.copy()
    out = compose(image, hole, inpainted, attention, blend)
    soft = cv2.resize(blend, (640, 480), interpolation=cv2.INTER_LINEAR)
    outside = (soft == 0) & (hole == 0)
    assert outside.mean() > 0.3
    assert np.array_equal(out[outside], saved[outside])
    assert (out != saved).any(axis=2)[hole != 0].mean() > 0.5  # the hole did change ...
    assert np.array_equal(image, saved)  # ... in the output only: the input is never modified


def test_attention_layouts_and_batch_axes_are_equivalent():
    image, hole, inpainted, attention, blend = make_case(130, 170, seed=1)
    a = compose(image, hole, inpainted, attention, blend)
    b = compose(image, hole != 0, inpainted[None], attention.reshape(1, 32, 32, 1024), blend[None, :, :, None])
    assert np.array_equal(a, b)


def test_no_cra_is_plain_bilinear_upsampling():
    image, hole, inpainted, attention, blend = make_case(240, 320, seed=2)
    out = compose(image, hole, inpainted, None, blend)
    zero = np.zeros_like(attention)
    expected, _ = dense_reference(image, hole, inpainted, zero, blend)
    assert np.abs(out.astype(int) - expected).max() <= 1
    # CRA adds the borrowed detail: the results differ inside the hole
    with_cra = compose(image, hole, inpainted, attention, blend)
    assert (with_cra != out).any(axis=2)[hole != 0].mean() > 0.5


def test_empty_hole_and_zero_blend_return_the_image():
    image, hole, inpainted, attention, _ = make_case(64, 80)
    empty = np.zeros_like(hole)
    out = compose(image, empty, inpainted, attention, np.zeros((512, 512), np.float32))
    assert np.array_equal(out, image) and out is not image


def test_default_threads_only_for_large_cells():
    assert cra.default_threads(2160, 3840) == 1
    assert cra.default_threads(4320, 7680) == max(1, min(4, os.cpu_count() or 1))


def test_prune_rows_bounds_the_dropped_mass():
    rng = np.random.default_rng(0)
    w = rng.random((50, 1024)).astype(np.float32) ** 6
    w /= w.sum(1, keepdims=True)
    pruned = prune_rows(w, 1e-3)
    dropped = w.sum(1) - pruned.sum(1)
    assert (dropped <= 1e-3 + 1e-6).all() and (dropped > 0).all()
    assert (np.count_nonzero(pruned, axis=1) < 1024).all()
    assert np.array_equal(prune_rows(w, 0.0), w)


def test_sharpen_rows_is_the_softmax_of_scaled_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (20, 1024))
    logits[:, :100] = -np.inf  # keys touching the hole
    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    w = softmax(logits).astype(np.float32)
    w[3] = 0.0  # a row with no usable key
    for power in (0.5, 2.0, 3.0):
        expected = softmax(power * logits)
        expected[3] = 0.0
        got = sharpen_rows(w, power)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-6)
        assert not got[:, :100].any() and not got[3].any()
    assert sharpen_rows(w, 1.0) is w
    with pytest.raises(ValueError, match="> 0"):
        sharpen_rows(w, 0.0)


def test_sharpen_rows_does_not_underflow():
    w = np.full((2, 1024), 1e-30, np.float32)
    w[:, 7] = 1e-28  # tiny rows (a row of a batch that lost its mass) keep their sum and argmax
    got = sharpen_rows(w, 16.0)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got.sum(1), w.sum(1), rtol=1e-5)
    assert (got.argmax(1) == 7).all()


def test_attention_power_is_the_dense_product_of_sharpened_rows():
    """compose with attention_power p is compose of the sharpened rows, and a
    sharper row brings more of one context cell's detail into the hole."""
    image, hole, inpainted, attention, blend = make_case(300, 400, peaked=False)
    sharpened = compose(image, hole, inpainted, attention, blend, attention_power=16.0, prune_mass=0.0)
    direct = compose(image, hole, inpainted, sharpen_rows(attention, 16.0), blend, prune_mass=0.0)
    assert np.array_equal(sharpened, direct)
    plain = compose(image, hole, inpainted, attention, blend, prune_mass=0.0)
    smooth = compose(image, hole, inpainted, None, blend)
    def detail(result):  # energy of the borrowed residual in the hole
        return float(np.abs(result.astype(np.float32) - smooth)[hole > 0].var())
    assert detail(sharpened) > 2 * detail(plain), (detail(sharpened), detail(plain))


def test_a_given_plan_is_used_as_it_is():
    """compose takes the caller's plan without checking it again (its owner
    keeps it valid with CraPlan.matches): a plan made with another feather
    gives that feather's result, not the feather argument's."""
    image, hole, inpainted, attention, blend = make_case(150, 200, seed=4)
    plan = CraPlan(hole, blend)
    assert plan.matches(hole, blend, 3) and not plan.matches(hole, blend * 0.5) and not plan.matches(hole, blend, 0)
    hard = CraPlan(hole, blend, feather=0)
    used = compose(image, hole, inpainted, attention, blend, plan=hard)  # feather argument: the default 3
    assert np.array_equal(used, compose(image, hole, inpainted, attention, blend, feather=0))
    assert not np.array_equal(used, compose(image, hole, inpainted, attention, blend))
    assert np.array_equal(compose(image, hole, inpainted, attention, blend, plan=plan),
                          compose(image, hole, inpainted, attention, blend))
    with pytest.raises(ValueError, match="plan is for a"):
        compose(image[:-1], hole[:-1], inpainted, attention, blend, plan=plan)


def test_matmul_hook_gets_the_whole_product_once():
    image, hole, inpainted, attention, blend = make_case(120, 160, seed=5)
    calls = []

    def matmul(a, b):
        calls.append((a.shape, b.shape))
        return a @ b

    out = compose(image, hole, inpainted, attention, blend, matmul=matmul)
    assert len(calls) == 1 and calls[0][0][1] == calls[0][1][0]
    assert np.abs(out.astype(int) - compose(image, hole, inpainted, attention, blend)).max() <= 1


def test_given_small_image_and_out_array_are_used():
    """The residual is taken against the given 512 image (here not the
    frame's own area resampling), and the result is written into ``out``."""
    image, hole, inpainted, attention, blend = make_case(100, 140, seed=6)
    other = cv2.GaussianBlur(small_image(image), (0, 0), 3)
    out = image.copy()
    timings = {}
    result = compose(image, hole, inpainted, attention, blend, small=other, out=out, timings=timings,
                     prune_mass=0.0)
    assert result is out
    expected, _ = dense_reference(image, hole, inpainted, attention, blend, small=other)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert not np.array_equal(out, compose(image, hole, inpainted, attention, blend, prune_mass=0.0))
    assert set(timings) == {"cra", "blend"} and all(v >= 0 for v in timings.values())


def test_bad_shapes_are_rejected():
    image, hole, inpainted, attention, blend = make_case(60, 60)
    with pytest.raises(ValueError):
        compose(image, hole[:-1], inpainted, attention, blend)
    with pytest.raises(ValueError):
        compose(image, hole, inpainted[:256], attention, blend)
    with pytest.raises(ValueError):
        compose(image, hole, inpainted, attention[:10], blend)
    with pytest.raises(ValueError, match="out must be"):
        compose(image, hole, inpainted, attention, blend, out=np.zeros((60, 60, 3), np.uint8)[:, ::2])
