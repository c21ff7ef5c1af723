"""edge_app reading conventions and the checks of bad input."""
import struct
import warnings

import cv2
import numpy as np
import pytest

from edge_app import fileio, masks
from edge_app.errors import InpaintError, InpaintWarning
from edge_app.preprocess import small_hole


def exif_orientation_segment(orientation: int) -> bytes:
    """An APP1 Exif segment holding only the Orientation tag (big-endian TIFF)."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff + ifd
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def write_jpeg_with_orientation(path, image, orientation):
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = data.tobytes()
    path.write_bytes(data[:2] + exif_orientation_segment(orientation) + data[2:])


def test_jpeg_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (0, 0, 255)  # left half red
    stored[:, 20:] = (255, 0, 0)  # right half blue
    path = tmp_path / "rotated.jpg"
    write_jpeg_with_orientation(path, stored, 6)  # 6: rotate 90 degrees clockwise to display
    image = fileio.read_image(str(path))
    assert image.shape == (40, 20, 3)
    expected = cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE)  # the left half becomes the top
    assert np.abs(image.astype(int) - expected).mean() < 4
    assert image[2, 10, 2] > 200 and image[37, 10, 0] > 200
    # a JPEG mask drawn on the displayed photo lines up with it too
    mask_stored = np.zeros((20, 40), np.uint8)
    mask_stored[:, :10] = 255
    mpath = tmp_path / "mask.jpg"
    write_jpeg_with_orientation(mpath, cv2.cvtColor(mask_stored, cv2.COLOR_GRAY2BGR), 6)
    hole = masks.hole_from_file_array(fileio.read_mask_file(str(mpath)), "white-hole")
    assert hole.shape == (40, 20)
    assert np.array_equal(hole, (cv2.rotate(mask_stored, cv2.ROTATE_90_CLOCKWISE) > 127).astype(np.uint8))


def test_16_bit_grey_and_bgra_images(tmp_path):
    deep = np.array([[0, 257, 32896], [65535, 128, 1000]], np.uint16)
    colour = np.dstack([deep, deep // 2, deep // 4])
    cv2.imwrite(str(tmp_path / "deep.png"), colour)
    image = fileio.read_image(str(tmp_path / "deep.png"))
    assert image.dtype == np.uint8 and image.shape == (2, 3, 3)
    assert image[..., 0].tolist() == [[0, 1, 128], [255, 0, 4]]
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    image = fileio.read_image(str(tmp_path / "grey.png"))
    assert image.shape == (3, 4, 3) and all(np.array_equal(image[..., c], grey) for c in range(3))
    bgra = np.zeros((5, 6, 4), np.uint8)
    bgra[..., :3] = (10, 20, 30)
    bgra[..., 3] = 7
    cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    image = fileio.read_image(str(tmp_path / "bgra.png"))
    assert image.shape == (5, 6, 3) and (image == (10, 20, 30)).all()


def _mask_file(tmp_path, name, array):
    path = tmp_path / name
    cv2.imwrite(str(path), array)
    return fileio.read_mask_file(str(path))


def test_mask_conventions(tmp_path):
    white = np.zeros((8, 10), np.uint8)
    white[2:5, 3:7] = 255
    raw = _mask_file(tmp_path, "white.png", white)
    assert np.array_equal(masks.hole_from_file_array(raw, "white-hole"), (white > 0).astype(np.uint8))
    # the Ascend sample's masks: white = keep, black = hole
    raw = _mask_file(tmp_path, "keep.png", 255 - white)
    assert np.array_equal(masks.hole_from_file_array(raw, "keep-white"), (white > 0).astype(np.uint8))
    # colour masks are greyed; 16-bit masks scaled first
    raw = _mask_file(tmp_path, "colour.png", cv2.merge([white, white, white]))
    assert np.array_equal(masks.hole_from_file_array(raw, "white-hole"), (white > 0).astype(np.uint8))
    raw = _mask_file(tmp_path, "deep.png", white.astype(np.uint16) * 257)
    assert np.array_equal(masks.hole_from_file_array(raw, "white-hole"), (white > 0).astype(np.uint8))
    with pytest.raises(ValueError):
        masks.hole_from_file_array(raw, "guess")
    # read_hole: the file read and interpreted in one step, by the same rules
    cv2.imwrite(str(tmp_path / "keep_file.png"), 255 - white)
    assert np.array_equal(masks.read_hole(str(tmp_path / "keep_file.png"), "keep-white"), (white > 0).astype(np.uint8))
    assert np.array_equal(masks.read_hole(str(tmp_path / "keep_file.png")), (white == 0).astype(np.uint8))


def test_alpha_masks_use_transparency(tmp_path):
    rgba = np.full((6, 9, 4), 255, np.uint8)  # white everywhere: only the alpha tells
    rgba[1:4, 2:5, 3] = 0
    raw = _mask_file(tmp_path, "alpha.png", rgba)
    assert raw.shape == (6, 9, 4)
    expected = np.zeros((6, 9), np.uint8)
    expected[1:4, 2:5] = 1
    for convention in ("white-hole", "keep-white"):
        assert np.array_equal(masks.hole_from_file_array(raw, convention), expected)
    # a fully opaque alpha channel carries no information: the colour is read
    opaque = np.zeros((6, 9, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[2:4, 2:4, :3] = 255
    raw = _mask_file(tmp_path, "opaque.png", opaque)
    assert masks.hole_from_file_array(raw, "white-hole").sum() == 4


def test_jpeg_masks_are_thresholded(tmp_path):
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 20:40] = 255
    noisy = np.clip(mask.astype(int) + rng.integers(-60, 60, mask.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "m.jpg"), noisy, [cv2.IMWRITE_JPEG_QUALITY, 60])
    raw = fileio.read_mask_file(str(tmp_path / "m.jpg"))
    assert len(np.unique(raw)) > 2  # really not binary
    hole = masks.hole_from_file_array(raw, "white-hole")
    assert set(np.unique(hole)) <= {0, 1}
    assert (hole == (mask > 0)).mean() > 0.97


def test_unreadable_files(tmp_path):
    with pytest.raises(InpaintError, match="file not found"):
        fileio.read_image(str(tmp_path / "missing.png"))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(InpaintError) as err:
        fileio.read_image(str(junk))
    assert str(junk) in str(err.value) and "cannot read" in str(err.value)
    with pytest.raises(InpaintError, match="cannot read"):
        fileio.read_mask_file(str(junk))


def test_pair_checks():
    image = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(InpaintError, match="mask is 50x40 but the image is 60x40") as err:
        masks.check_pair(image, np.zeros((40, 50), np.uint8), mask_path="m.png")
    assert str(err.value).startswith("m.png: ")
    with pytest.raises(InpaintError, match="nothing left to borrow from"):
        masks.check_pair(image, np.ones((40, 60), np.uint8))
    with pytest.warns(InpaintWarning, match="empty"):
        assert masks.check_pair(image, np.zeros((40, 60), np.uint8)) == 0.0
    mostly = np.ones((40, 60), np.uint8)
    mostly[:10] = 0
    with pytest.warns(InpaintWarning, match="--mask-convention keep-white"):
        masks.check_pair(image, mostly)
    with pytest.warns(InpaintWarning, match="--mask-convention white-hole"):
        masks.check_pair(image, mostly, convention="keep-white")
    small = np.zeros((40, 60), np.uint8)
    small[5:9, 5:9] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert masks.check_pair(image, small) == pytest.approx(16 / 2400)


def test_output_path_checks(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InpaintError, match="output path is the input"):
        fileio.check_output_path(str(src), [str(src)], overwrite=True)
    with pytest.raises(InpaintError, match="output path is the input"):
        fileio.check_output_path(str(tmp_path / "." / "in.png"), [str(src)], overwrite=True)
    existing = tmp_path / "out.png"
    existing.write_bytes(b"x")
    with pytest.raises(InpaintError, match="--overwrite"):
        fileio.check_output_path(str(existing), [str(src)], overwrite=False)
    fileio.check_output_path(str(existing), [str(src)], overwrite=True)
    with pytest.raises(InpaintError, match="cannot write this image format"):
        fileio.check_output_path(str(tmp_path / "out.xyz"), [str(src)], overwrite=False)
    # a missing output folder is created when writing; one that cannot be is a clear error
    fileio.check_output_path(str(tmp_path / "new" / "o.png"), [str(src)], overwrite=False)
    with pytest.raises(InpaintError, match="cannot create the output folder"):
        fileio.write_image(str(existing / "o.png"), np.zeros((4, 4, 3), np.uint8))


@pytest.mark.parametrize("height,width", [(1000, 700), (300, 200), (512, 512), (7, 1300)])
def test_small_hole_is_any_pooling(height, width):
    rng = np.random.default_rng(1)
    hole = (rng.random((height, width)) > 0.9995).astype(np.uint8)
    pooled = small_hole(hole)
    assert pooled.shape == (512, 512)
    for y, x in zip(*np.nonzero(hole)):  # every hole pixel marks the 512 pixels it overlaps
        assert pooled[int(y * 512 // height), int(x * 512 // width)] == 1
    expected_area = cv2.resize(hole.astype(np.float32), (512, 512), interpolation=cv2.INTER_AREA) > 0
    if height >= 512 and width >= 512:
        assert np.array_equal(pooled.astype(bool), expected_area)
