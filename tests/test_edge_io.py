"""edge_app reading and writing conventions and the checks of bad input."""
import struct

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import AppConfig, fileio, masks
from edge_app.cli import main
from edge_app.errors import InpaintError, InpaintWarning
from edge_app.preprocess import known_fraction, known_small_image, majority_hole, small_hole, small_image

KEEP_WHITE = AppConfig(mask_convention="keep-white")


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
    hole = masks.hole_from_file_array(fileio.read_mask_file(str(mpath)))
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
    assert np.array_equal(masks.hole_from_file_array(raw, AppConfig()), (white > 0).astype(np.uint8))
    # the Ascend sample's masks: white = keep, black = hole
    raw = _mask_file(tmp_path, "keep.png", 255 - white)
    assert np.array_equal(masks.hole_from_file_array(raw, KEEP_WHITE), (white > 0).astype(np.uint8))
    # colour masks are greyed; 16-bit masks scaled first
    raw = _mask_file(tmp_path, "colour.png", cv2.merge([white, white, white]))
    assert np.array_equal(masks.hole_from_file_array(raw, AppConfig()), (white > 0).astype(np.uint8))
    raw = _mask_file(tmp_path, "deep.png", white.astype(np.uint16) * 257)
    assert np.array_equal(masks.hole_from_file_array(raw, AppConfig()), (white > 0).astype(np.uint8))
    with pytest.raises(ValueError):
        masks.hole_from_file_array(raw, AppConfig(mask_convention="guess"))
    # read_hole: the file read and interpreted in one step, by the same rules
    cv2.imwrite(str(tmp_path / "keep_file.png"), 255 - white)
    assert np.array_equal(masks.read_hole(str(tmp_path / "keep_file.png"), KEEP_WHITE), (white > 0).astype(np.uint8))
    assert np.array_equal(masks.read_hole(str(tmp_path / "keep_file.png")), (white == 0).astype(np.uint8))


def test_alpha_masks_use_transparency(tmp_path):
    rgba = np.full((6, 9, 4), 255, np.uint8)  # white everywhere: only the alpha tells
    rgba[1:4, 2:5, 3] = 0
    raw = _mask_file(tmp_path, "alpha.png", rgba)
    assert raw.shape == (6, 9, 4)
    expected = np.zeros((6, 9), np.uint8)
    expected[1:4, 2:5] = 1
    for convention in ("white-hole", "keep-white"):
        assert np.array_equal(masks.hole_from_file_array(raw, AppConfig(mask_convention=convention)), expected)
    # a fully opaque alpha channel holds no information: the colour is read
    opaque = np.zeros((6, 9, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[2:4, 2:4, :3] = 255
    raw = _mask_file(tmp_path, "opaque.png", opaque)
    assert masks.hole_from_file_array(raw, AppConfig()).sum() == 4


def test_jpeg_masks_are_thresholded(tmp_path):
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 20:40] = 255
    noisy = np.clip(mask.astype(int) + rng.integers(-60, 60, mask.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "m.jpg"), noisy, [cv2.IMWRITE_JPEG_QUALITY, 60])
    raw = fileio.read_mask_file(str(tmp_path / "m.jpg"))
    assert len(np.unique(raw)) > 2  # really not binary
    hole = masks.hole_from_file_array(raw, AppConfig())
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
    """One policy for every caller: errors raise, notes come back (the CLI
    warns them, the serve page returns them); an empty mask is a note or,
    with empty="error", an error, in the same words."""
    image = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(InpaintError, match="mask is 50x40 but the image is 60x40") as err:
        masks.check_pair(image, np.zeros((40, 50), np.uint8), mask_path="m.png")
    assert str(err.value).startswith("m.png: ")
    with pytest.raises(InpaintError, match="nothing left to borrow from"):
        masks.check_pair(image, np.ones((40, 60), np.uint8))
    empty = np.zeros((40, 60), np.uint8)
    assert masks.check_pair(image, empty, mask_path="m.png") == ["m.png: " + masks.MASK_EMPTY]
    with pytest.raises(InpaintError) as err:
        masks.check_pair(image, empty, empty="error")
    assert err.value.problem == masks.MASK_EMPTY
    mostly = np.ones((40, 60), np.uint8)
    mostly[:10] = 0
    [note] = masks.check_pair(image, mostly)
    assert "75% of the image" in note and "inverted" in note and "--mask-convention keep-white" in note
    assert "--mask-convention white-hole" in masks.check_pair(image, mostly, KEEP_WHITE)[0]
    assert masks.check_pair(image, mostly, AppConfig(inverted_mask_fraction=0.8)) == []
    small = np.zeros((40, 60), np.uint8)
    small[5:9, 5:9] = 1
    assert masks.check_pair(image, small, empty="error") == []
    with pytest.warns(InpaintWarning, match="75% of the image"):
        masks.warn(masks.check_pair(image, mostly))


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


def test_partly_known_512_pixels_take_the_mean_of_their_known_pixels():
    """With min_known 0.5 a 512 pixel half covered by the hole is known, and
    its colour is that of its known native pixels only (no obstruction
    colour leaks in); wholly known pixels are small_image's."""
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    image[:, 1000:1100] = (0, 0, 255)  # the obstruction: red
    hole = np.zeros((1024, 2048), np.uint8)
    hole[:, 1000:1100] = 1  # 512 columns 250..274; 249.. and 275.. hold no hole pixel
    hole[300:303, :] = 1  # a thin wire: 512 rows 150 (2 of 2 rows) and 151 (1 of 2)
    fraction = known_fraction(hole)
    small_mask = majority_hole(fraction, 0.5)
    assert np.array_equal(small_mask, (fraction < 0.5).astype(np.uint8))
    assert small_mask[150].all() and not small_mask[151, :250].any()  # half known: known
    assert np.array_equal(small_mask.astype(bool) | (fraction < 1), small_hole(hole).astype(bool))
    partial = (small_mask == 0) & (small_hole(hole) != 0)
    small = known_small_image(image, hole, fraction, partial)
    whole = fraction == 1
    assert np.array_equal(small[whole], small_image(image)[whole])
    # 512 pixel (151, 10): native rows 302..303, columns 40..43; row 302 is a hole
    expected = image[303, 40:44].astype(np.float64).mean(axis=0)
    assert np.abs(small[151, 10].astype(np.float64) - expected).max() <= 1.0


# ---- what inpaint writes: the input's bit depth, grey and alpha, or a one-line refusal ----

HOLE = (slice(60, 100), slice(70, 120))  # rows, columns of the hole in the 160 x 200 test images


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("io") / "fake.onnx")


def photo16(seed=0, grey=False):
    """A 160 x 200 uint16 photo whose low 8 bits are noise (what an 8-bit copy loses)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 65536, (8, 10, 3), dtype=np.uint16), (200, 160),
                      interpolation=cv2.INTER_CUBIC)
    photo = np.clip(base.astype(np.int64) + rng.integers(-3000, 3000, base.shape), 0, 65535).astype(np.uint16)
    return cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY) if grey else photo


def hole_mask(tmp_path):
    mask = np.zeros((160, 200), np.uint8)
    mask[HOLE] = 255
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), mask)
    return path


def far_from_hole():
    """True farther than the fake model's blend (and the default feather) reaches from HOLE."""
    far = np.ones((160, 200), bool)
    far[HOLE[0].start - 25:HOLE[0].stop + 25, HOLE[1].start - 25:HOLE[1].stop + 25] = False
    return far


def inpaint_cli(image, mask, out, model, capsys, *extra):
    """Run ``inpaint``; (exit status, stderr, the output decoded unchanged or None)."""
    code = main([str(a) for a in ["inpaint", image, mask, "-o", out, "--model", model, "--backend",
                                  "onnxruntime"] + list(extra)])
    err = capsys.readouterr().err
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED) if out.exists() else None
    return code, err, written


def result8(tmp_path, bgr8, mask, model, capsys):
    """What the app makes of the uint8 BGR copy (the model's input) given as an 8-bit PNG."""
    src, out = tmp_path / "copy8.png", tmp_path / "result8.png"
    cv2.imwrite(str(src), bgr8)
    code, err, result = inpaint_cli(src, mask, out, model, capsys)
    assert code == 0, err
    return result


def with_change(original, before8, after8):
    """The documented rule: the file's pixels plus the 8-bit change scaled to their depth, clipped."""
    scale = 257 if original.dtype == np.uint16 else 1
    moved = original.astype(np.int64) + scale * (after8.astype(np.int64) - before8)
    return np.clip(moved, 0, np.iinfo(original.dtype).max).astype(original.dtype)


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("grey", [False, True])
def test_16_bit_input_gives_16_bit_output(tmp_path, model, capsys, ext, grey):
    """16-bit PNG/TIFF, colour or grey, in -> the same out: pixels the app did
    not change are the input's at 16 bits; changed ones are the input plus
    257 x the 8-bit change; an empty mask writes the input bit for bit."""
    photo = photo16(grey=grey)
    src = tmp_path / ("photo" + ext)
    cv2.imwrite(str(src), photo)
    mask = hole_mask(tmp_path)
    code, err, out = inpaint_cli(src, mask, tmp_path / ("out" + ext), model, capsys)
    assert code == 0, err
    assert out.dtype == np.uint16 and out.shape == photo.shape
    assert np.array_equal(out[far_from_hole()], photo[far_from_hole()])
    copy8 = fileio.to_uint8(photo, "photo")
    done8 = result8(tmp_path, cv2.cvtColor(copy8, cv2.COLOR_GRAY2BGR) if grey else copy8, mask, model, capsys)
    if grey:
        done8 = cv2.cvtColor(done8, cv2.COLOR_BGR2GRAY)
    assert (done8 != copy8)[HOLE].mean() > 0.5  # the hole was filled ...
    assert np.array_equal(out, with_change(photo, copy8, done8))  # ... and brought to 16 bits by the rule
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((160, 200), np.uint8))
    code, err, same = inpaint_cli(src, empty, tmp_path / ("same" + ext), model, capsys)
    assert code == 0 and "empty" in err and np.array_equal(same, photo)


@pytest.mark.parametrize("depth,ext", [(np.uint8, ".png"), (np.uint16, ".png"), (np.uint16, ".tif"),
                                       (np.uint8, ".webp")])
def test_alpha_is_carried_through(tmp_path, model, capsys, depth, ext):
    """BGRA in -> BGRA out at the input's depth: the alpha plane unchanged, the
    colour inpainted as without alpha (WebP: colour under alpha 0 is not kept)."""
    colour = photo16(1)
    if depth == np.uint8:
        colour = fileio.to_uint8(colour, "colour")
    alpha = np.tile(np.linspace(0, np.iinfo(depth).max, 200).astype(depth), (160, 1))
    src = tmp_path / ("bgra" + (".tif" if ext == ".tif" else ".png"))
    cv2.imwrite(str(src), np.dstack([colour, alpha]))
    mask = hole_mask(tmp_path)
    code, err, out = inpaint_cli(src, mask, tmp_path / ("out" + ext), model, capsys)
    assert code == 0, err
    assert out.dtype == depth and out.shape == (160, 200, 4)
    assert np.array_equal(out[..., 3], alpha)
    copy8 = fileio.to_uint8(colour, "colour")
    expected = with_change(colour, copy8, result8(tmp_path, copy8, mask, model, capsys))
    visible = alpha > 0 if ext == ".webp" else np.ones(alpha.shape, bool)
    assert np.array_equal(out[..., :3][visible], expected[visible])
    assert (out[..., :3] != colour)[HOLE].mean() > 0.5


def test_grey_png_and_jpeg_give_grey_output(tmp_path, model, capsys):
    """Grey in -> grey (H, W) out: the 8-bit result converted to grey, the
    pixels far from the hole the input's; a grey JPEG stays a grey JPEG."""
    grey = fileio.to_uint8(photo16(2, grey=True), "grey")
    mask = hole_mask(tmp_path)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    code, err, out = inpaint_cli(tmp_path / "grey.png", mask, tmp_path / "out.png", model, capsys)
    assert code == 0, err
    done8 = result8(tmp_path, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), mask, model, capsys)
    assert out.shape == grey.shape and np.array_equal(out, cv2.cvtColor(done8, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "grey.jpg"), grey, [cv2.IMWRITE_JPEG_QUALITY, 90])
    decoded = cv2.imread(str(tmp_path / "grey.jpg"), cv2.IMREAD_UNCHANGED)
    assert decoded.ndim == 2
    code, err, out = inpaint_cli(tmp_path / "grey.jpg", mask, tmp_path / "jpeg.png", model, capsys)
    assert code == 0, err
    (tmp_path / "from_jpeg").mkdir()
    done = result8(tmp_path / "from_jpeg", cv2.cvtColor(decoded, cv2.COLOR_GRAY2BGR), mask, model, capsys)
    want = cv2.cvtColor(done, cv2.COLOR_BGR2GRAY)
    assert out.shape == grey.shape and np.array_equal(out, want)
    assert np.array_equal(out[far_from_hole()], decoded[far_from_hole()])
    assert np.abs(out[HOLE].astype(int) - decoded[HOLE]).mean() > 3  # the hole was filled
    code, err, out = inpaint_cli(tmp_path / "grey.jpg", mask, tmp_path / "jpeg.jpg", model, capsys)
    assert code == 0, err
    # the same grey result, within what a JPEG at the default quality (95) loses
    assert out.shape == grey.shape and np.abs(out.astype(int) - want).mean() < 1.5
    assert np.abs(out[HOLE].astype(int) - want[HOLE]).mean() < 1.5


def test_exif_orientation_is_kept_for_colour_and_grey_jpegs(tmp_path, model, capsys):
    """An EXIF-rotated JPEG is inpainted and written as a viewer shows it,
    colour in colour, grey in grey; the mask is drawn on the displayed photo."""
    stored = fileio.to_uint8(photo16(3), "stored")
    mask = hole_mask(tmp_path)  # 160 x 200: the displayed size of the 200 x 160 stored pixels
    for name, pixels in (("colour", stored), ("grey", cv2.cvtColor(stored, cv2.COLOR_BGR2GRAY))):
        src = tmp_path / (name + ".jpg")
        write_jpeg_with_orientation(src, cv2.resize(pixels, (160, 200)), 6)
        shown = cv2.rotate(cv2.imread(str(src), cv2.IMREAD_UNCHANGED), cv2.ROTATE_90_CLOCKWISE)
        code, err, out = inpaint_cli(src, mask, tmp_path / (name + "_out.png"), model, capsys)
        assert code == 0, err
        assert out.shape == shown.shape and shown.shape[:2] == (160, 200)
        assert np.array_equal(out[far_from_hole()], shown[far_from_hole()])
        assert (out != shown).reshape(160, 200, -1).any(axis=2)[HOLE].mean() > 0.5


def test_formats_that_would_lose_depth_or_alpha_are_refused(tmp_path, model, capsys):
    """16-bit or alpha to JPEG (or BMP for 16-bit): one line, status 2, nothing
    written, and before the model is loaded (a missing model is not reached)."""
    mask = hole_mask(tmp_path)
    cv2.imwrite(str(tmp_path / "deep.png"), photo16())
    bgra = np.dstack([fileio.to_uint8(photo16(), "x"), np.full((160, 200), 200, np.uint8)])
    cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    cases = [("deep.png", "o.jpg", ".jpg cannot hold the 16-bit pixels of the input: write .png or .tif"),
             ("deep.png", "o.bmp", ".bmp cannot hold the 16-bit pixels of the input: write .png or .tif"),
             ("bgra.png", "o.jpg", ".jpg cannot hold the alpha channel of the input: write .png, .tif or .webp")]
    for name, out_name, problem in cases:
        out = tmp_path / out_name
        code, err, written = inpaint_cli(tmp_path / name, mask, out, tmp_path / "missing.onnx", capsys)
        assert code == 2 and err.strip() == "error: {}: {}".format(out, problem), err
        assert written is None
    with pytest.raises(InpaintError, match="cannot hold the 16-bit pixels"):
        fileio.write_image(str(tmp_path / "api.jpg"), photo16())
    assert not (tmp_path / "api.jpg").exists()


def test_folder_mode_keeps_each_image_layout(tmp_path, model, capsys):
    """Folders: each output keeps its input's depth, grey and alpha."""
    images, mask_dir, out_dir = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    mask_dir.mkdir()
    inputs = {"deep.tif": photo16(), "grey.png": fileio.to_uint8(photo16(grey=True), "g"),
              "bgra.png": np.dstack([photo16(), np.full((160, 200), 4000, np.uint16)])}
    mask = cv2.imread(str(hole_mask(tmp_path)), cv2.IMREAD_UNCHANGED)
    for name, pixels in inputs.items():
        cv2.imwrite(str(images / name), pixels)
        cv2.imwrite(str(mask_dir / (name.split(".")[0] + ".png")), mask)
    code, err, _ = inpaint_cli(images, mask_dir, out_dir, model, capsys)
    assert code == 0, err
    for name, pixels in inputs.items():
        out = cv2.imread(str(out_dir / name), cv2.IMREAD_UNCHANGED)
        assert out.dtype == pixels.dtype and out.shape == pixels.shape
        assert np.array_equal(out[far_from_hole()], pixels[far_from_hole()])
        assert not np.array_equal(out, pixels)


def test_restore_clips_at_the_ends_of_the_range():
    """A change that would run past 0 or 65535 at 16 bits is clipped, not wrapped."""
    colour = np.array([[[65500, 30, 1000]]], np.uint16)
    source = fileio.SourceImage(colour, None, "x.png")
    assert source.bgr.tolist() == [[[255, 0, 4]]]
    out = source.restore(np.array([[[255, 0, 6]]], np.uint8))  # unchanged, unchanged, +2
    assert out.dtype == np.uint16 and out.tolist() == [[[65500, 30, 1000 + 2 * 257]]]
    out = source.restore(np.array([[[254, 1, 0]]], np.uint8))
    assert out.tolist() == [[[65500 - 257, 30 + 257, 0]]]
    source = fileio.SourceImage(np.array([[[65535, 65535, 65535]]], np.uint16), None, "x.png")
    assert source.restore(np.array([[[255, 255, 255]]], np.uint8)).tolist() == [[[65535] * 3]]
    source = fileio.SourceImage(np.array([[[65400, 200, 0]]], np.uint16), None, "x.png")
    assert source.bgr.tolist() == [[[254, 1, 0]]]
    assert source.restore(np.array([[[255, 0, 0]]], np.uint8)).tolist() == [[[65535, 0, 0]]]  # +257, -257
