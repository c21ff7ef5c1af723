"""edge_app.bench.ais_bench: reading ais_bench's reports (the model alone on the NPU).

The fixtures in tests/fixtures/ais_bench/ are format examples written by hand,
with invented round figures (not measurements), from the format ais_bench
writes according to its own source: repository Ascend/tools, folder
ais-bench_workload/tool/ais_bench/, files ais_bench/infer/summary.py (the
summary JSON `<prefix>_summary.json` and the printed "Performance Summary"
lines), ais_bench/infer/__main__.py (the prefix: `--output` folder +
date-time, or + `--output_dirname`), ais_bench/infer/utils.py (the
`[%(levelname)s] %(message)s` log format) and Readme.md (example outputs).
"""
import ast
import json
import shutil
import statistics
from pathlib import Path

import pytest

from edge_app.bench.ais_bench import AisBenchError, read_ais_bench

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "ais_bench"
SUMMARY_JSON = EXAMPLES / "format_example_summary.json"
PRINTED = EXAMPLES / "format_example_printed.txt"


def test_summary_json():
    raw = json.loads(SUMMARY_JSON.read_text())
    times = raw["npu_compute_time_list"]
    # The example is self-consistent, as ais_bench's own summary of its list would be.
    assert raw["NPU_compute_time"]["count"] == len(times)
    assert raw["NPU_compute_time"]["median"] == statistics.median(times)
    assert raw["NPU_compute_time"]["mean"] == statistics.mean(times)

    figures = read_ais_bench(str(SUMMARY_JSON))
    assert figures["tool"] == "ais_bench" and figures["source_format"] == "summary_json"
    assert figures["source"] == str(SUMMARY_JSON)
    assert figures["inference"] == {"median_ms": statistics.median(times), "min_ms": min(times),
                                    "max_ms": max(times), "mean_ms": statistics.mean(times),
                                    "p99_ms": raw["NPU_compute_time"]["percentile(99%)"]}
    assert figures["count"] == len(times)
    assert figures["h2d"]["median_ms"] == raw["H2D_latency"]["median"]
    assert figures["d2h"] is None  # count 0: not timed
    assert figures["model"] == "format_example.om"
    assert figures["command"].endswith("--model format_example.om --loop 5 --output ais_out "
                                       "--output_dirname format_example")
    assert figures["throughput_per_s"] == pytest.approx(1000.0 / statistics.mean(times))
    assert figures["batch_size"] is None  # the JSON does not state it


def test_printed_summary():
    figures = read_ais_bench(str(PRINTED))
    assert figures["source_format"] == "printed_summary"
    assert figures["inference"] == {"median_ms": 12.0, "min_ms": 10.0, "max_ms": 14.0, "mean_ms": 12.0,
                                    "p99_ms": 13.96}
    assert figures["h2d"]["max_ms"] == 1.4 and figures["d2h"]["median_ms"] == 0.6
    assert figures["model"] == "format_example.om"  # from "load model ... success"
    assert figures["batch_size"] == 1.0 and figures["throughput_per_s"] == pytest.approx(1000.0 / 12.0)
    assert figures["count"] is None and figures["command"] is None


def test_printed_summary_without_copies(tmp_path):
    """Without --display_all_summary ais_bench prints no H2D / D2H lines."""
    text = "".join(line for line in PRINTED.read_text().splitlines(True) if "_latency" not in line)
    path = tmp_path / "ais.log"
    path.write_text(text)
    figures = read_ais_bench(str(path))
    assert figures["h2d"] is None and figures["d2h"] is None
    assert figures["inference"]["median_ms"] == 12.0


def test_percentile_key_with_blanks(tmp_path):
    """A later ais_bench (repository mjlovesz/sync-ait, ait/components/benchmark/ais_bench/infer/summary.py)
    breaks the NPU_compute_time percentile key's string over two lines, so the key holds blanks before ')'."""
    raw = json.loads(SUMMARY_JSON.read_text())
    raw["NPU_compute_time"]["percentile(99%" + " " * 36 + ")"] = raw["NPU_compute_time"].pop("percentile(99%)")
    path = tmp_path / "x_summary.json"
    path.write_text(json.dumps(raw))
    assert read_ais_bench(str(path))["inference"]["p99_ms"] == 13.96


def test_output_folder_with_one_summary(tmp_path):
    shutil.copy(str(SUMMARY_JSON), str(tmp_path / "2024_05_20-10_00_00_summary.json"))
    (tmp_path / "2024_05_20-10_00_00").mkdir()  # the outputs folder beside it
    assert read_ais_bench(str(tmp_path))["source"] == str(tmp_path / "2024_05_20-10_00_00_summary.json")
    shutil.copy(str(SUMMARY_JSON), str(tmp_path / "2024_05_20-11_00_00_summary.json"))
    with pytest.raises(AisBenchError, match="holds 2 \\*_summary.json files, pass one of them"):
        read_ais_bench(str(tmp_path))


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _edited(tmp_path, edit):
    raw = json.loads(SUMMARY_JSON.read_text())
    edit(raw)
    return _write(tmp_path, "edited_summary.json", json.dumps(raw))


@pytest.mark.parametrize("make, message", [
    (lambda t: str(t / "missing.json"), "ais_bench report not found"),
    (lambda t: str(t), "holds 0 *_summary.json files"),
    (lambda t: _write(t, "r.json", json.dumps({"schema_version": "2", "results": []})), "no NPU_compute_time object"),
    (lambda t: _write(t, "log.txt", "[INFO] acl init success\n"), "no 'NPU_compute_time (ms): min = ...' line"),
    (lambda t: _write(t, "two.txt", PRINTED.read_text() * 2), "2 performance summaries"),
    (lambda t: _edited(t, lambda r: r["NPU_compute_time"].update(count=0)), "timed no inference"),
    (lambda t: _edited(t, lambda r: r["NPU_compute_time"].update(min=0, max=0, mean=0, median=0, count=None)),
     "all 0"),
    (lambda t: _edited(t, lambda r: r["NPU_compute_time"].update(min=13.0)), "min <= median <= max"),
    (lambda t: _edited(t, lambda r: r["NPU_compute_time"].update(median="fast")), "'fast' is not a number"),
    (lambda t: _edited(t, lambda r: r["NPU_compute_time"].update(max=float("inf"))), "is not a time >= 0"),
])
def test_bad_reports_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(AisBenchError) as err:
        read_ais_bench(make(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_board_rules():
    """Runs on the board: Python 3.7 syntax, standard library only."""
    source = (Path(__file__).resolve().parent.parent / "edge_app" / "bench" / "ais_bench.py").read_text()
    tree = ast.parse(source, feature_version=(3, 7))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"glob", "json", "math", "os", "re", "typing"}
