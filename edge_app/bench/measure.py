"""The bench's measurements at one frame size: every stage of the app's
pipeline over timed runs, the end-to-end time and the stream's frames/s."""
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..masks import check_pair
from ..stream import run_stream
from ..timings import COPIES, STAGES, Timings, in_order
from .frames import Frame

#: What some stages hold, written into their timing's "note".
STAGE_NOTES = {
    "decode": "cv2.imdecode of the JPEG frame and the PNG mask from memory, mask to hole map",
    "preprocess": "mask checks, ROI and 512 masks (Inpainter.for_mask), then the 512 image tensor",
    "cra": "CRA plan, upsampling, residual and aggregation, and the output frame copy",
    "encode": "cv2.imencode to JPEG in memory",
}


def _encode(out: np.ndarray, jpeg_quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("OpenCV cannot encode the result")
    return data


def time_frame(inpainter, frame: Frame) -> Tuple[Timings, float]:
    """One frame through the app's stages: (seconds per stage, end-to-end seconds).

    The stages are the Inpainter's own (the mask's MaskFrames, then its
    inpaint of the frame, with the per-stage seconds it and its backend
    record); decode and encode are cv2.imdecode / cv2.imencode from and to
    memory.
    """
    t0 = time.perf_counter()
    image, hole = frame.decode()
    t1 = time.perf_counter()
    check_pair(image, hole, inpainter.config)
    frames = inpainter.for_mask(hole)
    t2 = time.perf_counter()
    out = frames.inpaint(image)
    t3 = time.perf_counter()
    _encode(out, inpainter.config.jpeg_quality)
    t4 = time.perf_counter()
    stages = dict.fromkeys(STAGES, 0.0)
    stages["decode"] = t1 - t0
    stages["preprocess"] = t2 - t1
    stages["encode"] = t4 - t3
    for stage, seconds in in_order(inpainter.timings):
        stages[stage] += seconds
    return stages, t4 - t0


def stream_fps(inpainter, frame: Frame, frames: int) -> Optional[Dict[str, object]]:
    """Frames/s of ``edge_app.stream.run_stream`` on ``frames`` copies of the frame.

    The frame goes into a temporary MJPEG video (JPEG in, as for the other
    stages); run_stream reads and infers frame t+1 in its worker thread
    while the calling thread composes, blends and encodes frame t. None when
    this OpenCV cannot write video (built without video I/O).
    """
    image, hole = frame.decode()
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
    how = ("the network's outputs reused (edge_app.reuse; --every-frame runs it on each)"
           if inpainter.config.reuse_network else "--every-frame: the network on each frame")
    return {"mode": "overlapped", "frames": report.written, "fps": round(report.fps, 3),
            "note": "edge_app.stream.run_stream: MJPEG video in, {} video out; its worker thread reads and "
                    "infers frame t+1 while the main thread composes, blends and encodes frame t; "
                    "mask prepared once; {}: the network ran {} times for these {} copies of one frame".format(
                        fourcc, how, report.network_runs, report.written)}


def _stats(seconds: Sequence[float], note: Optional[str] = None) -> Dict[str, object]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    out = {"median_ms": round(float(np.median(ms)), 3), "min_ms": round(float(ms.min()), 3),
           "max_ms": round(float(ms.max()), 3)}
    if note:
        out["note"] = note
    return out


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
    backend = inpainter.backend
    for stage in COPIES:
        if stage not in backend.timings:  # not timed apart in the backend's last run
            stats[stage]["included_in"] = "inference"
            stats[stage]["note"] = "the {} backend does not time this copy apart".format(backend.name)
    return {
        "size": frame.size, "width": frame.width, "height": frame.height,
        "hole_fraction": round(frame.hole_fraction, 5),
        "stages": stats,
        "end_to_end": end_to_end,
        "stream": stream_fps(inpainter, frame, stream_frames) or {
            "mode": "sequential", "frames": runs, "fps": round(1000.0 / end_to_end["median_ms"], 3),
            "note": "OpenCV here cannot write video, so edge_app.stream was not run: 1 / the end-to-end median"},
    }
