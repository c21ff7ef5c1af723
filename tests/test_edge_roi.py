"""ROI mode: crop geometry and an exact paste-back."""
from contextlib import nullcontext

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter
from edge_app.errors import InpaintWarning
from edge_app.roi import choose_crop, crop_box, hole_box


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("roi") / "fake.onnx")


def test_crop_geometry():
    hole = np.zeros((1000, 1500), np.uint8)
    hole[400:450, 700:800] = 1
    assert hole_box(hole) == (400, 450, 700, 800)
    assert hole_box(np.zeros((5, 5), np.uint8)) is None
    # 3 x the longer side (300) is below the minimum: a 512 square centred on the box
    assert crop_box(hole.shape, (400, 450, 700, 800), 3.0, 512) == (169, 681, 494, 1006)
    # near a corner the square moves inside the frame instead of shrinking
    assert crop_box(hole.shape, (0, 20, 1480, 1500), 3.0, 512) == (0, 512, 988, 1500)
    # a big box: growth wins, clipped to the frame's height
    assert crop_box(hole.shape, (300, 700, 600, 900), 3.0, 512) == (0, 1000, 150, 1350)


def test_choose_crop_modes():
    hole = np.zeros((2000, 3000), np.uint8)
    hole[900:960, 1400:1500] = 1
    assert choose_crop("off", hole, 3.0, 512, 0.25) is None
    assert choose_crop("auto", hole, 3.0, 512, 0.25) == choose_crop("on", hole, 3.0, 512, 0.25)
    big = np.zeros_like(hole)
    big[200:1600, 500:2500] = 1
    assert choose_crop("auto", big, 3.0, 512, 0.25) is None
    assert choose_crop("on", big, 3.0, 512, 0.25) is None  # the crop would be the whole frame
    wide = np.zeros_like(hole)
    wide[900:1000, 1000:1400] = 1  # crop 1200 x 1200: 24 % of the frame
    assert choose_crop("auto", wide, 3.0, 512, 0.25) is not None
    assert choose_crop("auto", wide, 3.0, 512, 0.2) is None


def test_paste_back_leaves_everything_outside_the_crop_bit_identical(model):
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (1600, 1200),
                       interpolation=cv2.INTER_CUBIC)
    image = np.clip(image.astype(int) + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((1200, 1600), np.uint8)
    cv2.ellipse(mask, (1100, 300), (60, 40), 30, 0, 360, 255, -1)
    with Inpainter(model=model, backend="onnxruntime", roi="on") as roi_on, \
            Inpainter(model=model, backend="onnxruntime", roi="off") as roi_off:
        out = roi_on(image, mask)
        y0, y1, x0, x1 = crop_box(mask.shape, hole_box(mask), 3.0, 512)
        outside = np.ones(mask.shape, bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(out[outside], image[outside])
        assert (out != image).any(axis=2)[mask != 0].mean() > 0.5
        # the crop holds exactly what running on the crop alone gives
        alone = roi_off(np.ascontiguousarray(image[y0:y1, x0:x1]), mask[y0:y1, x0:x1])
        assert np.array_equal(out[y0:y1, x0:x1], alone)
        whole = roi_off(image, mask)
        assert not np.array_equal(whole, out)  # the network really saw something else


@pytest.mark.parametrize("min_known,step", [(1.0, 2), (0.5, 4)])
def test_hole_leaving_no_known_512_pixel_is_an_error(model, min_known, step):
    """1.0 (any hole pixel makes a 512 hole): every other row a hole is
    enough; 0.5: one known pixel in 4 x 4 leaves every 512 pixel a hole."""
    from edge_app.errors import InpaintError
    image = np.full((1024, 1024, 3), 128, np.uint8)
    hole = np.ones((1024, 1024), np.uint8)
    if step == 2:
        hole[1::2] = 0
    else:
        hole[::step, ::step] = 0
    # one known pixel in 16 leaves a 94 % hole: said before the error
    said = pytest.warns(InpaintWarning, match="mask marks 94% of the image") if step == 4 else nullcontext()
    with Inpainter(model=model, backend="onnxruntime", min_known=min_known) as inpainter:
        with pytest.raises(InpaintError, match="nothing left to borrow from"), said:
            inpainter(image, hole)
