"""scripts/bench_stream_reuse.py: its generated clip (truth under the
obstruction, noise, light drift, moving objects) and a small run of both
modes with its figures."""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_stream_reuse as bench  # noqa: E402


def test_the_clip_hides_real_content_under_a_fixed_obstruction():
    clip = bench.Clip(480, 270, 40)
    (seen0, truth0), (seen1, truth1), (seen10, truth10) = clip.frame(0), clip.frame(1), clip.frame(10)
    hole = clip.hole != 0
    assert 0.015 < hole.mean() < 0.05
    assert np.array_equal(seen0[~hole], truth0[~hole]) and (seen0[hole] == (32, 34, 38)).all()
    assert truth0[hole].std() > 10  # the truth under it is the scene, not a flat patch
    step = np.abs(truth1.astype(int) - truth0)
    assert 1.0 < np.median(step) < 4.0  # sensor noise, new each frame
    assert abs(float(truth10.mean()) - float(truth0.mean())) > 3.0  # the light drifts
    far = np.abs(truth10.astype(int) - truth0).max(axis=2) > 60  # something moved
    assert far.mean() > 0.005
    again, _ = bench.Clip(480, 270, 40).frame(10)
    assert np.array_equal(again, seen10)  # generated, the same every time


def test_both_modes_run_with_their_figures(tmp_path, capsys):
    model = edge_fakes.fake_hifill(tmp_path / "fake.onnx", fill="mean")
    out = tmp_path / "r.json"
    assert bench.main(["--sizes", "320x180", "--frames", "8", "--rounds", "2", "--model", model,
                       "--backend", "onnxruntime", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "medians: every frame" in printed and printed.count("frames/s  network") == 4
    report = json.loads(out.read_text())
    [result] = report["results"]
    assert result["size"] == "320x180" and report["machine"]["cpu_count"] >= 1
    for mode, runs in result["runs"].items():
        assert len(runs) == 2
        for run in runs:
            assert run["frames"] == 8 and run["fps"] > 0 and run["network_threads"] >= 1
            assert run["network_runs"] == 8 if mode == "every frame" else 1 <= run["network_runs"] < 8
            assert 0 < run["l1"] < 60 and run["temporal_error"] > 0 and 0 < run["flicker_ratio"] < 5
            assert run["fourcc"] == "mp4v"  # the stream's own default
            assert {"preprocess", "cra", "blend", "encode"} <= set(run["stages_ms_per_frame"])
    medians, ratios = result["medians"], result["ratios"]
    assert ratios["fps"] == pytest.approx(medians["reuse"]["fps"] / medians["every frame"]["fps"])


def test_quality_compares_the_frames_hole_with_the_truth(tmp_path):
    clip = bench.Clip(320, 180, 6)
    video, _, truths = bench.write_clip(clip, str(tmp_path))
    hole = clip.hole != 0
    # the input frames themselves as the "output": their hole is the flat obstruction
    figures = bench.quality([clip.frame(t)[0][hole] for t in range(6)], truths)
    flat = np.float32([32, 34, 38])
    assert figures["l1"] == pytest.approx(np.mean([np.abs(t.astype(np.float32) - flat).mean() for t in truths]),
                                          rel=1e-6)
    assert figures["flicker_ratio"] == 0.0  # the obstruction does not move
    steps = [np.abs(b.astype(np.float32) - a).mean() for a, b in zip(truths, truths[1:])]
    assert figures["temporal_error"] == pytest.approx(np.mean(steps), rel=1e-6)
    assert bench.quality(truths, truths) == {"l1": 0.0, "temporal_error": 0.0, "flicker_ratio": 1.0}
    assert cv2.VideoCapture(video).get(cv2.CAP_PROP_FRAME_COUNT) == 6
