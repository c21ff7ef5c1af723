"""scripts/evaluate_quality.py and scripts/make_before_after.py with the bundled model."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "evaluate_quality.py"
METHODS = ("telea", "navier_stokes", "no_cra", "cra")


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
    assert [c["kind"] for c in report["cases"]] == ["strokes", "objects"]
    for case in report["cases"]:
        assert 0.05 <= case["hole_fraction"] <= 0.25
        for method in METHODS:
            metrics = case["metrics"][method]
            assert 0.0 <= metrics["l1_hole"] <= 1.0 and 0.0 < metrics["ms_ssim_around"] <= 1.0
        # CRA adds detail the bilinear ablation lacks
        assert case["metrics"]["cra"]["hf_ratio"] > case["metrics"]["no_cra"]["hf_ratio"]
    table = (out / "quality.md").read_text()
    assert all(f"| all | {m} |" in table for m in METHODS)
    grid = cv2.imread(str(out / "quality_grid.jpg"))
    assert grid is not None and grid.shape[1] == 3 * 480


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
