"""The bench report's schema (docs/bench_schema.md): its version, the
validator, and the reading of reports of an older version."""
import copy
import datetime
from typing import List, Sequence, Tuple

from ..backends import backend_names
from ..backends.base import PRECISIONS
from ..timings import STAGES
from . import ais_bench

SCHEMA_VERSION = "2"
TOOL = "edge_app.bench"
PRECISION_SOURCES = ("cli", "metadata", "default")
STREAM_MODES = ("overlapped", "sequential")
TIMING_KEYS = ("median_ms", "min_ms", "max_ms")
#: Stage names of version 1 that version 2 renamed to edge_app.timings.STAGES.
V1_STAGE_NAMES = {"host_to_device": "h2d", "device_to_host": "d2h", "cra_compose": "cra"}
#: The versions this reader reads (the older ones through upgrade_report).
READABLE_VERSIONS = ("1", SCHEMA_VERSION)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


def _timing_problems(where: str, t) -> List[str]:
    if not isinstance(t, dict):
        return ["{}: not an object".format(where)]
    problems = ["{}.{}: missing or not a number".format(where, k) for k in TIMING_KEYS if not _is_number(t.get(k))]
    if problems:
        return problems
    if not 0 <= t["min_ms"] <= t["median_ms"] <= t["max_ms"]:
        problems.append("{}: needs 0 <= min_ms <= median_ms <= max_ms, got {} / {} / {}".format(
            where, t["min_ms"], t["median_ms"], t["max_ms"]))
    if "note" in t and not isinstance(t["note"], str):
        problems.append("{}.note: not a string".format(where))
    if "included_in" in t:
        if t["included_in"] not in STAGES:
            problems.append("{}.included_in: {!r} is not a stage".format(where, t["included_in"]))
        elif t["max_ms"] != 0:
            problems.append("{}: included_in another stage, so its times must be 0".format(where))
    return problems


def _field_problems(where: str, obj: dict, spec: Sequence[Tuple[str, tuple, bool]]) -> List[str]:
    """Check (name, accepted types, nullable) of an object's fields."""
    problems = []
    for name, types, nullable in spec:
        if name not in obj:
            problems.append("{}.{}: missing".format(where, name))
        elif obj[name] is None:
            if not nullable:
                problems.append("{}.{}: null".format(where, name))
        elif not isinstance(obj[name], types) or isinstance(obj[name], bool) and bool not in types:
            problems.append("{}.{}: expected {}, got {}".format(
                where, name, "/".join(t.__name__ for t in types), type(obj[name]).__name__))
    return problems


_MACHINE_FIELDS = (("cpu_model", (str,), True), ("cpu_count", (int,), False), ("accelerator", (str,), True),
                   ("arch", (str,), False), ("os", (str,), False), ("python", (str,), False),
                   ("numpy", (str,), False), ("opencv", (str,), False),
                   ("onnxruntime_version", (str,), True), ("onnxruntime_providers", (list,), False),
                   ("cann_version", (str,), True), ("load_average", (list,), True))
_RUN_FIELDS = (("backend", (str,), False), ("provider", (str,), True), ("model", (str,), False),
               ("precision", (str,), False), ("precision_source", (str,), False), ("runs", (int,), False),
               ("warmup", (int,), False), ("image", (str,), True), ("mask", (str,), True),
               ("stage_source", (str,), False))
_RESULT_FIELDS = (("size", (str,), False), ("width", (int,), False), ("height", (int,), False),
                  ("hole_fraction", (float, int), False), ("stages", (dict,), False),
                  ("end_to_end", (dict,), False), ("stream", (dict,), False))
_STREAM_FIELDS = (("mode", (str,), False), ("frames", (int,), False), ("fps", (float, int), False),
                  ("note", (str,), False))


_MODEL_ONLY_FIELDS = (("tool", (str,), False), ("source", (str,), False), ("source_format", (str,), False),
                      ("model", (str,), True), ("command", (str,), True), ("inference", (dict,), False),
                      ("h2d", (dict,), True), ("d2h", (dict,), True), ("count", (int,), True),
                      ("batch_size", (float, int), True), ("throughput_per_s", (float, int), True),
                      ("note", (str,), False))


def _model_only_problems(model_only) -> List[str]:
    """Problems of the optional ``model_only`` object (an ais_bench report's figures)."""
    if not isinstance(model_only, dict):
        return ["model_only: not an object"]
    problems = _field_problems("model_only", model_only, _MODEL_ONLY_FIELDS)
    if problems:
        return problems
    if model_only["tool"] != ais_bench.TOOL:
        problems.append("model_only.tool: {!r}, expected {!r}".format(model_only["tool"], ais_bench.TOOL))
    problems += _choice_problems("model_only.source_format", model_only["source_format"], ais_bench.SOURCE_FORMATS)
    for stage in ("inference", "h2d", "d2h"):
        timing = model_only[stage]
        if timing is not None:
            problems += _timing_problems("model_only." + stage, timing)
            if not _is_number(timing.get("mean_ms")):
                problems.append("model_only.{}.mean_ms: missing or not a number".format(stage))
            if "p99_ms" in timing and not _is_number(timing["p99_ms"]):
                problems.append("model_only.{}.p99_ms: not a number".format(stage))
    if isinstance(model_only["count"], int) and model_only["count"] < 1:
        problems.append("model_only.count: must be >= 1")
    for key in ("batch_size", "throughput_per_s"):
        if _is_number(model_only[key]) and not model_only[key] > 0:
            problems.append("model_only.{}: must be > 0".format(key))
    return problems


def _choice_problems(where: str, value, choices: Sequence[str]) -> List[str]:
    if isinstance(value, str) and value not in choices:
        return ["{}: {!r} is not one of {}".format(where, value, ", ".join(choices))]
    return []


def _result_problems(where: str, result) -> List[str]:
    if not isinstance(result, dict):
        return ["{}: not an object".format(where)]
    problems = _field_problems(where, result, _RESULT_FIELDS)
    if problems:
        return problems
    if result["size"] != "{}x{}".format(result["width"], result["height"]):
        problems.append("{}.size: {!r} does not match width x height {}x{}".format(
            where, result["size"], result["width"], result["height"]))
    if result["width"] < 1 or result["height"] < 1:
        problems.append("{}: width and height must be positive".format(where))
    if not 0 < result["hole_fraction"] < 1:
        problems.append("{}.hole_fraction: {} not in (0, 1)".format(where, result["hole_fraction"]))
    stages = result["stages"]
    missing = [s for s in STAGES if s not in stages]
    extra = sorted(set(stages) - set(STAGES))
    if missing:
        problems.append("{}.stages: missing {}".format(where, ", ".join(missing)))
    if extra:
        problems.append("{}.stages: unknown {}".format(where, ", ".join(extra)))
    for s in STAGES:
        if s in stages:
            problems += _timing_problems("{}.stages.{}".format(where, s), stages[s])
    problems += _timing_problems(where + ".end_to_end", result["end_to_end"])
    stream = result["stream"]
    sp = _field_problems(where + ".stream", stream, _STREAM_FIELDS)
    if not sp:
        sp += _choice_problems(where + ".stream.mode", stream["mode"], STREAM_MODES)
        if stream["frames"] < 1 or not stream["fps"] > 0:
            sp.append("{}.stream: frames must be >= 1 and fps > 0".format(where))
    return problems + sp



def upgrade_report(report):
    """A version-1 report in the current version's terms (a copy with its
    stages renamed, V1_STAGE_NAMES); any other object as it is."""
    if not isinstance(report, dict) or report.get("schema_version") != "1":
        return report
    report = copy.deepcopy(report)
    report["schema_version"] = SCHEMA_VERSION
    results = report.get("results")
    for result in results if isinstance(results, list) else []:
        stages = result.get("stages") if isinstance(result, dict) else None
        if not isinstance(stages, dict):
            continue
        result["stages"] = {V1_STAGE_NAMES.get(name, name): timing for name, timing in stages.items()}
        for timing in result["stages"].values():
            if isinstance(timing, dict) and timing.get("included_in") in V1_STAGE_NAMES:
                timing["included_in"] = V1_STAGE_NAMES[timing["included_in"]]
    return report


def validate_report(report) -> List[str]:
    """Problems of a bench report (any readable version) against
    docs/bench_schema.md, in the current version's terms; [] when valid."""
    if not isinstance(report, dict):
        return ["report: not a JSON object"]
    problems = _field_problems("report", report, (
        ("schema_version", (str,), False), ("tool", (str,), False), ("date", (str,), False),
        ("machine", (dict,), False), ("run", (dict,), False), ("results", (list,), False)))
    if problems:
        return problems
    if report["schema_version"] not in READABLE_VERSIONS:
        return ["report.schema_version: {!r}, this reader knows {}".format(
            report["schema_version"], ", ".join(repr(v) for v in READABLE_VERSIONS))]
    report = upgrade_report(report)
    if report["tool"] != TOOL:
        problems.append("report.tool: {!r}, expected {!r}".format(report["tool"], TOOL))
    try:
        datetime.datetime.strptime(report["date"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        problems.append("report.date: {!r} is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ)".format(report["date"]))
    machine, run = report["machine"], report["run"]
    problems += _field_problems("machine", machine, _MACHINE_FIELDS)
    if isinstance(machine.get("cpu_count"), int) and machine["cpu_count"] < 1:
        problems.append("machine.cpu_count: must be >= 1")
    if isinstance(machine.get("onnxruntime_providers"), list) and not all(
            isinstance(p, str) for p in machine["onnxruntime_providers"]):
        problems.append("machine.onnxruntime_providers: not a list of strings")
    problems += _field_problems("run", run, _RUN_FIELDS)
    problems += _choice_problems("run.backend", run.get("backend"), backend_names())
    problems += _choice_problems("run.precision", run.get("precision"), PRECISIONS)
    problems += _choice_problems("run.precision_source", run.get("precision_source"), PRECISION_SOURCES)
    if isinstance(run.get("runs"), int) and run["runs"] < 1:
        problems.append("run.runs: must be >= 1")
    if isinstance(run.get("warmup"), int) and run["warmup"] < 0:
        problems.append("run.warmup: must be >= 0")
    if not report["results"]:
        problems.append("report.results: empty")
    sizes = [r.get("size") for r in report["results"] if isinstance(r, dict)]
    if len(set(sizes)) != len(sizes):
        problems.append("report.results: a size appears twice")
    for i, result in enumerate(report["results"]):
        problems += _result_problems("results[{}]".format(i), result)
    if "model_only" in report:
        problems += _model_only_problems(report["model_only"])
    return problems
