"""Frames of every size from 1 x 1 to 80 x 80 pixels, through the Inpainter and the CLI.

Each height from 1 to 80 with a square frame and one a column wider (so
both parities of both sides), a hole of one pixel and one of all but the
first row (or column): the hole is filled from the known pixels and the
pixels away from it come back bit-identical. (The CRA plan once failed with
a cv2.error on frames whose grid had 1 x 1 pixel cells: most sizes below 64.)
"""
import warnings

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import AppConfig, Inpainter, masks
from edge_app.cli import main
from edge_app.errors import InpaintError

SIZES = [(h, w) for h in range(1, 81) for w in (h, h + 1)]
FEATHER = AppConfig.blend_feather


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A fake HiFill whose fill is the mean of the known pixels: it fills a hole of any size."""
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("small") / "mean.onnx", fill="mean")


@pytest.fixture(scope="module")
def inpainter(model):
    with Inpainter(model=model, backend="onnxruntime") as inpainter:
        yield inpainter


def hole_of(kind, height, width):
    """uint8 (H, W): one pixel in the middle, or all but the first row (first column for one row)."""
    hole = np.zeros((height, width), np.uint8)
    if kind == "one":
        hole[height // 2, width // 2] = 1
    elif height > 1:
        hole[1:] = 1
    else:
        hole[:, 1:] = 1
    return hole


def frame_of(hole, seed):
    """Texture 90..110 on the known pixels, 0 in the hole (what the result must not show)."""
    image = np.random.default_rng(seed).integers(90, 111, hole.shape + (3,), dtype=np.uint8)
    image[hole != 0] = 0
    return image


def check_result(out, image, hole):
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[hole != 0].min() >= 70 and out[hole != 0].max() <= 130  # filled from the known pixels
    near = cv2.dilate(hole, np.ones((2 * FEATHER + 3,) * 2, np.uint8)) != 0
    assert np.array_equal(out[~near], image[~near])


def inpaint_noting(inpainter, image, hole):
    """(result, the notes warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = inpainter(image, hole)
    return out, [str(w.message) for w in caught]


@pytest.mark.parametrize("height,width", SIZES, ids=["{}x{}".format(w, h) for h, w in SIZES])
def test_every_small_size_is_inpainted(inpainter, height, width):
    for kind in ("one", "most"):
        hole = hole_of(kind, height, width)
        if hole.all():  # 1 x 1: a one-pixel hole is the whole frame
            with pytest.raises(InpaintError, match="covers the whole image"):
                inpainter(frame_of(hole, 0), hole)
            continue
        image = frame_of(hole, height * 100 + width)
        out, notes = inpaint_noting(inpainter, image, hole)
        if not hole.any():  # 1 x 1: all but the first column is nothing
            assert np.array_equal(out, image) and notes == [masks.MASK_EMPTY]
            continue
        check_result(out, image, hole)
        inverted = hole.mean() > AppConfig.inverted_mask_fraction
        assert len(notes) == int(inverted) and all("inverted" in n for n in notes)


@pytest.mark.parametrize("height,width", SIZES, ids=["{}x{}".format(w, h) for h, w in SIZES])
def test_every_small_size_through_the_cli(tmp_path, model, capsys, height, width):
    """One hole a size, the kind alternating so each parity of each side meets both."""
    kind = ("one", "most")[(height + (width != height)) % 2]
    hole = hole_of(kind, height, width)
    image = frame_of(hole, height * 100 + width)
    cv2.imwrite(str(tmp_path / "frame.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), hole * np.uint8(255))
    code = main(["inpaint", str(tmp_path / "frame.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.png"),
                 "--model", model])
    err = capsys.readouterr().err
    if hole.all():
        assert code == 2 and err.strip().splitlines() == ["error: {}: mask covers the whole image: nothing left "
                                                          "to borrow from".format(tmp_path / "mask.png")]
        return
    assert code == 0, err
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    if not hole.any():  # 1 x 1: all but the first column is nothing
        assert np.array_equal(out, image) and "mask is empty" in err
        return
    check_result(out, image, hole)
