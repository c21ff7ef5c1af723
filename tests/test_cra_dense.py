"""CRA through the completion's field of sources (edge_app.cra.dense)."""
import cv2
import numpy as np

from edge_app.completion import Completion
from edge_app.completion.patchmatch import Level
from edge_app.cra import CraPlan
from edge_app.cra import dense
from edge_app.cra.dense import SourceField, compose_dense
from edge_app.preprocess import small_hole

SIDE = 2048  # four native pixels a side per pixel of the 512 view


def _noise(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)


def _completion(image: np.ndarray, hole: np.ndarray, shift_of) -> Completion:
    """A completion whose targets copy the 512 view from ``shift_of(ty, tx)`` away."""
    small = cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA).astype(np.float32)
    hole512 = small_hole(hole) != 0
    level = Level(hole512)
    dy, dx = shift_of(level.ty, level.tx)
    sy, sx = level.ty + dy, level.tx + dx
    assert level.valid[sy, sx].all()
    filled = small.copy()
    filled[level.ty, level.tx] = small[sy, sx]
    return Completion(filled, level, (sy, sx))


def _compose(image, hole, completion, detail=True):
    blend = cv2.resize(hole.astype(np.float32), (512, 512), interpolation=cv2.INTER_AREA)
    plan = CraPlan(hole, np.minimum(blend * 4, 1.0), feather=3)
    out = image.copy()
    return compose_dense(image, SourceField(completion, hole.shape), plan, out, detail=detail)


def test_a_region_copied_from_one_place_is_that_place_pixel_for_pixel(monkeypatch):
    image = _noise()
    hole = np.zeros((SIDE, SIDE), np.uint8)
    hole[800:1200, 900:1300] = 1
    completion = _completion(image, hole, lambda ty, tx: (0 * ty, 0 * tx - 120))
    inner = (slice(820, 1180), slice(920, 1280))
    source = (slice(820, 1180), slice(920 - 480, 1280 - 480))
    out = _compose(image, hole, completion)
    np.testing.assert_array_equal(out[:780], image[:780])  # far from the hole: untouched
    # the detail at DETAIL_GAIN of its contrast around the view's own fill ...
    up = cv2.resize(completion.image, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    got, want = out[inner].astype(np.float32) - up[inner], image[source].astype(np.float32) - up[inner]
    assert abs(got.std() / want.std() - dense.DETAIL_GAIN) < 0.02
    # ... and at full contrast the source's own pixels
    monkeypatch.setattr(dense, "DETAIL_GAIN", 1.0)
    out = _compose(image, hole, completion)
    assert np.abs(out[inner].astype(int) - image[source].astype(int)).max() <= 1


def test_without_detail_the_fill_is_the_view_upsampled():
    image = _noise(1)
    hole = np.zeros((SIDE, SIDE), np.uint8)
    hole[800:1200, 900:1300] = 1
    completion = _completion(image, hole, lambda ty, tx: (0 * ty, 0 * tx - 120))
    out = _compose(image, hole, completion, detail=False)
    up = cv2.resize(completion.image, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    inner = (slice(820, 1180), slice(920, 1280))
    assert np.abs(out[inner].astype(np.float32) - up[inner]).max() <= 1.0


def test_where_two_sources_meet_the_detail_keeps_its_contrast():
    """Left and right halves of the hole copied from two places: across the
    meeting line the two residuals cross-fade over a 512 pixel, with the
    contrast of each (a plain mean of two unrelated grains halves their
    variance: a visible soft stripe)."""
    image = _noise(2)
    hole = np.zeros((SIDE, SIDE), np.uint8)
    hole[800:1200, 900:1300] = 1
    middle = 1100 // 4  # the meeting column at 512
    out = _compose(image, hole, _completion(image, hole, lambda ty, tx: (0 * ty, np.where(tx < middle, -120, 110))))
    column_std = out[830:1170].astype(np.float32).std(axis=(0, 2))  # the noise's contrast, column by column
    meeting = column_std[1094:1107].min()
    either_side = np.median(np.concatenate([column_std[960:1060], column_std[1140:1240]]))
    assert meeting > 0.85 * either_side, (meeting, either_side)
