"""The command line end to end on generated files, and what it imports."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import masks
from edge_app.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("cli") / "fake.onnx")


def make_files(folder, name="photo", size=(400, 300), hole_fraction_box=(100, 80, 60, 50)):
    rng = np.random.default_rng(0)
    width, height = size
    image = cv2.resize(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    image = np.clip(image.astype(int) + rng.integers(-25, 25, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    x, y, w, h = hole_fraction_box
    mask[y:y + h, x:x + w] = 255
    image_path, mask_path = folder / (name + ".png"), folder / (name + "_mask.png")
    cv2.imwrite(str(image_path), image)
    cv2.imwrite(str(mask_path), mask)
    return image_path, mask_path, image, mask


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inpaint_one_image(tmp_path, model, capsys):
    image_path, mask_path, image, mask = make_files(tmp_path)
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(["inpaint", image_path, mask_path, "-o", out, "--model", model,
                                 "--backend", "onnxruntime", "--timings"], capsys)
    assert code == 0, err
    assert "wrote {}".format(out) in stdout
    for stage in ("decode", "preprocess", "inference", "cra", "blend", "encode", "total"):
        assert stage in stdout
    result = cv2.imread(str(out))
    assert result.shape == image.shape
    assert (result != image).any(axis=2)[mask > 0].mean() > 0.5
    far = np.ones(mask.shape, bool)
    far[40:180, 60:200] = False
    assert np.array_equal(result[far], image[far])
    # --no-cra: the ablation gives another result inside the hole only
    plain = tmp_path / "plain.png"
    code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", plain, "--model", model,
                            "--backend", "onnxruntime", "--no-cra"], capsys)
    assert code == 0, err
    ablation = cv2.imread(str(plain))
    assert not np.array_equal(ablation, result) and np.array_equal(ablation[far], image[far])


def test_feather_sets_the_soft_edge(tmp_path, model, capsys):
    """--feather 0: only hole pixels change; --feather 6: known pixels up to
    6 px (in x and y) from the hole blend too, none farther; a negative width is an error."""
    image_path, mask_path, image, mask = make_files(tmp_path)
    dist = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    changed = {}
    for px in (0, 6):
        out = tmp_path / "feather{}.png".format(px)
        code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", out, "--model", model,
                                "--backend", "onnxruntime", "--feather", px], capsys)
        assert code == 0, err
        changed[px] = (cv2.imread(str(out)) != image).any(axis=2)
    assert not changed[0][mask == 0].any()
    assert changed[6][(dist > 0) & (dist <= 3)].mean() > 0.5
    assert not changed[6][dist > 6 * 2 ** 0.5 + 1].any()  # outside every 13 x 13 box holding a hole pixel
    with pytest.raises(SystemExit) as exc:
        run_cli(["inpaint", image_path, mask_path, "-o", tmp_path / "bad.png", "--feather", "-1"], capsys)
    assert exc.value.code == 2 and "--feather: must be >= 0" in capsys.readouterr().err


def test_output_folder_is_created(tmp_path, model, capsys):
    image_path, mask_path, image, _ = make_files(tmp_path)
    out = tmp_path / "new" / "deeper" / "out.jpg"
    code, stdout, err = run_cli(["inpaint", image_path, mask_path, "-o", out, "--model", model,
                                 "--backend", "onnxruntime"], capsys)
    assert code == 0, err
    assert cv2.imread(str(out)).shape == image.shape


def test_keep_white_convention_and_overwrite(tmp_path, model, capsys):
    image_path, mask_path, image, mask = make_files(tmp_path)
    inverted = tmp_path / "inverted.png"
    cv2.imwrite(str(inverted), 255 - mask)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    base = ["--model", model, "--backend", "onnxruntime"]
    assert run_cli(["inpaint", image_path, mask_path, "-o", a] + base, capsys)[0] == 0
    code, _, err = run_cli(["inpaint", image_path, inverted, "-o", b, "--mask-convention", "keep-white"] + base,
                           capsys)
    assert code == 0, err
    assert np.array_equal(cv2.imread(str(a)), cv2.imread(str(b)))
    # the inverted mask read with the default convention: a warning, not a silent flip
    c = tmp_path / "c.png"
    code, _, err = run_cli(["inpaint", image_path, inverted, "-o", c] + base, capsys)
    assert code == 0 and "warning:" in err and "--mask-convention keep-white" in err
    code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", a] + base, capsys)
    assert code == 2 and err.strip() == "error: {}: output exists (pass --overwrite to replace it)".format(a)
    assert run_cli(["inpaint", image_path, mask_path, "-o", a, "--overwrite"] + base, capsys)[0] == 0


def test_bad_input_gives_one_line_errors(tmp_path, model, capsys):
    image_path, mask_path, image, mask = make_files(tmp_path)
    base = ["--model", model, "--backend", "onnxruntime"]

    def error_of(args):
        code, _, err = run_cli(args + base, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]

    junk = tmp_path / "junk.png"
    junk.write_bytes(b"garbage")
    assert error_of(["inpaint", junk, mask_path, "-o", tmp_path / "o1.png"]).startswith(
        "error: {}: cannot read".format(junk))
    assert error_of(["inpaint", tmp_path / "none.png", mask_path, "-o", tmp_path / "o1.png"]) == \
        "error: {}: file not found".format(tmp_path / "none.png")
    small_mask = tmp_path / "small_mask.png"
    cv2.imwrite(str(small_mask), cv2.resize(mask, (200, 150)))
    assert error_of(["inpaint", image_path, small_mask, "-o", tmp_path / "o2.png"]) == \
        "error: {}: mask is 200x150 but the image is 400x300 (width x height)".format(small_mask)
    full = tmp_path / "full.png"
    cv2.imwrite(str(full), np.full(mask.shape, 255, np.uint8))
    assert "nothing left to borrow from" in error_of(["inpaint", image_path, full, "-o", tmp_path / "o3.png"])
    assert error_of(["inpaint", image_path, mask_path, "-o", image_path]) == \
        "error: {0}: output path is the input file {0} (choose another -o)".format(image_path)
    assert "model not found" in run_cli(["inpaint", image_path, mask_path, "-o", tmp_path / "o4.png",
                                         "--model", tmp_path / "none.onnx", "--backend", "onnxruntime"],
                                        capsys)[2]
    assert not any((tmp_path / n).exists() for n in ("o1.png", "o2.png", "o3.png", "o4.png"))


def _cut(data: bytes, how: str) -> bytes:
    return data[:len(data) // 2] if how == "half" else data[:-int(how)]


@pytest.mark.parametrize("fmt,how", [(".jpg", "half"), (".jpg", "1"), ("progressive.jpg", "half"),
                                     (".png", "half"), (".png", "12")])
@pytest.mark.parametrize("which", ["image", "mask"])
def test_files_cut_short_are_refused(tmp_path, model, capsys, fmt, how, which):
    """A JPEG cut in half (or short of its last byte) or a PNG without its IEND
    chunk: one line, exit 2, nothing written (cv2.imread returned the missing
    rows of a JPEG as grey, with only libjpeg's warning, and exit 0)."""
    image_path, mask_path, image, mask = make_files(tmp_path)
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if fmt.startswith("progressive") else []
    pixels = image if which == "image" else mask
    data = cv2.imencode(fmt[-4:], pixels, params)[1].tobytes()
    cut = tmp_path / ("cut" + fmt[-4:])
    cut.write_bytes(_cut(data, how))
    pair = [cut, mask_path] if which == "image" else [image_path, cut]
    out = tmp_path / "out.png"
    code, _, err = run_cli(["inpaint"] + pair + ["-o", out, "--model", model], capsys)
    assert code == 2 and err.strip().splitlines() == [
        "error: {}: cut short: the file ends before its end-of-image marker (an interrupted download or "
        "copy?)".format(cut)], err
    assert not out.exists()
    # the whole file, and one with bytes after its end (as some cameras write), are read
    cut.write_bytes(data + b"\0trailer" * 100)
    assert run_cli(["inpaint"] + pair + ["-o", out, "--model", model], capsys)[0] == 0


def test_empty_mask_returns_the_image_with_a_warning(tmp_path, model, capsys):
    image_path, _, image, mask = make_files(tmp_path)
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros(mask.shape, np.uint8))
    out = tmp_path / "same.png"
    code, _, err = run_cli(["inpaint", image_path, empty, "-o", out, "--model", model, "--backend",
                            "onnxruntime"], capsys)
    assert code == 0 and "warning:" in err and "empty" in err
    assert np.array_equal(cv2.imread(str(out)), image)


def test_folders_are_matched_by_stem(tmp_path, model, capsys):
    images, mask_dir, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    mask_dir.mkdir()
    for name in ("a", "b"):
        image_path, mask_path, _, _ = make_files(images, name)
        mask_path.rename(mask_dir / (name + ".png"))
    make_files(images, "lonely")[1].unlink()
    code, stdout, err = run_cli(["inpaint", images, mask_dir, "-o", out, "--model", model,
                                 "--backend", "onnxruntime"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert "lonely.png: no mask" in err and "2 of 2 images written" in stdout
    code, _, err = run_cli(["inpaint", images, mask_dir, "-o", images, "--model", model], capsys)
    assert code == 2 and "output folder is an input folder" in err


def test_stream_command(tmp_path, model, capsys):
    source = tmp_path / "in.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    for i in range(8):
        writer.write(np.full((96, 128, 3), 20 * i, np.uint8))
    writer.release()
    mask = np.zeros((96, 128), np.uint8)
    mask[30:60, 50:90] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(["stream", "--source", source, "--mask", tmp_path / "m.png", "-o", out,
                                 "--max-frames", 6, "--model", model, "--backend", "onnxruntime",
                                 "--timings"], capsys)
    assert code == 0, err
    assert "6 frames written" in stdout and "frames/s" in stdout and "per frame" in stdout
    code, _, err = run_cli(["stream", "--source", source, "--mask", tmp_path / "m.png", "-o", source,
                            "--model", model, "--backend", "onnxruntime"], capsys)
    assert code == 2 and "output path is the input" in err


@pytest.mark.slow  # starts a process
def test_the_app_never_imports_torch_or_onnx(tmp_path, model):
    image_path, mask_path, _, _ = make_files(tmp_path)
    code = (
        "import sys\n"
        "from edge_app.cli import main\n"
        "assert main(['inpaint', {!r}, {!r}, '-o', {!r}, '--model', {!r}, '--backend', 'onnxruntime']) == 0\n"
        "bad = sorted(m for m in ('torch', 'onnx', 'torchvision') if m in sys.modules)\n"
        "assert not bad, bad\n"
        "print('clean')\n").format(str(image_path), str(mask_path), str(tmp_path / "o.png"), model)
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr


def test_sources_are_python_37_and_board_safe():
    grammar = {"feature_version": (3, 7)} if sys.version_info >= (3, 8) else {}  # 3.7 parses natively
    for path in sorted((ROOT / "edge_app").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path), **grammar)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("torch", "onnx", "onnxsim", "training", "convert"), \
                    "{} imports {}".format(path, name)


def _edge_app_imports():
    """{module: the edge_app modules it imports}, from every import statement of
    its source (module level or inside a function alike)."""
    files = {}
    for path in sorted((ROOT / "edge_app").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    target = base + "." + alias.name
                    found.add(target if target in files else base)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def test_no_import_circle_in_edge_app():
    """No chain of imports in edge_app leads back to where it started (a
    package's __init__ and its own modules aside: importing a submodule runs
    its package first by Python's rules, not by an import of ours)."""
    graph = _edge_app_imports()

    def inside(a, b):  # b is a package holding a
        return a.startswith(b + ".")

    def visit(node, path):
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycle = path[path.index(nxt):] + [nxt]
                if not all(inside(x, y) or inside(y, x) for x, y in zip(cycle, cycle[1:])):
                    raise AssertionError("import circle: " + " -> ".join(cycle))
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done = set()
    for start in sorted(graph):
        visit(start, [start])
    # and the settings stay a leaf: the backends, the trainer and the exporter import them
    assert graph["edge_app.config"] <= {"edge_app.errors"}


def test_no_module_of_edge_app_is_above_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "edge_app").rglob("*.py")
            for n in [len(p.read_text().splitlines())] if n > 400}
    assert long == {}


SAMPLE = ROOT / "edge_app" / "samples"


def sample_pair(folder, size=(640, 360)):
    """The README's sample, scaled: a colour JPEG photo and its PNG mask (white = hole)."""
    photo = cv2.resize(cv2.imread(str(SAMPLE / "bridge.jpg")), size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(cv2.imread(str(SAMPLE / "bridge_mask.png"), cv2.IMREAD_GRAYSCALE), size,
                      interpolation=cv2.INTER_NEAREST)
    photo_path, mask_path = folder / "bridge.jpg", folder / "bridge_mask.png"
    cv2.imwrite(str(photo_path), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(mask_path), mask)
    return photo_path, mask_path, photo, mask


def one_error(code, err):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("convention", ["white-hole", "keep-white"])
def test_swapped_arguments_are_an_error_not_a_grey_picture(tmp_path, model, capsys, convention):
    """`inpaint mask.png photo.jpg` thresholded the photo into a 93 % hole and
    wrote a grey picture (exit 0), in either convention: now one line says the
    arguments are swapped, and nothing is written."""
    photo_path, mask_path, _, _ = sample_pair(tmp_path)
    out = tmp_path / "out.jpg"
    code, _, err = run_cli(["inpaint", mask_path, photo_path, "-o", out, "--model", model, "--backend",
                            "onnxruntime", "--mask-convention", convention], capsys)
    line = one_error(code, err)
    assert line.startswith("error: {}: looks like a photo, and {} like a mask".format(photo_path, mask_path))
    assert "swapped" in line and not out.exists()


def test_a_photo_given_as_the_mask_is_refused_naming_the_setting(tmp_path, model, capsys):
    """A photo as the mask of another photo: the mask is refused, with what was
    found (a colour picture, its grey levels) and the setting that reads it anyway."""
    photo_path, _, photo, _ = sample_pair(tmp_path)
    other = tmp_path / "other.jpg"
    cv2.imwrite(str(other), photo[::-1])
    out = tmp_path / "out.png"
    code, _, err = run_cli(["inpaint", photo_path, other, "-o", out, "--model", model], capsys)
    line = one_error(code, err)
    assert line.startswith("error: {}: not a mask but a photo? a colour picture with ".format(other)), line
    assert "neither black nor white" in line and "--not-a-mask-fraction 1" in line and not out.exists()


@pytest.mark.parametrize("quality", [95, 75, 30])
@pytest.mark.parametrize("kind", ["grey", "colour"])
def test_jpeg_masks_with_compression_noise_are_accepted(tmp_path, model, capsys, quality, kind):
    """The sample's mask (thin cables and a blob) saved as a JPEG, grey or as
    three channels, down to quality 30: read as a mask, as the PNG is, to
    within the pixels next to its edges."""
    photo_path, mask_path, _, mask = sample_pair(tmp_path)
    jpeg = tmp_path / "mask.jpg"
    pixels = mask if kind == "grey" else cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(jpeg), pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert len(np.unique(cv2.imread(str(jpeg), cv2.IMREAD_UNCHANGED))) > 10  # really not black and white
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(["inpaint", photo_path, jpeg, "-o", out, "--model", model], capsys)
    assert code == 0 and err == "", err
    hole = masks.read_hole(str(jpeg))
    edges = cv2.dilate(cv2.Canny(mask, 100, 200), np.ones((5, 5), np.uint8)) > 0
    assert np.array_equal(hole[~edges] > 0, mask[~edges] > 0)


def alpha_masks(folder, photo, mask):
    """The two ways an image editor exports a mask with transparency: the photo
    with the object erased (transparent = hole) and white strokes painted on
    an empty layer (opaque = hole)."""
    erased, strokes = folder / "erased.png", folder / "strokes.png"
    cv2.imwrite(str(erased), np.dstack([photo, np.where(mask > 0, 0, 255).astype(np.uint8)]))
    cv2.imwrite(str(strokes), np.dstack([np.full(photo.shape, 255, np.uint8), mask]))
    return erased, strokes


def hole_share(stdout):
    return float(re.search(r"hole ([\d.]+)%", stdout).group(1)) / 100


def test_both_alpha_workflows_are_read_with_the_alpha_convention(tmp_path, model, capsys):
    """Transparent = hole by default (an erased object); strokes on an empty
    layer were read inverted (89 % hole) and the note named --mask-convention,
    which changes nothing for them, in either convention: now it names
    --alpha-convention opaque-hole, which reads them right."""
    photo_path, _, photo, mask = sample_pair(tmp_path)
    erased, strokes = alpha_masks(tmp_path, photo, mask)
    share = (mask > 0).mean()
    base = ["--model", model, "--backend", "onnxruntime", "--overwrite", "-o", tmp_path / "out.png"]
    code, stdout, err = run_cli(["inpaint", photo_path, erased] + base, capsys)
    assert code == 0 and err == "" and hole_share(stdout) == pytest.approx(share, abs=0.001)
    for convention in ("white-hole", "keep-white"):
        code, stdout, err = run_cli(["inpaint", photo_path, strokes, "--mask-convention", convention] + base, capsys)
        assert code == 0 and hole_share(stdout) == pytest.approx(1 - share, abs=0.001)
        assert err.strip() == "warning: {}: mask marks 89% of the image as hole (its transparent pixels): is it " \
                              "inverted? For strokes painted on a transparent layer, pass --alpha-convention " \
                              "opaque-hole".format(strokes)
    code, stdout, err = run_cli(["inpaint", photo_path, strokes, "--alpha-convention", "opaque-hole"] + base, capsys)
    assert code == 0 and err == "" and hole_share(stdout) == pytest.approx(share, abs=0.001)


def test_an_output_that_is_a_folder_or_cannot_be_made_is_one_line_before_the_model(tmp_path, capsys):
    """An existing folder as OUT said "output exists", then with --overwrite
    "cannot write this image format"; a file on OUT's path was a traceback in
    folder mode. Now each is one line saying so, exit 2, nothing written, and
    before the model is opened (the model named here does not exist)."""
    image_path, mask_path, _, _ = make_files(tmp_path)
    folder, a_file = tmp_path / "results", tmp_path / "notes.txt"
    folder.mkdir()
    a_file.write_text("not a folder")
    missing_model = ["--model", tmp_path / "none.onnx", "--backend", "onnxruntime"]
    for extra in ([], ["--overwrite"]):
        code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", folder] + extra + missing_model, capsys)
        assert one_error(code, err) == "error: {}: OUT is a folder: give a file name (or folders as IMAGE and MASK " \
                                       "to inpaint a folder of images)".format(folder)
    assert list(folder.iterdir()) == []
    out = a_file / "deeper" / "out.png"
    code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", out] + missing_model, capsys)
    assert one_error(code, err) == "error: {}: cannot create the output folder: {} is a file".format(out, a_file)
    images = tmp_path / "images"
    images.mkdir()
    image_path.rename(images / "photo.png")
    mask_path.rename(images / "photo_mask.png")
    code, _, err = run_cli(["inpaint", images, images, "-o", a_file / "out"] + missing_model, capsys)
    assert "cannot create the output folder: {} is a file".format(a_file) in one_error(code, err)
    code, _, err = run_cli(["stream", "--source", tmp_path / "in.mp4", "--mask", images / "photo_mask.png", "-o",
                            folder, "--overwrite"] + missing_model, capsys)
    assert one_error(code, err) == "error: {}: OUT is a folder: give a video file name (e.g. out.mp4)".format(folder)
    code, _, err = run_cli(["bench", "--out", folder, "--overwrite"] + missing_model, capsys)
    assert one_error(code, err) == "error: {} is a folder: give --out a file name (e.g. results.json)".format(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_an_output_folder_without_write_permission_is_one_line(tmp_path, model, capsys):
    image_path, mask_path, _, _ = make_files(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run_cli(["inpaint", image_path, mask_path, "-o", locked / "new" / "out.png", "--model",
                                model], capsys)
    finally:
        locked.chmod(0o700)
    assert "cannot write into the folder {} (permission denied)".format(locked) in one_error(code, err)


def _video(tmp_path, frames=8, size=(128, 96)):
    source = tmp_path / "in.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for i in range(frames):
        writer.write(np.full(size[::-1] + (3,), 20 * i, np.uint8))
    writer.release()
    return source


def _fence(tmp_path, size=(128, 96)):
    mask = np.zeros(size[::-1], np.uint8)
    mask[30:60, 50:90] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    return tmp_path / "m.png", mask


def test_stream_progress_counts_frames_with_max_frames_too(tmp_path, model, capsys):
    """With --max-frames the bar counted "img" (without it, "frame")."""
    pytest.importorskip("tqdm")
    source, (mask_path, _) = _video(tmp_path), _fence(tmp_path)
    for limit in (["--max-frames", "6"], []):
        code, _, err = run_cli(["stream", "--source", source, "--mask", mask_path, "-o", tmp_path / "out.mp4",
                                "--overwrite", "--model", model] + limit, capsys)
        assert code == 0 and "frame/s" in err and "img" not in err, err


def test_stream_shows_no_progress_bar_before_an_error(tmp_path, model, capsys):
    """A mask of another size printed an empty bar before its error line."""
    pytest.importorskip("tqdm")
    source, (_, mask) = _video(tmp_path), _fence(tmp_path)
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(mask, (64, 48)))
    for limit in (["--max-frames", "6"], []):
        code, _, err = run_cli(["stream", "--source", source, "--mask", small, "-o", tmp_path / "bad.mp4",
                                "--model", model] + limit, capsys)
        assert one_error(code, err) == "error: {}: mask is 64x48 but the image is 128x96 (width x height)".format(
            small)
    assert not (tmp_path / "bad.mp4").exists()
