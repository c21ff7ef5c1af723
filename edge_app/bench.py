"""``python -m edge_app bench``: per-stage timings of the pipeline on one machine.

For each frame size: a realistic frame (generated texture and an irregular
obstruction mask of about 10 %, or --image/--mask resized), encoded as JPEG
and PNG in memory, then, over --runs timed runs after --warmup untimed ones,
the median / min / max of every stage (decode, preprocess, host_to_device,
inference, device_to_host, cra_compose, blend, encode), the end-to-end time
of a whole frame through the app, and the frames/s of the stream loop. The
report (docs/bench_schema.md, SCHEMA_VERSION) also records the machine: CPU,
accelerator, onnxruntime and CANN versions, backend and precision.

Board rules apply: numpy and OpenCV, onnxruntime or acl imported lazily,
Python 3.7 syntax.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .atomic import atomic_path

SCHEMA_VERSION = "1"
TOOL = "edge_app.bench"
STAGES = ("decode", "preprocess", "host_to_device", "inference", "device_to_host", "cra_compose", "blend", "encode")
DEFAULT_SIZES = "1920x1080,3840x2160,7680x4320"
DESCRIPTION = ("Time every stage of the inpainting pipeline (decode ... encode) at several frame sizes and write a "
               "JSON report (docs/bench_schema.md).")
BACKENDS = ("onnxruntime", "acl")
PRECISIONS = ("fp32", "fp16")
PRECISION_SOURCES = ("cli", "metadata", "default")
STREAM_MODES = ("overlapped", "sequential")
TIMING_KEYS = ("median_ms", "min_ms", "max_ms")
#: Hole fraction of the generated obstruction mask.
TARGET_HOLE_FRACTION = 0.10
ASCEND_HOME = "/usr/local/Ascend"

# ---------------------------------------------------------------- validation


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


def validate_report(report) -> List[str]:
    """Problems of a bench report against docs/bench_schema.md; [] when valid."""
    if not isinstance(report, dict):
        return ["report: not a JSON object"]
    problems = _field_problems("report", report, (
        ("schema_version", (str,), False), ("tool", (str,), False), ("date", (str,), False),
        ("machine", (dict,), False), ("run", (dict,), False), ("results", (list,), False)))
    if problems:
        return problems
    if report["schema_version"] != SCHEMA_VERSION:
        return ["report.schema_version: {!r}, this reader knows {!r}".format(report["schema_version"], SCHEMA_VERSION)]
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
    problems += _choice_problems("run.backend", run.get("backend"), BACKENDS)
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
    return problems

# ------------------------------------------------------------------- machine

#: ARM core types by the "CPU part" of /proc/cpuinfo (implementer 0x41, ARM).
_ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
              "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
              "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77"}


def cpu_model(cpuinfo: str) -> Optional[str]:
    """CPU name from the text of /proc/cpuinfo; ARM boards give only part numbers."""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if match:
        return match.group(1).strip()
    implementer = re.search(r"^CPU implementer\s*:\s*(\S+)", cpuinfo, re.MULTILINE)
    parts = sorted(set(re.findall(r"^CPU part\s*:\s*(\S+)", cpuinfo, re.MULTILINE)))
    if not parts:
        return None
    if implementer and implementer.group(1).lower() == "0x41":
        return "ARM " + " + ".join(_ARM_PARTS.get(p.lower(), "part " + p) for p in parts)
    return "implementer {} part {}".format(implementer.group(1) if implementer else "?", "/".join(parts))


def cann_version(toolkit_home: Optional[str] = None, ascend_home: str = ASCEND_HOME) -> Optional[str]:
    """``version=`` of the CANN toolkit's ascend_toolkit_install.info, or None."""
    patterns = []
    if toolkit_home:
        patterns += [os.path.join(toolkit_home, "ascend_toolkit_install.info"),
                     os.path.join(toolkit_home, "*", "ascend_toolkit_install.info")]
    patterns.append(os.path.join(ascend_home, "ascend-toolkit", "latest", "*", "ascend_toolkit_install.info"))
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            with open(path, errors="replace") as f:
                match = re.search(r"^\s*version\s*=\s*(\S+)", f.read(), re.MULTILINE)
            if match:
                return match.group(1)
    return None


def nvidia_gpu() -> Optional[str]:
    """Name of the first GPU nvidia-smi lists, or None."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return names[0] if names else None


def machine_info(soc_name: Optional[str] = None) -> Dict[str, object]:
    """The ``machine`` object of the report (soc_name: acl.get_soc_name() on the board)."""
    try:
        with open("/proc/cpuinfo", errors="replace") as f:
            cpu = cpu_model(f.read())
    except OSError:
        cpu = None
    try:
        import onnxruntime as ort
        ort_version, providers = ort.__version__, list(ort.get_available_providers())
    except ImportError:
        ort_version, providers = None, []
    return {
        "cpu_model": cpu or platform.processor() or None,
        "cpu_count": os.cpu_count() or 1,
        "accelerator": soc_name or nvidia_gpu(),
        "arch": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "onnxruntime_version": ort_version,
        "onnxruntime_providers": providers,
        "cann_version": cann_version(os.environ.get("ASCEND_TOOLKIT_HOME")),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# --------------------------------------------------------------------- frame


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """``"1920x1080,3840x2160"`` -> [(1920, 1080), (3840, 2160)]."""
    sizes = []
    for item in text.split(","):
        match = re.match(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$", item)
        if not match or int(match.group(1)) < 32 or int(match.group(2)) < 32:
            raise ValueError("bad size {!r}: expected WxH with W, H >= 32 (e.g. 1920x1080)".format(item))
        sizes.append((int(match.group(1)), int(match.group(2))))
    if len(set(sizes)) != len(sizes):
        raise ValueError("a size is given twice in {!r}".format(text))
    return sizes


def synthetic_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 BGR photo-like frame: smooth colour fields, edges and fine grain.

    Built at a quarter of the size and upsampled, then sharp shapes and a
    tiled grain are added at full size, so 8K stays within a few hundred MB.
    """
    rng = np.random.RandomState(seed)
    w4, h4 = max(8, width // 4), max(8, height // 4)
    field = np.zeros((h4, w4, 3), np.float32)
    for cells, weight in ((3, 90.0), (12, 40.0), (48, 20.0), (192, 10.0)):
        coarse = rng.uniform(-1.0, 1.0, (max(2, cells * h4 // w4), cells, 3)).astype(np.float32)
        field += weight * cv2.resize(coarse, (w4, h4), interpolation=cv2.INTER_CUBIC)
    field += 128.0
    frame = cv2.resize(np.clip(field, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    scale = max(1, min(width, height) // 200)
    for _ in range(40):
        color = tuple(int(c) for c in rng.randint(0, 256, 3))
        p1 = (int(rng.randint(0, width)), int(rng.randint(0, height)))
        p2 = (int(rng.randint(0, width)), int(rng.randint(0, height)))
        if rng.rand() < 0.5:
            cv2.rectangle(frame, p1, p2, color, int(rng.randint(1, 3 * scale + 1)))
        else:
            cv2.line(frame, p1, p2, color, int(rng.randint(1, 2 * scale + 1)), cv2.LINE_AA)
    grain = rng.randint(0, 24, (256, 256, 3)).astype(np.uint8)
    reps = (height // 256 + 1, width // 256 + 1, 1)
    cv2.add(frame, np.ascontiguousarray(np.tile(grain, reps)[:height, :width]), dst=frame)
    cv2.subtract(frame, (12, 12, 12, 0), dst=frame)
    return frame


def obstruction_mask(width: int, height: int, fraction: float = TARGET_HOLE_FRACTION, seed: int = 1) -> np.ndarray:
    """uint8 (H, W) hole map (1 = hole): irregular strokes until ``fraction`` is covered."""
    rng = np.random.RandomState(seed)
    hole = np.zeros((height, width), np.uint8)
    side = min(width, height)
    target = fraction * width * height
    for _ in range(1000):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        thickness = int(max(2, rng.uniform(0.01, 0.04) * side))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.randint(4, 10))):
            angle += rng.uniform(-0.8, 0.8)
            step = rng.uniform(0.03, 0.12) * side
            nx = float(np.clip(x + step * np.cos(angle), 0, width - 1))
            ny = float(np.clip(y + step * np.sin(angle), 0, height - 1))
            cv2.line(hole, (int(x), int(y)), (int(nx), int(ny)), 1, thickness)
            x, y = nx, ny
        if np.count_nonzero(hole) >= target:
            break
    return hole


def _stats(seconds: Sequence[float], note: Optional[str] = None) -> Dict[str, object]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    out = {"median_ms": round(float(np.median(ms)), 3), "min_ms": round(float(ms.min()), 3),
           "max_ms": round(float(ms.max()), 3)}
    if note:
        out["note"] = note
    return out


# ---------------------------------------------------------------- the frames


class Frame:
    """One test frame as the pipeline receives it: encoded bytes in memory."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, jpeg_quality: int):
        self.width, self.height = image.shape[1], image.shape[0]
        self.hole_fraction = float(np.count_nonzero(hole)) / hole.size
        ok1, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        ok2, png = cv2.imencode(".png", (hole != 0).astype(np.uint8) * 255)
        if not (ok1 and ok2):
            raise RuntimeError("OpenCV cannot encode the test frame")
        self.jpeg, self.png = jpeg, png

    @property
    def size(self) -> str:
        return "{}x{}".format(self.width, self.height)


def make_frame(size: Optional[Tuple[int, int]], image: Optional[np.ndarray], hole: Optional[np.ndarray],
               jpeg_quality: int) -> Frame:
    """The given image/hole resized to ``size`` (native when None), or a generated frame."""
    if image is None:
        width, height = size
        return Frame(synthetic_frame(width, height), obstruction_mask(width, height), jpeg_quality)
    if size is not None and size != (image.shape[1], image.shape[0]):
        shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST)
    return Frame(image, hole, jpeg_quality)


# ---------------------------------------------------------------- the timing


def _decode(frame: Frame) -> Tuple[np.ndarray, np.ndarray]:
    from .masks import hole_from_file_array
    image = cv2.imdecode(frame.jpeg, cv2.IMREAD_COLOR)
    hole = hole_from_file_array(cv2.imdecode(frame.png, cv2.IMREAD_UNCHANGED), "white-hole")
    return image, hole


def _encode(out: np.ndarray, jpeg_quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("OpenCV cannot encode the result")
    return data


#: The Inpainter's (and its backend's) timing keys -> the report's stages.
RECORDED_STAGES = {"preprocess": "preprocess", "h2d": "host_to_device", "inference": "inference",
                   "d2h": "device_to_host", "cra": "cra_compose", "copy": "cra_compose", "blend": "blend"}


def time_frame(inpainter, frame: Frame) -> Tuple[Dict[str, float], float]:
    """One frame through the app's stages: (seconds per stage, end-to-end seconds).

    The stages are the Inpainter's own (prepare / infer / finish, with the
    per-stage seconds it and its backend record); decode and encode are
    cv2.imdecode / cv2.imencode from and to memory.
    """
    from .masks import check_pair
    t0 = time.perf_counter()
    image, hole = _decode(frame)
    t1 = time.perf_counter()
    check_pair(image, hole)
    prepared = inpainter.prepare(hole)
    t2 = time.perf_counter()
    out = inpainter.finish(image, prepared, inpainter.infer(image, prepared))
    t3 = time.perf_counter()
    _encode(out, inpainter.config.jpeg_quality)
    t4 = time.perf_counter()
    stages = dict.fromkeys(STAGES, 0.0)
    stages["decode"] = t1 - t0
    stages["preprocess"] = t2 - t1
    stages["encode"] = t4 - t3
    for key, seconds in inpainter.timings.items():
        if key not in RECORDED_STAGES:
            raise RuntimeError("the Inpainter records a stage {!r} the bench does not know: "
                               "add it to edge_app.bench.RECORDED_STAGES".format(key))
        stages[RECORDED_STAGES[key]] += seconds
    return stages, t4 - t0


#: What some stages hold, written into their timing's "note".
STAGE_NOTES = {
    "decode": "cv2.imdecode of the JPEG frame and the PNG mask from memory, mask to hole map",
    "preprocess": "mask checks, ROI and 512 mask (Inpainter.prepare), then the 512 image tensor",
    "cra_compose": "CRA plan, upsampling, residual and aggregation, and the output frame copy",
    "encode": "cv2.imencode to JPEG in memory",
}


def _separate_copies(backend) -> Dict[str, bool]:
    """Which copy stages the backend timed apart in its last run."""
    recorded = getattr(backend, "timings", None) or {}
    return {"host_to_device": "h2d" in recorded, "device_to_host": "d2h" in recorded}


def stream_fps(inpainter, frame: Frame, frames: int) -> Optional[Dict[str, object]]:
    """Frames/s of ``edge_app.stream.run_stream`` on ``frames`` copies of the frame.

    The frame goes into a temporary MJPEG video (JPEG in, as for the other
    stages); run_stream reads and infers frame t+1 in its worker thread
    while the calling thread composes, blends and encodes frame t. None when
    this OpenCV cannot write video (built without video I/O).
    """
    import tempfile
    from .stream import run_stream

    image, hole = _decode(frame)
    fourcc = inpainter.config.stream_fourcc
    with tempfile.TemporaryDirectory(prefix="edge_app_bench_") as tmp:
        source = os.path.join(tmp, "in.avi")
        writer = cv2.VideoWriter(source, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (frame.width, frame.height))
        if not writer.isOpened():
            return None
        for _ in range(frames):
            writer.write(image)
        writer.release()
        out = os.path.join(tmp, "out.mp4" if fourcc == "mp4v" else "out.avi")
        report = run_stream(inpainter, source, hole, out, max_frames=frames)
    if report.written != frames:
        raise RuntimeError("stream wrote {} of {} frames ({})".format(report.written, frames, report.summary()))
    return {"mode": "overlapped", "frames": report.written, "fps": round(report.fps, 3),
            "note": "edge_app.stream.run_stream: MJPEG video in, {} video out; its worker thread reads and "
                    "infers frame t+1 while the main thread composes, blends and encodes frame t; "
                    "mask prepared once".format(fourcc)}


# ---------------------------------------------------------------- the report


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_precision(backend, override: Optional[str]) -> Tuple[str, str]:
    """(precision, how it was found): --precision, else the model's
    "precision" metadata, else fp32 for ONNX and fp16 for .om (ATC's default
    force_fp16: an assumption, an .om does not say)."""
    if override:
        return override, "cli"
    metadata = getattr(backend, "metadata", None) or {}
    if metadata.get("precision") in PRECISIONS:
        return metadata["precision"], "metadata"
    if backend.name == "acl":
        return "fp16", "default"
    return "fp32", "default"


def soc_name(backend) -> Optional[str]:
    """acl.get_soc_name() when the acl backend is open (acl initialised), else None."""
    if backend.name != "acl":
        return None
    from .backends.acllite import import_acl
    acl = import_acl()
    name = acl.get_soc_name()
    if name and hasattr(acl, "standin"):  # tests/acl_standin: say so, never pass it off as an NPU
        return "{} (acl stand-in, no NPU)".format(name)
    return name or None


def bench_size(inpainter, frame: Frame, runs: int, warmup: int, stream_frames: int) -> Dict[str, object]:
    """The ``results[i]`` object of one frame size."""
    for _ in range(warmup):
        time_frame(inpainter, frame)
    per_stage = {s: [] for s in STAGES}  # type: Dict[str, List[float]]
    totals = []
    for _ in range(runs):
        stages, total = time_frame(inpainter, frame)
        for s in STAGES:
            per_stage[s].append(stages[s])
        totals.append(total)
    stats = {s: _stats(per_stage[s], STAGE_NOTES.get(s)) for s in STAGES}
    end_to_end = _stats(totals, "JPEG + PNG bytes in memory -> JPEG bytes, through edge_app.Inpainter")
    for stage, separate in _separate_copies(inpainter.backend).items():
        if not separate:
            stats[stage]["included_in"] = "inference"
            stats[stage]["note"] = "the {} backend does not time this copy apart".format(inpainter.backend.name)
    return {
        "size": frame.size, "width": frame.width, "height": frame.height,
        "hole_fraction": round(frame.hole_fraction, 5),
        "stages": stats,
        "end_to_end": end_to_end,
        "stream": stream_fps(inpainter, frame, stream_frames) or {
            "mode": "sequential", "frames": runs, "fps": round(1000.0 / end_to_end["median_ms"], 3),
            "note": "OpenCV here cannot write video, so edge_app.stream was not run: 1 / the end-to-end median"},
    }


def run_bench(options: argparse.Namespace, log: Callable[[str], None] = print) -> Dict[str, object]:
    """Run the whole bench described by parsed CLI options; return the report."""
    from . import fileio, masks
    from .pipeline import Inpainter

    image = hole = None
    if options.image:
        image = fileio.read_image(options.image)
        hole = masks.read_hole(options.mask, options.mask_convention)
        masks.check_pair(image, hole, options.mask_convention, mask_path=options.mask)
    if options.sizes:
        sizes = parse_sizes(options.sizes)  # type: List[Optional[Tuple[int, int]]]
    else:
        sizes = [None] if image is not None else parse_sizes(DEFAULT_SIZES)

    with Inpainter(model=options.model, backend=options.backend) as inpainter:
        backend = inpainter.backend
        precision, precision_source = model_precision(backend, options.precision)
        providers = getattr(backend, "providers", None)
        report = {
            "schema_version": SCHEMA_VERSION, "tool": TOOL, "date": _utc_now(),
            "machine": machine_info(soc_name(backend)),
            "run": {"backend": backend.name, "provider": providers[0] if providers else None,
                    "model": backend.model_path, "precision": precision, "precision_source": precision_source,
                    "runs": options.runs, "warmup": options.warmup, "image": options.image, "mask": options.mask,
                    "stage_source": "edge_app.Inpainter prepare / infer / finish and its per-stage timings; "
                                    "cv2.imdecode / cv2.imencode in memory"},
            "results": [],
        }
        for size in sizes:
            frame = make_frame(size, image, hole, inpainter.config.jpeg_quality)
            log("bench {} ({} backend, {} runs after {} warm-up) ...".format(
                frame.size, backend.name, options.runs, options.warmup))
            result = bench_size(inpainter, frame, options.runs, options.warmup,
                                options.stream_frames or options.runs)
            report["results"].append(result)
            log("  " + summary_line(result))
    problems = validate_report(report)
    if problems:  # a bug here, not bad input
        raise RuntimeError("the report does not follow its schema: " + "; ".join(problems))
    return report


def summary_line(result: Dict[str, object]) -> str:
    """``decode 12.1 | preprocess 3.0 | ... | end to end 250.3 ms | stream 4.1 frames/s``."""
    stages = result["stages"]
    parts = ["{} {}".format(s, "in " + stages[s]["included_in"] if "included_in" in stages[s]
                            else "{:.1f}".format(stages[s]["median_ms"])) for s in STAGES]
    return "{} | end to end {:.1f} ms (medians) | stream {:.2f} frames/s ({})".format(
        " | ".join(parts), result["end_to_end"]["median_ms"], result["stream"]["fps"], result["stream"]["mode"])


# ---------------------------------------------------------------------- CLI


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from .config import BACKENDS, MASK_CONVENTIONS
    p.add_argument("--model", help="model file (default: the bundled model of the backend)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto (acl when pyACL is importable), onnxruntime (CUDA when available) or acl")
    p.add_argument("--sizes", help="comma-separated WxH frame sizes (default {}; with --image: its own size)".format(
        DEFAULT_SIZES))
    p.add_argument("--runs", type=int, default=5, help="timed runs per size (default %(default)s)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default %(default)s)")
    p.add_argument("--stream-frames", type=int, default=0,
                   help="frames of the stream measurement (default: --runs)")
    p.add_argument("--image", help="photo to use instead of a generated frame (needs --mask)")
    p.add_argument("--mask", help="its mask file")
    p.add_argument("--mask-convention", choices=MASK_CONVENTIONS, default="white-hole",
                   help="how --mask is read (default %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="record this precision instead of reading it from the model")
    p.add_argument("--out", required=True, help="JSON report to write (docs/bench_schema.md)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` on edge_app's CLI subparsers (sets ``run``, as its other commands do)."""
    p = subparsers.add_parser("bench", help="time every pipeline stage at several frame sizes (JSON report)",
                              description=DESCRIPTION)
    _add_arguments(p)
    p.set_defaults(run=run)
    return p


def _check_options(options: argparse.Namespace) -> None:
    if options.runs < 1 or options.warmup < 0 or options.stream_frames < 0:
        raise ValueError("--runs must be >= 1, --warmup and --stream-frames >= 0")
    if bool(options.image) != bool(options.mask):
        raise ValueError("--image and --mask go together")
    if options.sizes:
        parse_sizes(options.sizes)
    if os.path.exists(options.out) and not options.overwrite:
        raise ValueError("{} exists: pass --overwrite to replace it".format(options.out))
    parent = os.path.dirname(os.path.abspath(options.out))
    if not os.path.isdir(parent):
        raise ValueError("output folder does not exist: {}".format(parent))


def run(options: argparse.Namespace) -> int:
    """Run the bench from parsed arguments; 0 on success, 2 on bad input."""
    from .errors import InpaintError
    try:
        _check_options(options)
        report = run_bench(options, log=lambda line: print(line, file=sys.stderr))
    except (ValueError, InpaintError) as exc:
        print("error: {}".format(exc), file=sys.stderr)
        return 2
    with atomic_path(options.out) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    print("wrote {}".format(options.out))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_app.bench", description=DESCRIPTION)
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
