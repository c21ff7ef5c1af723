"""scripts/compare_timings.py: validation, the markdown table with ratios, the PNG,
and the model-only figure of an ais_bench report beside the app's."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge_app.bench import SCHEMA_VERSION, validate_report
from edge_app.bench.ais_bench import read_ais_bench
from edge_app.bench.schema import V1_STAGE_NAMES
from edge_app.timings import STAGES

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "compare_timings.py"
pytestmark = pytest.mark.slow  # every test starts the script


def _timing(ms):
    return {"median_ms": ms, "min_ms": ms * 0.9, "max_ms": ms * 1.2}


def _report(scale, sizes, cpu, accelerator=None, provider="CPUExecutionProvider"):
    """A valid report whose stage k at size index i has a median of scale * (k + 1) * (i + 1) ms."""
    results = []
    for i, (w, h) in enumerate(sizes):
        stages = {s: _timing(scale * (k + 1) * (i + 1)) for k, s in enumerate(STAGES)}
        results.append({"size": "{}x{}".format(w, h), "width": w, "height": h, "hole_fraction": 0.1,
                        "stages": stages, "end_to_end": _timing(scale * 50.0 * (i + 1)),
                        "stream": {"mode": "sequential", "frames": 3, "fps": 10.0 / scale, "note": "test"}})
    return {
        "schema_version": SCHEMA_VERSION, "tool": "edge_app.bench", "date": "2025-01-31T12:00:00Z",
        "machine": {"cpu_model": cpu, "cpu_count": 4, "accelerator": accelerator, "arch": "x86_64",
                    "os": "Linux", "python": "3.11.7", "numpy": "2", "opencv": "5",
                    "onnxruntime_version": "1.32.0", "onnxruntime_providers": ["CPUExecutionProvider"],
                    "cann_version": None, "load_average": None},
        "run": {"backend": "onnxruntime", "provider": provider, "model": "m.onnx", "precision": "fp32",
                "precision_source": "default", "runs": 3, "warmup": 1, "image": None, "mask": None,
                "stage_source": "test"},
        "results": results,
    }


@pytest.fixture
def two_reports(tmp_path):
    a = _report(1.0, [(640, 360), (1280, 720)], "CPU A")
    b = _report(2.0, [(640, 360)], "CPU B", accelerator="GPU B", provider="CUDAExecutionProvider")
    assert validate_report(a) == [] and validate_report(b) == []
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    return pa, pb


def _compare(*args):
    return subprocess.run([sys.executable, str(SCRIPT)] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def _table_rows(text, size):
    """Rows of the table under '### size' as lists of cells."""
    block = text.split("### " + size, 1)[1].split("###", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in block.splitlines() if line.startswith("| ") and "---" not in line]


def test_table_with_ratios_and_plot(two_reports, tmp_path):
    pa, pb = two_reports
    png, md = tmp_path / "timings.png", tmp_path / "table.md"
    proc = _compare(pa, pb, "--plot", png, "--out", md)
    assert proc.returncode == 0, proc.stderr
    assert md.read_text() in proc.stdout

    rows = _table_rows(proc.stdout, "640x360")
    header, body = rows[0], {r[0]: r for r in rows[1:]}
    assert header[0] == "stage" and header[1].startswith("a (CPU A, CPU") and header[2].startswith("b (GPU B, CUDA")
    assert header[3] == "ratio"
    assert list(body) == ["decode", "preprocess", "h2d", "inference", "model only (ais_bench)", "d2h", "cra", "blend",
                          "encode", "end to end", "stream frames/s"]
    assert body["model only (ais_bench)"][1:] == ["-", "-", "-"]  # neither report has one
    for k, stage in enumerate(STAGES):
        a_ms, b_ms = float(body[stage][1]), float(body[stage][2])
        assert a_ms == pytest.approx(k + 1, rel=1e-3) and b_ms == pytest.approx(2 * (k + 1), rel=1e-3)
        assert body[stage][3] == "2.00x"
    assert body["stream frames/s"][3] == "0.50x"

    # A size only the first file has: the others show "-".
    rows720 = {r[0]: r for r in _table_rows(proc.stdout, "1280x720")[1:]}
    assert float(rows720["decode"][1]) == pytest.approx(2.0) and rows720["decode"][2:] == ["-", "-"]

    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 200
    assert image.std() > 10  # bars drawn, not a blank canvas


def test_rejects_an_invalid_report(two_reports, tmp_path):
    pa, _ = two_reports
    broken = json.loads(pa.read_text())
    del broken["results"][0]["stages"]["inference"]
    broken["results"][0]["stages"]["decode"]["min_ms"] = 99.0  # above its median
    pc = tmp_path / "broken.json"
    pc.write_text(json.dumps(broken))
    proc = _compare(pa, pc)
    assert proc.returncode == 2
    assert "broken.json: not a valid bench report" in proc.stderr
    assert "stages: missing inference" in proc.stderr
    assert "min_ms <= median_ms" in proc.stderr
    assert proc.stdout == ""


def test_reads_reports_of_schema_version_1(two_reports, tmp_path):
    """Version 1 named three stages otherwise: its files compare with new ones."""
    pa, pb = two_reports
    old = json.loads(pb.read_text())
    new_to_old = {new: old_name for old_name, new in V1_STAGE_NAMES.items()}
    old["schema_version"] = "1"
    for result in old["results"]:
        result["stages"] = {new_to_old.get(s, s): t for s, t in result["stages"].items()}
        result["stages"]["device_to_host"].update(median_ms=0, min_ms=0, max_ms=0, included_in="inference")
    assert "cra_compose" in old["results"][0]["stages"] and validate_report(old) == []
    pc = tmp_path / "old.json"
    pc.write_text(json.dumps(old))
    proc = _compare(pa, pc)
    assert proc.returncode == 0, proc.stderr
    body = {r[0]: r for r in _table_rows(proc.stdout, "640x360")[1:]}
    assert [name for name in body if name in STAGES] == list(STAGES)
    k = STAGES.index("cra")
    assert float(body["cra"][2]) == pytest.approx(2 * (k + 1), rel=1e-3)
    assert body["d2h"][2] == "in inference"


# A format example written by hand from ais_bench's own format (repository Ascend/tools,
# ais-bench_workload/tool/ais_bench/ais_bench/infer/summary.py); its figures are invented, not measured.
AIS_SUMMARY = REPO / "tests" / "fixtures" / "ais_bench" / "format_example_summary.json"


@pytest.fixture
def board_with_ais_bench(two_reports, tmp_path):
    """Report b with the model-only figures of the ais_bench example, as `bench --ais-bench` embeds them."""
    _, pb = two_reports
    report = json.loads(pb.read_text())
    report["model_only"] = read_ais_bench(str(AIS_SUMMARY))
    assert validate_report(report) == []
    path = tmp_path / "board.json"
    path.write_text(json.dumps(report))
    return path, report["model_only"]["inference"]["median_ms"]


def test_model_only_row_beside_the_app(two_reports, board_with_ais_bench, tmp_path):
    pa, _ = two_reports
    pc, model_ms = board_with_ais_bench
    png = tmp_path / "timings.png"
    proc = _compare(pa, pc, "--plot", png)
    assert proc.returncode == 0, proc.stderr
    body = {r[0]: r for r in _table_rows(proc.stdout, "640x360")[1:]}
    row = body["model only (ais_bench)"]
    assert row[1] == "-" and float(row[2]) == pytest.approx(model_ms) and row[3] == "-"  # no ratio without a base
    # The whole app's figures of the same file stay in the table beside it.
    assert float(body["inference"][2]) == pytest.approx(2 * (STAGES.index("inference") + 1))
    assert float(body["end to end"][2]) == pytest.approx(100.0)
    assert "model only (ais_bench): ais_bench's NPU_compute_time of the model alone, median of 5 runs; " \
           "model format_example.om; " + str(AIS_SUMMARY) in proc.stdout
    image = cv2.imread(str(png))
    assert image is not None and image.std() > 10

    # Against itself the model-only row has a ratio too.
    proc = _compare(pc, pc)
    body = {r[0]: r for r in _table_rows(proc.stdout, "640x360")[1:]}
    assert body["model only (ais_bench)"][3] == "1.00x"


def test_model_only_bar_beside_the_stacked_bar(two_reports, board_with_ais_bench):
    spec = importlib.util.spec_from_file_location("compare_timings", str(SCRIPT))
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    pa, _ = two_reports
    pc, model_ms = board_with_ais_bench
    paths = [str(pa), str(pc)]
    reports = [compare.load_report(p) for p in paths]
    bars = compare.bars_for(paths, reports, "640x360")
    assert [name for name, _ in bars] == ["a", "board", "board\nmodel only"]
    assert bars[2][1] == {"model only (ais_bench)": model_ms}
    assert set(bars[1][1]) == set(STAGES)
    # At a size the board report lacks, no bar of the model alone either (as in the table).
    assert [name for name, _ in compare.bars_for(paths, reports, "1280x720")] == ["a", "board"]
