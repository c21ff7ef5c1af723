"""edge_app.bench: the report follows its schema, the validator catches broken
reports, and the machine / frame helpers do what they say."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import bench
from edge_app.backends.base import Backend
from edge_app.bench import frames, machine
from edge_app.bench.report import model_precision

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "acl_standin"
SMALL = "640x360"


@pytest.fixture(scope="module")
def fake_onnx(tmp_path_factory):
    return Path(edge_fakes.fake_hifill(tmp_path_factory.mktemp("bench") / "fake.onnx"))


@pytest.fixture(scope="module")
def cpu_report(fake_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_out") / "r.json"
    code = bench.main(["--model", str(fake_onnx), "--backend", "onnxruntime", "--sizes", SMALL,
                       "--runs", "2", "--warmup", "0", "--out", str(out)])
    assert code == 0
    return json.loads(out.read_text())


def test_cpu_report_follows_schema(cpu_report, fake_onnx):
    assert bench.validate_report(cpu_report) == []
    run, host = cpu_report["run"], cpu_report["machine"]
    providers = host["onnxruntime_providers"]
    preferred = "CUDAExecutionProvider" if "CUDAExecutionProvider" in providers else "CPUExecutionProvider"
    assert run["backend"] == "onnxruntime" and run["provider"] == preferred
    assert run["model"] == str(fake_onnx) and run["runs"] == 2 and run["warmup"] == 0
    assert (run["precision"], run["precision_source"]) == ("fp32", "default")
    assert host["cpu_count"] == os.cpu_count() and "CPUExecutionProvider" in providers
    # onnxruntime names no chip: the report has the machine's GPU, where nvidia-smi lists one, else none
    assert host["accelerator"] == machine.nvidia_gpu()
    [result] = cpu_report["results"]
    assert (result["size"], result["width"], result["height"]) == (SMALL, 640, 360)
    assert 0.09 <= result["hole_fraction"] <= 0.2
    stages = result["stages"]
    # onnxruntime's session.run copies internally: the copies are not timed apart.
    for copy_stage in ("h2d", "d2h"):
        assert stages[copy_stage]["included_in"] == "inference" and stages[copy_stage]["max_ms"] == 0
    for stage in ("decode", "preprocess", "inference", "cra", "blend", "encode"):
        assert stages[stage]["min_ms"] > 0, stage
    # Every run's total covers its stages, so the fastest total covers the fastest stages.
    assert result["end_to_end"]["min_ms"] >= sum(t["min_ms"] for t in stages.values()) - 0.01
    stream = result["stream"]
    assert stream["mode"] == "overlapped" and stream["frames"] == 2 and stream["fps"] > 0


@pytest.mark.slow  # starts a process
def test_acl_standin_run_splits_the_copies(fake_onnx, tmp_path):
    om = edge_fakes.fake_om(tmp_path, "fake")  # the stand-in runs fake.onnx beside it
    out = tmp_path / "acl.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(STANDIN), str(REPO)]))
    proc = subprocess.run([sys.executable, "-m", "edge_app.bench", "--backend", "acl", "--model", str(om),
                           "--sizes", "320x240", "--runs", "1", "--warmup", "0", "--out", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert bench.validate_report(report) == []
    assert report["run"]["backend"] == "acl" and report["run"]["provider"] is None
    assert (report["run"]["precision"], report["run"]["precision_source"]) == ("fp16", "default")
    assert report["machine"]["accelerator"] == "Ascend310 (acl stand-in, no NPU)"
    stages = report["results"][0]["stages"]
    assert "included_in" not in stages["h2d"] and stages["h2d"]["max_ms"] > 0
    assert "included_in" not in stages["d2h"]


def test_image_and_mask_at_native_size(fake_onnx, tmp_path):
    image = frames.synthetic_frame(400, 300, seed=3)
    hole = np.zeros((300, 400), np.uint8)
    hole[100:160, 50:350] = 1
    cv2.imwrite(str(tmp_path / "img.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), hole * 255)
    out = tmp_path / "r.json"
    args = ["--model", str(fake_onnx), "--backend", "onnxruntime", "--image", str(tmp_path / "img.png"),
            "--mask", str(tmp_path / "mask.png"), "--runs", "1", "--warmup", "0", "--out", str(out)]
    assert bench.main(args) == 0
    report = json.loads(out.read_text())
    [result] = report["results"]
    assert result["size"] == "400x300"
    assert result["hole_fraction"] == pytest.approx(hole.mean(), abs=1e-5)
    assert report["run"]["image"] == str(tmp_path / "img.png")
    assert bench.main(args) == 2  # --out exists, no --overwrite


def test_bad_options_are_one_line_errors(fake_onnx, tmp_path, capsys):
    out = str(tmp_path / "r.json")
    assert bench.main(["--model", str(fake_onnx), "--image", "x.png", "--out", out]) == 2
    assert "--image and --mask go together" in capsys.readouterr().err
    assert bench.main(["--model", str(fake_onnx), "--sizes", "640x", "--out", out]) == 2
    assert "bad size '640x'" in capsys.readouterr().err
    assert not os.path.exists(out)


def _broken(report, edit):
    r = copy.deepcopy(report)
    edit(r)
    return bench.validate_report(r)


def test_validator_rejects_broken_reports(cpu_report):
    assert bench.validate_report([]) == ["report: not a JSON object"]
    assert any("schema_version" in p for p in _broken(cpu_report, lambda r: r.update(schema_version="0")))
    assert any("machine.cpu_count: missing" in p for p in _broken(cpu_report, lambda r: r["machine"].pop("cpu_count")))
    assert any("run.backend" in p for p in _broken(cpu_report, lambda r: r["run"].update(backend="tensorrt")))
    assert any("report.date" in p for p in _broken(cpu_report, lambda r: r.update(date="yesterday")))
    assert any("stages: missing inference" in p
               for p in _broken(cpu_report, lambda r: r["results"][0]["stages"].pop("inference")))
    assert any("stages: unknown nms" in p
               for p in _broken(cpu_report, lambda r: r["results"][0]["stages"].update(nms={})))
    assert any("min_ms <= median_ms" in p
               for p in _broken(cpu_report, lambda r: r["results"][0]["stages"]["encode"].update(min_ms=1e9)))
    assert any("median_ms: missing or not a number" in p
               for p in _broken(cpu_report, lambda r: r["results"][0]["end_to_end"].update(median_ms="fast")))
    assert any("does not match width x height" in p
               for p in _broken(cpu_report, lambda r: r["results"][0].update(width=641)))
    assert any("hole_fraction" in p for p in _broken(cpu_report, lambda r: r["results"][0].update(hole_fraction=0)))
    assert any("stream.mode" in p
               for p in _broken(cpu_report, lambda r: r["results"][0]["stream"].update(mode="parallel")))
    assert any("a size appears twice" in p
               for p in _broken(cpu_report, lambda r: r["results"].append(copy.deepcopy(r["results"][0]))))
    assert any("results: empty" in p for p in _broken(cpu_report, lambda r: r.update(results=[])))


def test_the_accelerator_is_the_backends_else_the_machines_gpu(monkeypatch):
    monkeypatch.setattr(machine, "nvidia_gpu", lambda: "NVIDIA H100 80GB HBM3")
    assert machine.machine_info(None)["accelerator"] == "NVIDIA H100 80GB HBM3"
    assert machine.machine_info("Ascend310")["accelerator"] == "Ascend310"
    monkeypatch.setattr(machine, "nvidia_gpu", lambda: None)
    assert machine.machine_info(None)["accelerator"] is None


def test_cpu_model_and_cann_version(tmp_path):
    assert machine.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    arm = "processor : 0\nCPU implementer : 0x41\nCPU part : 0xd05\nprocessor : 1\nCPU part : 0xd05\n"
    assert machine.cpu_model(arm) == "ARM Cortex-A55"
    assert machine.cpu_model("processor : 0\n") is None

    assert machine.cann_version(None, str(tmp_path)) is None
    info = tmp_path / "ascend-toolkit" / "latest" / "aarch64-linux" / "ascend_toolkit_install.info"
    info.parent.mkdir(parents=True)
    info.write_text("package_name=Ascend-cann-toolkit\nversion=5.0.4\n")
    assert machine.cann_version(None, str(tmp_path)) == "5.0.4"
    home = tmp_path / "home"
    (home / "x86_64-linux").mkdir(parents=True)
    (home / "x86_64-linux" / "ascend_toolkit_install.info").write_text("version=6.0.1\n")
    assert machine.cann_version(str(home), str(tmp_path)) == "6.0.1"  # $ASCEND_TOOLKIT_HOME first


def test_sizes_and_generated_frame():
    assert frames.parse_sizes("1920x1080, 3840X2160") == [(1920, 1080), (3840, 2160)]
    for bad in ("1920", "16x16", "1920x1080,1920x1080", "axb"):
        with pytest.raises(ValueError):
            frames.parse_sizes(bad)
    frame = frames.synthetic_frame(480, 270, seed=0)
    assert frame.shape == (270, 480, 3) and frame.dtype == np.uint8
    assert frame.std() > 20  # textured, not flat
    assert np.abs(np.diff(frame.astype(np.int16), axis=1)).mean() > 3  # fine detail at full resolution
    hole = frames.obstruction_mask(480, 270)
    assert hole.shape == (270, 480) and set(np.unique(hole)) == {0, 1}
    assert 0.1 <= hole.mean() < 0.2
    n, _ = cv2.connectedComponents(hole)
    assert n - 1 >= 2  # several strokes, not one blob


def test_registers_on_edge_app_style_subparsers(fake_onnx):
    import argparse
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--model", str(fake_onnx), "--sizes", SMALL, "--out", "r.json"])
    assert args.run is bench.run  # edge_app's CLI calls args.run(args)
    assert (args.runs, args.warmup, args.backend, args.sizes) == (5, 1, "auto", SMALL)


def test_sequential_stream_when_opencv_cannot_write_video(fake_onnx, tmp_path, monkeypatch):
    class NoVideo:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

    monkeypatch.setattr(cv2, "VideoWriter", NoVideo)
    out = tmp_path / "r.json"
    assert bench.main(["--model", str(fake_onnx), "--backend", "onnxruntime", "--sizes", "320x240",
                       "--runs", "2", "--warmup", "0", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert bench.validate_report(report) == []
    [result] = report["results"]
    assert result["stream"]["mode"] == "sequential" and "cannot write video" in result["stream"]["note"]
    assert result["stream"]["fps"] == pytest.approx(1000.0 / result["end_to_end"]["median_ms"], rel=1e-3)


def test_committed_reports_are_valid():
    reports = sorted((REPO / "benchmarks").glob("*.json"))
    assert reports, "no report in benchmarks/"
    for path in reports:
        assert bench.validate_report(json.loads(path.read_text())) == [], path


def test_precision_comes_from_the_cli_then_the_model_metadata_then_the_backend():
    class Fake(Backend):
        def __init__(self, default, metadata):
            super().__init__()
            self.default_precision, self.metadata = default, metadata

    assert model_precision(Fake("fp32", {"precision": "fp16"}), None) == ("fp16", "metadata")
    assert model_precision(Fake("fp32", {"precision": "fp16"}), "fp32") == ("fp32", "cli")
    assert model_precision(Fake("fp16", {}), None) == ("fp16", "default")
    assert model_precision(Fake("fp32", {"precision": "int4"}), None) == ("fp32", "default")


AIS_SUMMARY = REPO / "tests" / "fixtures" / "ais_bench" / "format_example_summary.json"  # a format example


def test_ais_bench_figures_go_into_the_report(fake_onnx, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench.main(["--model", str(fake_onnx), "--backend", "onnxruntime", "--sizes", "320x240", "--runs", "1",
                       "--warmup", "0", "--ais-bench", str(AIS_SUMMARY), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert bench.validate_report(report) == []
    model_only = report["model_only"]
    assert model_only["source"] == str(AIS_SUMMARY) and model_only["inference"]["median_ms"] == 12.0
    # The example timed format_example.om, this run fake.onnx: said, not hidden.
    assert "warning: ais_bench timed format_example.om, this bench ran" in capsys.readouterr().err


def test_unreadable_ais_bench_report_stops_before_the_run(fake_onnx, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench.main(["--model", str(fake_onnx), "--ais-bench", str(tmp_path / "none.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ais_bench report not found") and err.count("\n") == 1  # no run logged
    assert not out.exists()


def test_validator_checks_model_only(cpu_report):
    from edge_app.bench.ais_bench import read_ais_bench
    report = dict(cpu_report, model_only=read_ais_bench(str(AIS_SUMMARY)))
    assert bench.validate_report(report) == []
    assert "model_only" not in cpu_report and bench.validate_report(cpu_report) == []  # optional

    def edit(change):
        broken = copy.deepcopy(report)
        change(broken["model_only"])
        return bench.validate_report(broken)

    assert any("model_only.tool" in p for p in edit(lambda m: m.update(tool="msame")))
    assert any("model_only.source_format" in p for p in edit(lambda m: m.update(source_format="csv")))
    assert any("model_only.inference: needs 0 <= min_ms" in p for p in edit(lambda m: m["inference"].update(min_ms=99)))
    assert any("model_only.inference.mean_ms" in p for p in edit(lambda m: m["inference"].pop("mean_ms")))
    assert any("model_only.count: must be >= 1" in p for p in edit(lambda m: m.update(count=0)))
    assert any("model_only.throughput_per_s: must be > 0" in p for p in edit(lambda m: m.update(throughput_per_s=0)))
    assert any("model_only.note: missing" in p for p in edit(lambda m: m.pop("note")))
