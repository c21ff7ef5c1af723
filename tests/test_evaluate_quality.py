"""scripts/evaluate_quality.py and scripts/make_before_after.py with the bundled model."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "evaluate_quality.py"
METHODS = ("telea", "navier_stokes", "no_cra", "cra")


@pytest.mark.slow  # starts a process
def test_table_json_and_grid_for_every_method_and_hole_kind(tmp_path):
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (640, 400), interpolation=cv2.INTER_CUBIC)
    photo = np.clip(base.astype(np.int16) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
    data = tmp_path / "val"
    data.mkdir()
    cv2.imwrite(str(data / "photo.png"), photo)
    out = tmp_path / "eval"
    done = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out),
                           "--holes-per-kind", "1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "quality.json").read_text())
    assert [c["kind"] for c in report["cases"]] == ["strokes", "objects", "wires"]
    for case in report["cases"]:
        lo, hi = (0.005, 0.03) if case["kind"] == "wires" else (0.05, 0.25)
        assert lo <= case["hole_fraction"] <= hi
        for method in METHODS:
            metrics = case["metrics"][method]
            assert 0.0 <= metrics["l1_hole"] <= 1.0 and 0.0 < metrics["ms_ssim_around"] <= 1.0
            assert metrics["sharpness"] >= 0.0
        if case["kind"] != "wires":  # CRA adds detail the bilinear ablation lacks
            assert case["metrics"]["cra"]["hf_ratio"] > case["metrics"]["no_cra"]["hf_ratio"]
            assert case["metrics"]["cra"]["sharpness"] > case["metrics"]["no_cra"]["sharpness"]
    table = (out / "quality.md").read_text()
    assert all(f"| all | {m} |" in table for m in METHODS)
    grid = cv2.imread(str(out / "quality_grid.jpg"))
    assert grid is not None and grid.shape[1] == 3 * 480


@pytest.mark.slow  # starts a process
def test_before_after_picture_of_a_generated_pair(tmp_path):
    rng = np.random.default_rng(1)
    image = cv2.resize(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), (700, 500), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((500, 700), np.uint8)
    cv2.line(mask, (0, 100), (699, 400), 255, 25)
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    out = tmp_path / "figure" / "before_after.jpg"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "make_before_after.py"), "--image",
                           str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "--width", "350",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    picture = cv2.imread(str(out))
    assert picture.shape == (250, 700, 3)
    # left half: the hole tinted red; right half: no red band left (as red as the photo there)
    left, right = picture[:, :350].astype(int), picture[:, 350:].astype(int)
    truth = cv2.resize(image, (350, 250), interpolation=cv2.INTER_AREA).astype(int)
    small_hole = cv2.resize(mask, (350, 250), interpolation=cv2.INTER_AREA) > 200
    redness = {name: (a[..., 2] - a[..., 0])[small_hole].mean() for name, a in
               (("left", left), ("right", right), ("truth", truth))}
    assert redness["left"] > redness["truth"] + 60
    assert abs(redness["right"] - redness["truth"]) < 25


def _sky(height=300, width=400):
    """A smooth blue gradient with a grey pole across it (the obstruction)."""
    ys = np.linspace(0, 1, height)[:, None]
    sky = np.stack([200 + 40 * ys + 0 * np.arange(width), 140 + 30 * ys + 0 * np.arange(width),
                    60 + 20 * ys + 0 * np.arange(width)], axis=2)
    photo = np.clip(sky, 0, 255).astype(np.uint8)
    hole = np.zeros((height, width), np.uint8)
    cv2.line(hole, (20, height - 10), (width - 30, 15), 1, 14)
    photo[hole != 0] = (128, 128, 128)
    return photo, hole


def test_fill_colour_offsets_tell_a_grey_fill_from_a_matching_one():
    sys.path.insert(0, str(REPO / "scripts"))
    import fill_colour
    photo, hole = _sky()
    hole = hole != 0
    ring = fill_colour.ring_of(hole, 16)
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert ring.any() and not (ring & hole).any() and dist[ring].max() <= 16
    ns = cv2.inpaint(photo, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_NS)
    offsets = fill_colour.colour_offsets({"ns": ns, "grey": photo}, photo, hole, 16)
    assert np.abs(offsets["ns"]).max() < 3  # a smooth sky: NS matches its surroundings
    assert np.abs(offsets["grey"]).max() > 40  # the grey pole left in place does not


@pytest.mark.slow  # starts processes
def test_fill_colour_script_prints_both_methods_and_judges_the_app(tmp_path):
    photo, hole = _sky()
    cv2.imwrite(str(tmp_path / "sky.png"), photo)
    cv2.imwrite(str(tmp_path / "sky_mask.png"), hole * 255)
    args = [sys.executable, str(REPO / "scripts" / "fill_colour.py"), "--image", str(tmp_path / "sky.png"),
            "--mask", str(tmp_path / "sky_mask.png")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Navier-Stokes" in done.stdout and "app (CRA)" in done.stdout and "within the tolerance" in done.stdout
    strict = subprocess.run(args + ["--tolerance", "0"], capture_output=True, text=True, timeout=600)
    assert strict.returncode == 1 and "ABOVE the tolerance of 0" in strict.stdout
